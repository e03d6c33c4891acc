"""Input files that are no UTF-8 CSV, huge values and amounts: one-line errors naming the
file, the line or row and the problem, alike for both summary engines and the customer
table, with every echoed value bounded."""

from __future__ import annotations

import codecs
import gzip
import warnings

import pandas as pd
import pytest

from clvmodels.data import read_table, summarize_transactions, validate_summary
from clvmodels.data.checks import require_columns
from clvmodels.errors import DataError

ENGINES = ["duckdb", "pandas"]
TX = "customer_id,date,amount\n1,2020-01-01,10\n1,2020-02-01,12\n2,2020-01-05,8\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))

BAD_FILES = {
    "column twice": (
        "customer_id,date,amount,amount\n1,2020-01-01,10,3\n",
        r"tx\.csv: column 'amount' is in the header twice \(columns 3 and 4\); rename",
    ),
    "customer id twice": (
        "customer_id,date,customer_id,amount\n1,2020-01-01,7,10\n",
        r"tx\.csv: column 'customer_id' is in the header twice \(columns 1 and 3\)",
    ),
    "names differing in case": (
        "customer_id,date,amount,Amount\n1,2020-01-01,10,3\n",
        r"tx\.csv: columns 'amount' and 'Amount' differ only in case",
    ),
    "column twice, semicolons": (
        "customer_id;date;amount;date\n1;2020-01-01;10;x\n",
        r"tx\.csv: column 'date' is in the header twice \(columns 2 and 4\)",
    ),
    "utf-16": (TX.encode("utf-16"), r"tx\.csv: the file is UTF-16 encoded; save it as UTF-8$"),
    "utf-16-le, no mark": (TX.encode("utf-16-le"), r"tx\.csv: the file is UTF-16 encoded"),
    "utf-16-be, no mark": (TX.encode("utf-16-be"), r"tx\.csv: the file is UTF-16 encoded"),
    "utf-32": (TX.encode("utf-32"), r"tx\.csv: the file is UTF-32 encoded"),
    "utf-32-be, no mark": (TX.encode("utf-32-be"), r"tx\.csv: the file is UTF-32 encoded"),
    "png": (PNG, r"tx\.csv: not a text file \(a PNG image\)$"),
    "zip": (
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(100),
        r"not a text file \(a zip archive\)",
    ),
    "gzip named .csv": (gzip.compress(TX.encode()), r"gzip-compressed data; a compressed CSV"),
    "nul bytes": (TX.encode() + b"\x00\x01\x02\x03" * 10, r"not a text file \(binary content"),
    "latin-1": (
        TX.encode() + "3,2020-01-09,caf\xe9\n".encode("latin-1"),
        r"not UTF-8 text \(line 5\)",
    ),
    "huge first line": (
        "customer_id,date,amount," + "y" * 2_100_000 + "\n1,2020-01-01,1,2\n",
        r"tx\.csv: line 1 is over 2,000,000 bytes; is this a CSV file\?$",
    ),
    "huge first line, no newline": ("x" * 2_100_000, r"tx\.csv: line 1 is over 2,000,000 bytes"),
}


def _write(tmp_path, content: str | bytes, name: str = "tx.csv"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_csv_file_that_is_no_utf8_csv_is_refused_before_it_is_read(tmp_path, engine, case):
    content, message = BAD_FILES[case]
    with pytest.raises(DataError, match=message) as error:
        summarize_transactions(_write(tmp_path, content), engine=engine)
    assert len(str(error.value)) < 300


@pytest.mark.parametrize("case", ["column twice", "utf-16", "png", "huge first line"])
def test_the_customer_table_gets_the_same_file_checks(tmp_path, case):
    content, message = BAD_FILES[case]
    with pytest.raises(DataError, match=message.replace("tx", "people")):
        read_table(_write(tmp_path, content, "people.csv"))


def test_a_gzip_compressed_csv_is_checked_on_its_text(tmp_path):
    path = tmp_path / "tx.csv.gz"
    path.write_bytes(gzip.compress(TX.encode("utf-16")))
    with pytest.raises(DataError, match=r"tx\.csv\.gz: the file is UTF-16 encoded"):
        summarize_transactions(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"tx\.csv\.gz: cannot read the file: Not a gzipped file"):
        summarize_transactions(path)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_utf8_byte_order_mark_and_crlf_lines_are_read(tmp_path, engine):
    plain = summarize_transactions(_write(tmp_path, TX), engine=engine)
    marked = codecs.BOM_UTF8 + TX.replace("\n", "\r\n").encode()
    got = summarize_transactions(_write(tmp_path, marked, "bom.csv"), engine=engine)
    pd.testing.assert_frame_equal(got, plain)


@pytest.mark.parametrize("engine", ENGINES)
def test_unnamed_columns_of_trailing_delimiters_are_no_repeated_names(tmp_path, engine):
    content = TX.replace("amount\n", "amount,,\n").replace("0\n", "0,,\n").replace("2\n", "2,,\n")
    got = summarize_transactions(_write(tmp_path, content.replace("8\n", "8,,\n")), engine=engine)
    pd.testing.assert_frame_equal(got, summarize_transactions(_write(tmp_path, TX, "plain.csv")))


def test_duckdb_names_a_later_line_over_the_limit(tmp_path):
    path = _write(tmp_path, TX + "3,2020-01-09," + "9" * 2_100_000 + "\n4,2020-01-10,1\n")
    with pytest.raises(DataError, match=r"^\S*tx\.csv: line 5 is over 2,000,000 bytes"):
        summarize_transactions(path, engine="duckdb")


@pytest.mark.parametrize("engine", ENGINES)
def test_text_that_stops_being_utf8_past_the_first_bytes_is_named_by_its_line(tmp_path, engine):
    rows = "".join(f"{i % 50},2020-01-{i % 28 + 1:02d},{i % 9 + 1}\n" for i in range(150_000))
    content = (TX + rows).encode() + "7,2020-02-01,caf\xe9\n".encode("latin-1")
    assert len(content) > 2_000_000
    with pytest.raises(DataError, match=r"tx\.csv: not UTF-8 text \(line 150,005\); save it"):
        summarize_transactions(_write(tmp_path, content), engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("amounts", "line"), [((10.0, 1e308, 8.0), 3), ((1e308, 1e308, 8.0), 2), ((1, -2e15, 8), 3)]
)
def test_an_amount_beyond_1e15_is_an_error_naming_its_row(tmp_path, engine, amounts, line):
    log = pd.DataFrame(
        {"customer_id": [1, 1, 2], "date": ["2020-01-01", "2020-02-01", "2020-01-05"]}
    ).assign(amount=amounts)
    message = rf"column 'amount' line {line}: amount '[-0-9.e+]+' is beyond ±1e15"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning on the way
        with pytest.raises(DataError, match=message):
            summarize_transactions(_write(tmp_path, log.to_csv(index=False)), engine=engine)
        with pytest.raises(DataError, match=r"column 'amount' row \d: amount .* is beyond ±1e15"):
            summarize_transactions(log, engine=engine)


def test_a_summary_with_a_monetary_value_beyond_1e15_is_an_error_naming_its_row():
    frame = pd.DataFrame(
        {"frequency": [1, 2], "recency": [1.0, 2.0], "T": [3.0, 3.0], "monetary_value": [5, 1e308]}
    )
    with pytest.raises(DataError, match=r"column 'monetary_value' row 1: beyond ±1e15"):
        validate_summary(frame)


@pytest.mark.parametrize("engine", ENGINES)
def test_echoed_cells_and_ids_are_bounded(tmp_path, engine):
    huge = "x" * 1_000_000
    path = _write(tmp_path, TX + f"3,2020-01-09,{huge}\n")
    with pytest.raises(DataError, match=r"amount 'x{20,}\.\.\.x*' is not a finite number") as bad:
        summarize_transactions(path, engine=engine)
    assert len(str(bad.value)) < 200
    refund = pd.DataFrame({"customer_id": [huge], "date": ["2020-01-01"], "amount": [-1.0]})
    with pytest.raises(DataError, match=r"for customer x{20,}\.\.\. on 2020-01-01") as bad:
        summarize_transactions(refund, engine=engine, nonpositive="error")
    assert len(str(bad.value)) < 300


def test_column_names_in_messages_are_bounded():
    many = [f"column_{i}" for i in range(10_000)] + ["y" * 100_000]
    with pytest.raises(DataError, match=r"columns present: column_0, .*\(10,001 columns\)") as bad:
        require_columns("t.csv", {"date": "z" * 100_000}, many)
    assert len(str(bad.value)) < 400
    frame = pd.DataFrame({"frequency": [1], "recency": ["r" * 100_000], "T": [3.0]})
    with pytest.raises(DataError, match=r"column 'recency' row 0: not a finite number") as bad:
        validate_summary(frame)
    assert len(str(bad.value)) < 200
