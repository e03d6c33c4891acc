"""The rules of :mod:`clvmodels.data.parsing` as Spark columns: a log's days and amounts.

What :func:`clvmodels.data.transactions.transactions_view` writes in DuckDB SQL, written
with Spark functions so that the Spark engine reads every value as DuckDB does.  None
of it depends on the session's time zone: instants are turned into days with
``from_utc_timestamp`` and ``unix_micros``, naive values with ``to_date`` of a
``timestamp_ntz``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clvmodels.data.parsing import (
    DECIMAL_COMMA,
    ZONE_GAP,
    ZONE_NAME_TEXT,
    ZONED_TEXT,
    DateFormat,
    ValueFormats,
)

_MICROS_PER_DAY = 86_400_000_000
_TEXT = "__clv_date_text"
# a time of day without seconds before an offset, which Spark's cast does not read
_NO_SECONDS = r"([T ][0-9]{1,2}:[0-9]{2})(Z|[+-][0-9]{2}(?::?[0-9]{2})?)$"


def zone_day(instant: Column, timezone: str) -> Column:
    """The date in ``timezone`` of a ``timestamp`` (an instant) column."""
    local = F.unix_micros(F.from_utc_timestamp(instant, timezone))
    return F.date_from_unix_date(F.floor(local / _MICROS_PER_DAY).cast("int"))


def day_column(
    frame: DataFrame, column: str, d_type: str, formats: ValueFormats
) -> tuple[DataFrame, Column] | None:
    """The day of the date column ``column`` (quoted; Spark type ``d_type``) and the frame
    to select it from; None for a type that holds no dates."""
    raw = F.col(column)
    if d_type == "date":
        return frame, raw
    if d_type == "timestamp":
        return frame, zone_day(raw, formats.timezone)
    if d_type == "timestamp_ntz":
        return frame, F.to_date(raw)
    if d_type != "string":
        return None
    text = F.trim(raw)
    if formats.dates is not None:
        text = _iso_text(text, formats.dates)
    # ISO date[ time], yyyy/mm/dd too, as DuckDB's TRY_CAST(... AS TIMESTAMP) reads it
    text = F.regexp_replace(text, r"^([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})", "$1-$2-$3")
    frame = frame.withColumn(_TEXT, text)
    t = F.col(_TEXT)
    iso = t.rlike("^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T].*)?$")
    local = F.to_date(F.expr(f"try_cast(`{_TEXT}` AS timestamp_ntz)"))
    zoned = F.regexp_replace(F.regexp_replace(t, ZONE_GAP, "$1"), _NO_SECONDS, "$1:00$2")
    frame = frame.withColumn(_TEXT + "_zoned", zoned)
    instant = zone_day(F.expr(f"try_cast(`{_TEXT}_zoned` AS timestamp)"), formats.timezone)
    day = (
        F.when(~iso, None)
        .when(t.rlike(ZONED_TEXT), instant)
        .when(t.rlike(ZONE_NAME_TEXT), None)
        .otherwise(local)
    )
    return frame, day


def _iso_text(text: Column, fmt: DateFormat) -> Column:
    """The ISO text of ``text`` read with ``fmt`` (NULL when it does not match)."""
    parts = []
    for piece in fmt.iso:
        if isinstance(piece, str):
            parts.append(F.lit(piece))
            continue
        group, width = piece
        found = F.regexp_extract(text, fmt.pattern, group)
        parts.append(F.lpad(found, width, "0") if width else found)
    return F.when(text.rlike(fmt.pattern), F.concat(*parts))


def amount_column(column: str, decimal: str) -> Column:
    """The amount of the text column ``column`` (quoted); NULL when it is no number."""
    if decimal == ".":
        return F.expr(f"try_cast(trim({column}) AS double)")
    # 1.234,50 -> 1234.50: the comma becomes the point, thousands points go
    point = F.expr(f"try_cast(translate(trim({column}), ',.', '.') AS double)")
    return F.when(F.trim(F.col(column)).rlike(DECIMAL_COMMA), point)
