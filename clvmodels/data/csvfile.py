"""A CSV file looked at before it is read: its encoding, binary content, the length of
its first line and the names in its header.

Readers report a file that is no UTF-8 CSV badly (DuckDB: ``CSV Error on Line: 1`` or
``Error when sniffing file``; pandas: a codec error, or a UTF-16 header read as
``c u s t o m e r _ i d``), and both rename a repeated header name silently
(``amount.1``, ``amount_1``).  :func:`check_csv_file` reads the first
:data:`MAX_LINE_BYTES` bytes (decompressed, for ``.csv.gz``) and names the problem in
one line; :func:`csv_line_problem` words a reader's error about a later line the same
way, finding the line by scanning the file (on the error path only).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from clvmodels.errors import DataError, clip, echo

MAX_LINE_BYTES = 2_000_000
"""The longest line a CSV file may have (DuckDB's ``max_line_size``, passed to it)."""

_SAMPLE = 4096  # bytes looked at for NUL bytes and wide encodings
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16: it starts with the UTF-16 LE mark
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_MAGIC = (
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "gzip-compressed data; a compressed CSV is named .csv.gz"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"PAR1", "a Parquet file; name it .parquet"),
    (b"\xd0\xcf\x11\xe0", "an Office document; save it as CSV (UTF-8)"),
)
_DELIMITERS = (",", ";", "\t", "|")


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed for a ``.gz`` name."""
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            yield stream  # type: ignore[misc]
    else:
        with path.open("rb") as stream:
            yield stream


def check_csv_file(path: Path, name: str) -> None:
    """Raise a one-line :class:`DataError` unless ``path`` starts like a UTF-8 CSV file.

    Checked on its first :data:`MAX_LINE_BYTES` bytes: no UTF-16/UTF-32 byte-order mark
    or wide text, no binary content (a known file signature or NUL bytes), valid UTF-8,
    a first line of at most :data:`MAX_LINE_BYTES` bytes, and no header name given twice
    (also when differing in case only: DuckDB's names ignore case).
    """
    try:
        with _opened(path) as stream:
            head = stream.read(MAX_LINE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{name}: cannot read the file: {clip(str(exc))}") from None
    _check_content(head, name)
    end = head.find(b"\n")
    if end > MAX_LINE_BYTES or (end < 0 and len(head) > MAX_LINE_BYTES):
        raise DataError(f"{name}: line 1 is over {MAX_LINE_BYTES:,} bytes; is this a CSV file?")
    header = head if end < 0 else head[:end]
    check_header(header.decode("utf-8").lstrip("\ufeff").rstrip("\r"), name)


def _check_content(head: bytes, name: str) -> None:
    """The encoding and binary checks of :func:`check_csv_file` on the first bytes."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            raise DataError(f"{name}: the file is {encoding} encoded; save it as UTF-8")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise DataError(f"{name}: not a text file ({what})")
    sample = head[:_SAMPLE]
    if b"\x00" in sample:
        wide = _wide_encoding(sample)
        if wide is not None:
            raise DataError(f"{name}: the file is {wide} encoded; save it as UTF-8")
        raise DataError(f"{name}: not a text file (binary content: NUL bytes)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        raise DataError(f"{name}: not UTF-8 text (line {line:,}); save it as UTF-8") from None


def _wide_encoding(sample: bytes) -> str | None:
    """``"UTF-16"`` or ``"UTF-32"`` for text without a byte-order mark whose mostly
    ASCII characters leave NUL bytes at fixed places of every 2 or 4 bytes, else None."""
    n = len(sample) - len(sample) % 4
    if n < 4:
        return None
    # the places (of every 4 bytes) that are mostly NUL, and those that hardly ever are
    zeros = [sample[i:n:4].count(0) / (n // 4) for i in range(4)]
    pattern = "".join("0" if z > 0.7 else "x" if z < 0.1 else "?" for z in zeros)
    if pattern in ("x000", "000x"):
        return "UTF-32"
    if pattern in ("x0x0", "0x0x"):
        return "UTF-16"
    return None


def check_header(line: str, name: str) -> None:
    """Raise a :class:`DataError` if the header ``line`` names a column twice, exactly
    or in another case (blank names, e.g. of a trailing delimiter, are not compared).
    The delimiter is the one of ``, ; TAB |`` that splits the line into the most names
    (as DuckDB's detection would)."""
    names = max(
        (next(csv.reader([line], delimiter=d), []) for d in _DELIMITERS), key=len, default=[]
    )
    seen: dict[str, int] = {}
    for position, column in enumerate(names, start=1):
        if not column.strip():  # unnamed columns (a trailing delimiter): the readers name them
            continue
        first = seen.setdefault(column.casefold(), position)
        if first == position:
            continue
        other = names[first - 1]
        if other == column:
            raise DataError(
                f"{name}: column {echo(column)} is in the header twice "
                f"(columns {first} and {position}); rename or remove one"
            )
        raise DataError(
            f"{name}: columns {echo(other)} and {echo(column)} differ only in case "
            f"(header columns {first} and {position}); rename one"
        )


def csv_line_problem(path: Path, exc: BaseException) -> str | None:
    """What a reader that failed on the CSV file ``path`` ran into, if it is a line over
    :data:`MAX_LINE_BYTES` or text that is not UTF-8 (``line N is over ... bytes``, with
    the line found by scanning the file); None for another error."""
    text = str(exc)
    if "Maximum line size" in text:
        line = _first_long_line(path)
        where = f"line {line:,}" if line else "a line"
        return f"{where} is over {MAX_LINE_BYTES:,} bytes; is this a CSV file?"
    if "Invalid unicode" in text or isinstance(exc, UnicodeDecodeError):
        line = _first_non_utf8_line(path)
        return f"not UTF-8 text{f' (line {line:,})' if line else ''}; save it as UTF-8"
    return None


def _first_long_line(path: Path) -> int | None:
    """The number of the first line over :data:`MAX_LINE_BYTES` bytes, if any."""
    with _opened(path) as stream:
        number = 0
        while chunk := stream.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(chunk) > MAX_LINE_BYTES:
                return number
    return None


def _first_non_utf8_line(path: Path) -> int | None:
    """The number of the first line that is not UTF-8, if any."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with _opened(path) as stream:
        number = 1
        while chunk := stream.read(1 << 20):
            pending = len(decoder.getstate()[0])  # a character cut by the last chunk
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return number + chunk[: max(exc.start - pending, 0)].count(b"\n")
            number += chunk.count(b"\n")
    return None
