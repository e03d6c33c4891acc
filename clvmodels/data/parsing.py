"""How the values of a transaction log are read: days and time zones, amounts, the CSV
delimiter.

One set of rules, written once here as patterns and options, that every engine applies
in its own language (DuckDB SQL and pandas in :mod:`clvmodels.data.transactions`, Spark
in :mod:`clvmodels.spark.parsing`), so that they read every value alike.

Days
    The day of a transaction is a calendar date in ``timezone`` (an IANA name, default
    ``"UTC"``).  A timestamp with an offset — text ending in ``Z`` or ``±hh[:mm]`` after
    a time of day (:data:`ZONED_TEXT`), or a time-zone aware Parquet, pandas or Spark
    value — is an instant: it is converted to ``timezone`` and its date there is the
    day.  A timestamp without an offset and a plain date are taken as already local to
    ``timezone``: the day is their date as written.  Text ending in a zone name
    (``2024-01-31 10:00 UTC``) is not a date (rather than a guess).  Days must lie
    within :data:`EARLIEST_DAY` .. :data:`LATEST_DAY`, the range of pandas' nanosecond
    timestamps, which hold the summary's ``first_purchase``.
Text dates
    Without ``date_format``, ISO dates ``yyyy-mm-dd`` with an optional time of day as
    before.  With it, a strptime-style format (:class:`DateFormat`: ``%Y %m %d %H %M %S
    %f %z %%`` and literal text) that each engine turns into ISO text by the same
    regular expression.
Amounts
    ``decimal="."`` (default): numbers as ``1234.5``.  ``decimal=","``: a decimal comma,
    with ``.`` as an optional thousands separator between groups of three digits
    (``10,5``, ``1234,50``, ``1.234,50``, ``1.234.567``; :data:`DECIMAL_COMMA`); any
    other text is not an amount (``10.5`` included: never read as 105).  Numeric
    columns are numbers whatever ``decimal`` says.
CSV delimiter
    ``delimiter`` (one character), or by default the one of ``, ; TAB |`` that the
    header line holds most often (``,`` when none): :func:`csv_delimiter`.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from clvmodels.errors import DataError, echo

EARLIEST_DAY = dt.date(1677, 9, 22)
"""The first day a summary can hold (``first_purchase`` is a nanosecond timestamp)."""
LATEST_DAY = dt.date(2262, 4, 11)
"""The last day a summary can hold."""

_ZONE = r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)"
ZONED_TEXT = r"[T ][0-9]{1,2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]*)?)?)?\s*" + _ZONE + "$"
"""Text holding a time of day and an offset (searched for; RE2, Java and Python)."""
ZONE_GAP = r"\s+(" + _ZONE + ")$"
"""Blanks before an offset, which engines drop before parsing (group 1: the offset)."""
ZONE_NAME_TEXT = "[A-Za-z]$"
"""Text ending in a letter that :data:`ZONED_TEXT` does not match: a zone name."""
DECIMAL_COMMA = r"^[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,[0-9]+)?$"
"""An amount with a decimal comma and optional ``.`` thousands separators."""
DELIMITERS = (",", ";", "\t", "|")
"""The CSV delimiters :func:`csv_delimiter` chooses from, first wins a tie."""

# strptime directives -> the text they match (Python's strptime, seconds 0-59)
_DIRECTIVES = {
    "Y": "[0-9]{4}",
    "m": "1[0-2]|0[1-9]|[1-9]",
    "d": "3[01]|[12][0-9]|0[1-9]|[1-9]",
    "H": "2[0-3]|[01][0-9]|[0-9]",
    "M": "[0-5][0-9]|[0-9]",
    "S": "[0-5][0-9]|[0-9]",
    "f": "[0-9]{1,6}",
    "z": "Z|[+-][0-9]{2}:?[0-9]{2}",
}
_NOT_ZONES = frozenset({"localtime", "posixrules"})  # files of the zone folder, no zones

IsoPiece = str | tuple[int, int]
"""A piece of the ISO text of a :class:`DateFormat`: literal text, or ``(group, width)``,
a group of the expression left-padded with zeros to ``width`` (0: as it is)."""


@dataclass(frozen=True)
class DateFormat:
    """A strptime-style ``date_format`` as a regular expression and ISO text.

    ``%Y`` (4 digits), ``%m``, ``%d``, ``%H``, ``%M``, ``%S`` (1 or 2 digits), ``%f``
    (1-6 digits of a second), ``%z`` (``Z``, ``±hhmm`` or ``±hh:mm``) and ``%%``; any
    other character must stand in the text as it is (a blank matches one blank).
    ``%Y``, ``%m`` and ``%d`` are required.  A text matching :attr:`pattern` (whole)
    becomes the ISO text of :attr:`iso`; one that does not is not a date.

    Attributes
    ----------
    text
        The format as given.
    pattern
        The regular expression, anchored, with one group per directive in order;
        written in the syntax RE2 (DuckDB), Java (Spark) and Python share.
    iso
        The pieces of ``yyyy-mm-dd[ hh:mm:ss[.f][offset]]``.
    """

    text: str
    pattern: str
    iso: tuple[IsoPiece, ...]


@functools.lru_cache(maxsize=64)
def date_format(text: str) -> DateFormat:
    """The :class:`DateFormat` of a strptime-style format.

    Raises
    ------
    DataError
        ``date_format: ...``: an unsupported directive, one given twice, or ``%Y``,
        ``%m`` or ``%d`` missing.
    """
    regex, groups, i = [], {}, 0
    while i < len(text):
        char = text[i]
        if char != "%":
            regex.append(_literal(char))
            i += 1
            continue
        code = text[i + 1 : i + 2]
        i += 2
        if code == "%":
            regex.append(_literal("%"))
        elif code not in _DIRECTIVES:
            raise DataError(
                f"date_format: {echo(text)}: %{code} is not supported (use %Y %m %d %H %M "
                "%S %f %z %% and literal text)"
            )
        elif code in groups:
            raise DataError(f"date_format: {echo(text)}: %{code} is given twice")
        else:
            groups[code] = len(groups) + 1
            regex.append(f"({_DIRECTIVES[code]})")
    missing = [f"%{c}" for c in "Ymd" if c not in groups]
    if missing:
        raise DataError(f"date_format: {echo(text)}: needs %Y, %m and %d ({missing[0]} is missing)")
    return DateFormat(text, "^" + "".join(regex) + "$", _iso_pieces(groups))


def _iso_pieces(groups: dict[str, int]) -> tuple[IsoPiece, ...]:
    """The ISO text of a format's groups; the time of day is 00:00:00 where not given."""

    def part(code: str, width: int = 2) -> IsoPiece:
        return (groups[code], width) if code in groups else "00"

    pieces: list[IsoPiece] = [part("Y", 4), "-", part("m"), "-", part("d")]
    if groups.keys() & set("HMSfz"):
        pieces += [" ", part("H"), ":", part("M"), ":", part("S")]
    if "f" in groups:
        pieces += [".", (groups["f"], 0)]
    if "z" in groups:
        pieces.append((groups["z"], 0))
    return tuple(pieces)


def _literal(char: str) -> str:
    """``char`` matched as it is, in RE2, Java and Python syntax alike."""
    if char.isalnum() or char == "_":
        return char
    if char in "\\^]-[":
        return "\\" + char
    return f"[{char}]"


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


@dataclass(frozen=True)
class ValueFormats:
    """How the text of a log is read (the module docstring): ``timezone``,
    ``date_format`` (None: ISO), ``decimal`` (``"."`` or ``","``) and the CSV
    ``delimiter`` (None: from the header line).

    Raises
    ------
    DataError
        A value out of its choices; the message starts with the option's name, which is
        also its key under ``data:`` in a run configuration.
    """

    timezone: str = "UTC"
    date_format: str | None = None
    decimal: str = "."
    delimiter: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, str) or (
            self.timezone != "UTC" and self.timezone not in _zone_names()
        ):
            raise DataError(
                f"timezone: {echo(self.timezone)} is not an IANA time zone name "
                "(such as UTC, Europe/Berlin or America/New_York)"
            )
        if self.date_format is not None:
            date_format(self.date_format)
        if self.decimal not in (".", ","):
            raise DataError(f"decimal: {echo(self.decimal)} is not '.' or ','")
        if self.delimiter is not None and (
            not isinstance(self.delimiter, str)
            or len(self.delimiter) != 1
            or self.delimiter in "\"\r\n"
        ):
            raise DataError(
                f"delimiter: {echo(self.delimiter)} is not one character (other than a "
                "quote or a line break); null detects it from the header line"
            )

    @property
    def dates(self) -> DateFormat | None:
        """The compiled ``date_format`` (None: ISO text)."""
        return None if self.date_format is None else date_format(self.date_format)

    def date_problem(self, default: str) -> str:
        """The problem text of a date that cannot be read (``default`` without a format)."""
        if self.date_format is None:
            return default
        fmt = self.date_format.replace("{", "{{").replace("}", "}}")
        return "cannot parse {raw!r} as a date with date_format " + repr(fmt)

    def amount_problem(self, default: str) -> str:
        """The problem text of an amount that is no number (``default`` with a point)."""
        if self.decimal == ".":
            return default
        return (
            "amount {raw!r} is not a finite number with a decimal comma "
            "(such as 10,5 or 1.234,50)"
        )


DEFAULT_FORMATS = ValueFormats()
"""ISO dates, days in UTC, a decimal point, the delimiter from the header line."""

RANGE_PROBLEM = (
    f"date {{raw!r}} is outside {EARLIEST_DAY}..{LATEST_DAY}, the days a summary can hold "
    "(pandas' nanosecond timestamps)"
)
"""The problem text of a day outside :data:`EARLIEST_DAY` .. :data:`LATEST_DAY`."""


def csv_delimiter(path: str | Path, delimiter: str | None = None) -> str:
    """The delimiter of a CSV file: ``delimiter`` if given, else the one of
    :data:`DELIMITERS` its first line holds most often (``","`` when it holds none, or
    the file cannot be read: the reader then says why)."""
    if delimiter is not None:
        return delimiter
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            header = handle.readline(1 << 16)
    except (OSError, EOFError):
        return ","
    counts = {d: header.count(d.encode()) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","
