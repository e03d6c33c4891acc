"""How both engines read a log's days, time zones, date formats, decimal commas and CSV
delimiters (clvmodels.data.parsing; docs/guide/data.md "The per-customer summary"): the same days
and amounts from DuckDB and pandas, equal to references computed with Python's
zoneinfo, and one-line errors naming the line and value for what cannot be read."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.config import parse_config
from clvmodels.data import summarize_transactions
from clvmodels.errors import DataError
from clvmodels.run.settings import data_settings

ENGINES = ("duckdb", "pandas")
RANGE = r"is outside 1677-09-22\.\.2262-04-11"


def _first_purchases(source, engine: str, **options) -> dict:
    """customer -> the day of its first purchase, as the engine reads the log."""
    summary = summarize_transactions(source, engine=engine, time_unit="D", **options)
    days = summary["first_purchase"].dt.date
    return dict(zip(summary["customer_id"], days, strict=True))


def _csv(tmp_path, text: str, name: str = "log.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _one_per_customer(dates: list) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": range(1, len(dates) + 1), "date": dates, "amount": 1.0})


# ---------------------------------------------------------------- time zones


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("UTC", dt.date(2023, 1, 1)),
        ("Europe/Berlin", dt.date(2023, 1, 1)),
        ("America/New_York", dt.date(2022, 12, 31)),
        ("America/Los_Angeles", dt.date(2022, 12, 31)),
    ],
)
def test_an_offset_timestamp_is_its_date_in_the_configured_zone(tmp_path, engine, zone, day):
    source = _csv(tmp_path, "customer_id,date,amount\n1,2022-12-31T21:01:59-05:00,10\n")
    assert _first_purchases(source, engine, timezone=zone) == {1: day}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_default_zone_is_utc_as_the_readme_says(tmp_path, engine):
    source = _csv(tmp_path, "customer_id,date,amount\n1,2022-12-31T21:01:59-05:00,10\n")
    assert _first_purchases(source, engine) == {1: dt.date(2023, 1, 1)}


@pytest.mark.parametrize("engine", ENGINES)
def test_naive_timestamps_and_dates_are_their_date_as_written_in_any_zone(tmp_path, engine):
    text = "customer_id,date,amount\n1,2022-12-31 23:59:59,10\n2,2022-12-31,5\n"
    frame = _one_per_customer(pd.to_datetime(["2022-12-31 23:59:59", "2022-12-31 00:00:01"]))
    for zone in ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        want = {1: dt.date(2022, 12, 31), 2: dt.date(2022, 12, 31)}
        assert _first_purchases(_csv(tmp_path, text), engine, timezone=zone) == want
        assert _first_purchases(frame, engine, timezone=zone) == want


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_offsets_and_naive_text_in_one_column_are_read_alike(tmp_path, engine):
    text = (
        "customer_id,date,amount\n"
        "1,2022-12-31T21:01:59-05:00,10\n"
        "2,2023-01-05T08:00:00+09:00,5\n"
        "3,2023-01-05 08:00:00 +0900,5\n"
        "4,2023-01-05T23:30Z,5\n"
        "5,2023-01-05 23:30,5\n"
    )
    got = _first_purchases(_csv(tmp_path, text), engine, timezone="Asia/Tokyo")
    assert got == {
        1: dt.date(2023, 1, 1),
        2: dt.date(2023, 1, 5),
        3: dt.date(2023, 1, 5),
        4: dt.date(2023, 1, 6),
        5: dt.date(2023, 1, 5),
    }


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["frame", "parquet"])
def test_time_zone_aware_frames_and_parquet_are_converted_to_the_zone(tmp_path, engine, kind):
    stamps = pd.to_datetime(["2021-06-30 22:30:00", "2021-07-01 03:00:00"]).tz_localize("UTC")
    source = _one_per_customer(stamps)
    if kind == "parquet":
        source.to_parquet(tmp_path / "log.parquet", index=False)
        source = str(tmp_path / "log.parquet")
    assert _first_purchases(source, engine, timezone="Europe/Berlin") == {
        1: dt.date(2021, 7, 1),
        2: dt.date(2021, 7, 1),
    }
    assert _first_purchases(source, engine, timezone="America/Chicago") == {
        1: dt.date(2021, 6, 30),
        2: dt.date(2021, 6, 30),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_text_ending_in_a_zone_name_is_refused_not_guessed(tmp_path, engine):
    source = _csv(tmp_path, "customer_id,date,amount\n1,2022-12-31 21:01:59 UTC,10\n")
    with pytest.raises(DataError, match=r"line 2: cannot parse '2022-12-31 21:01:59 UTC'"):
        summarize_transactions(source, engine=engine)


def test_an_unknown_time_zone_is_an_error_naming_the_option():
    log = _one_per_customer(["2021-01-01"])
    for zone in ("Mars/Base", "localtime", "utc+1", ""):
        with pytest.raises(DataError, match=r"^timezone: .* is not an IANA time zone name"):
            summarize_transactions(log, timezone=zone)


ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]

stamps = st.lists(
    st.tuples(
        st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2035, 12, 31)),
        # near midnight: the last and first 90 minutes of a day
        st.integers(min_value=-90, max_value=89),
        # offsets from -12:00 to +14:00 in quarter hours; None: a naive timestamp
        st.one_of(st.none(), st.integers(min_value=-48, max_value=56).map(lambda q: 15 * q)),
        st.booleans(),  # "Z" for a zero offset, a space before the offset
    ),
    min_size=1,
    max_size=12,
)


def _stamp_text(day: dt.date, minute: int, offset: int | None, style: bool) -> str:
    when = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute, seconds=7)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if offset is None:
        return text
    if offset == 0 and style:
        return text + "Z"
    sign, size = ("+" if offset >= 0 else "-"), abs(offset)
    return f"{text}{' ' if style else ''}{sign}{size // 60:02d}:{size % 60:02d}"


def _reference_day(day: dt.date, minute: int, offset: int | None, zone: str) -> dt.date:
    """The day by Python's zoneinfo: an instant's date in ``zone``, else as written."""
    when = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute, seconds=7)
    if offset is None:
        return when.date()
    instant = when.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset)))
    return instant.astimezone(zoneinfo.ZoneInfo(zone)).date()


@settings(max_examples=80, deadline=None)
@given(rows=stamps, zone=st.sampled_from(ZONES))
def test_days_of_offset_timestamps_near_midnight_equal_zoneinfo_in_both_engines(rows, zone):
    log = _one_per_customer([_stamp_text(*row) for row in rows])
    want = {i + 1: _reference_day(d, m, off, zone) for i, (d, m, off, _) in enumerate(rows)}
    for engine in ENGINES:
        assert _first_purchases(log, engine, timezone=zone) == want, engine


# ---------------------------------------------------------------- days out of range


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["csv", "parquet_dates", "parquet_timestamps"])
@pytest.mark.parametrize("far", ["1600-01-01", "1677-09-21", "2262-04-12", "2300-01-05"])
def test_a_day_outside_pandas_range_is_an_error_naming_the_row_and_value(
    tmp_path, engine, kind, far
):
    """Before: 1600-01-01 came out as first_purchase 2184-07-20, 2300 as 1715."""
    dates = ["2020-01-01", far]
    if kind == "csv":
        source = _csv(tmp_path, f"customer_id,date,amount\n1,{dates[0]},1\n2,{far},1\n")
        where, shown = "line 3", far
    else:
        values = [dt.date.fromisoformat(d) for d in dates]
        if kind == "parquet_timestamps":
            values = pd.Series(pd.to_datetime(dates).as_unit("us"))
        _one_per_customer(values).to_parquet(tmp_path / "log.parquet", index=False)
        source, where, shown = str(tmp_path / "log.parquet"), "row 1", far[:4]
    with pytest.raises(DataError, match=rf"column 'date' {where}: date .*{shown}.* {RANGE}"):
        summarize_transactions(source, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_first_and_last_day_pandas_can_hold_are_read(engine):
    log = _one_per_customer(["1677-09-22", "2262-04-11"])
    got = _first_purchases(log, engine, observation_end="2262-04-11")
    assert got == {1: dt.date(1677, 9, 22), 2: dt.date(2262, 4, 11)}


def test_an_observation_end_outside_the_range_is_an_error_naming_the_option():
    log = _one_per_customer(["2020-01-01"])
    with pytest.raises(DataError, match=rf"^observation_end: date '2300-01-01' {RANGE}"):
        summarize_transactions(log, observation_end="2300-01-01")


# ---------------------------------------------------------------- date_format


@pytest.mark.parametrize("engine", ENGINES)
def test_date_format_reads_day_first_dates(tmp_path, engine):
    text = "customer_id,date,amount\n1,31/12/2020,1\n2,1/2/2021,1\n3, 05/02/2021 ,1\n"
    got = _first_purchases(_csv(tmp_path, text), engine, date_format="%d/%m/%Y")
    assert got == {1: dt.date(2020, 12, 31), 2: dt.date(2021, 2, 1), 3: dt.date(2021, 2, 5)}


@pytest.mark.parametrize("engine", ENGINES)
def test_date_format_with_an_offset_gives_the_date_in_the_zone(tmp_path, engine):
    text = "customer_id,date,amount\n1,31.12.2020 22:30 +0100,1\n2,01.01.2021 23:15 Z,1\n"
    got = _first_purchases(_csv(tmp_path, text), engine, date_format="%d.%m.%Y %H:%M %z")
    assert got == {1: dt.date(2020, 12, 31), 2: dt.date(2021, 1, 1)}
    text = "customer_id,date,amount\n1,31.12.2020 22:30:00.25 -0200,1\n"
    fmt = "%d.%m.%Y %H:%M:%S.%f %z"
    got = _first_purchases(_csv(tmp_path, text), engine, date_format=fmt, timezone="Asia/Tokyo")
    assert got == {1: dt.date(2021, 1, 1)}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", ["2021-02-01", "31/02/2021", "1/13/2021", "01/01/21", "x"])
def test_a_date_not_matching_date_format_is_an_error_naming_the_line_and_value(
    tmp_path, engine, bad
):
    source = _csv(tmp_path, f"customer_id,date,amount\n1,01/01/2021,1\n1,{bad},1\n")
    message = rf"column 'date' line 3: cannot parse '{bad}' as a date with date_format '%d/%m/%Y'"
    with pytest.raises(DataError, match=message):
        summarize_transactions(source, engine=engine, date_format="%d/%m/%Y")


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("%b %d %Y", "%b is not supported"),
        ("%d/%m/%y", "%y is not supported"),
        ("%d/%m", "needs %Y, %m and %d"),
        ("%d/%m/%Y %d", "%d is given twice"),
        ("%Y-%m-%d %", "% is not supported"),
    ],
)
def test_unsupported_date_formats_are_refused_naming_the_option(fmt, message):
    with pytest.raises(DataError, match="^date_format: .*" + message):
        summarize_transactions(_one_per_customer(["2021-01-01"]), date_format=fmt)


@pytest.mark.parametrize("engine", ENGINES)
def test_date_format_leaves_date_and_timestamp_columns_as_they_are(tmp_path, engine):
    log = _one_per_customer([dt.date(2021, 3, 1), dt.date(2021, 3, 2)])
    log.to_parquet(tmp_path / "log.parquet", index=False)
    for source in (log, str(tmp_path / "log.parquet")):
        got = _first_purchases(source, engine, date_format="%d/%m/%Y")
        assert got == {1: dt.date(2021, 3, 1), 2: dt.date(2021, 3, 2)}


# ---------------------------------------------------------------- decimal and delimiter

SEMICOLONS = "customer_id;date;amount\n1;2021-01-01;10,5\n1;2021-02-01;1.234,50\n1;2021-03-01;7\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_decimal_comma_amounts_in_a_semicolon_csv_are_read_alike(tmp_path, engine):
    """Before: DuckDB said '10,5' is not a finite number, pandas found no columns."""
    summary = summarize_transactions(_csv(tmp_path, SEMICOLONS), engine=engine, decimal=",")
    assert summary["revenue"].tolist() == [10.5 + 1234.5 + 7.0]
    assert summary["monetary_value"].tolist() == [(1234.5 + 7.0) / 2]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", ["10.5", "1.23,5", "1,234.5", "1 234,5", "10,", "inf"])
def test_an_amount_that_is_no_decimal_comma_number_is_an_error_naming_line_and_value(
    tmp_path, engine, bad
):
    """``10.5`` with decimal "," is an error, never 105."""
    source = _csv(tmp_path, SEMICOLONS.replace("1.234,50", bad))
    message = rf"column 'amount' line 3: amount '{bad}' is not a finite number with a decimal"
    with pytest.raises(DataError, match=message.replace(".", r"\.")):
        summarize_transactions(source, engine=engine, decimal=",")


number = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(number, min_size=1, max_size=8), thousands=st.booleans())
def test_numbers_written_with_a_decimal_comma_read_back_in_both_engines(values, thousands):
    def german(value) -> str:
        text = f"{abs(value):,.2f}" if thousands else f"{abs(value):.2f}"
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
        return ("-" if value < 0 else "") + text

    log = pd.DataFrame(
        {
            "customer_id": range(len(values)),
            "date": "2021-01-01",
            "amount": [german(v) for v in values],
        }
    )
    for engine in ENGINES:
        summary = summarize_transactions(log, engine=engine, decimal=",", nonpositive="keep")
        assert summary["revenue"].tolist() == [float(v) for v in values], engine


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_found_from_the_header_line(tmp_path, engine, delimiter):
    text = "customer_id,date,amount\n1,2021-01-01,10.5\n1,2021-02-01,2\n"
    source = _csv(tmp_path, text.replace(",", delimiter))
    assert summarize_transactions(source, engine=engine)["revenue"].tolist() == [12.5]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_configured_delimiter_overrides_the_header_guess(tmp_path, engine):
    """The header holds as many ';' as '|' (';' would win the guess)."""
    text = 'customer_id|date|amount|"a;b;c;d"\n1|2021-01-01|10,5|x\n'
    summary = summarize_transactions(
        _csv(tmp_path, text), engine=engine, delimiter="|", decimal=","
    )
    assert summary["revenue"].tolist() == [10.5]


# ---------------------------------------------------------------- the config keys


def test_the_reading_keys_of_a_config_reach_the_summary(tmp_path):
    source = _csv(tmp_path, "id;when;total\n1;31/12/2020 23:30 +0000;10,5\n")
    config = parse_config(
        {
            "name": "x",
            "data": {
                "source": source,
                "columns": {"customer_id": "id", "date": "when", "amount": "total"},
                "timezone": "Asia/Tokyo",
                "date_format": "%d/%m/%Y %H:%M %z",
                "decimal": ",",
                "delimiter": ";",
            },
        }
    )
    options = data_settings(config).summary_options
    assert options["timezone"] == "Asia/Tokyo" and options["delimiter"] == ";"
    summary = summarize_transactions(source, **options)
    assert summary["first_purchase"].dt.date.tolist() == [dt.date(2021, 1, 1)]
    assert summary["revenue"].tolist() == [10.5]
