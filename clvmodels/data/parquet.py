"""Parquet datasets: a folder of Parquet files, nested or hive-partitioned, read as one table.

Spark, Hive and Arrow write a table as a folder of files (``part-0.parquet``, ...),
possibly below ``key=value`` folders (``year=2024/month=01/part-0.parquet``) and next to
side files of the writer (``_SUCCESS``, ``.part-0.crc``).  :func:`parquet_dataset_files`
finds the data files the way those writers do; :func:`parquet_scan` is the DuckDB
``read_parquet`` of them that both engines read through, so both see the same rows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from clvmodels.data.sql.types import quote_literal
from clvmodels.errors import DataError

_PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
_PARQUET_MAGIC = b"PAR1"
_HIVE_PART = re.compile(r"[^=]+=[^=]*")


def _is_parquet_file(path: Path) -> bool:
    """A data file of a dataset: a Parquet suffix, or no suffix and the Parquet magic
    bytes (Hive writes ``000000_0``-style names)."""
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return True
    if "." in name:
        return False  # .crc, .json, .txt, ...: side files of the writer
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


def parquet_dataset_files(folder: Path) -> list[Path]:
    """The data files of a Parquet dataset folder, in path order.

    Files are found in every subfolder (nested and hive-partitioned layouts such as
    ``year=2024/month=01/part-0.parquet``).  Names starting with ``_`` or ``.`` are
    skipped at any level, as Spark, Hive and Arrow do (``_SUCCESS``,
    ``_common_metadata``, ``.part-0.crc``, ``_temporary/``), and so are files with a
    suffix other than ``.parquet``, ``.parq`` or ``.pq``; a file without a suffix is
    data when it starts with the Parquet magic bytes.

    Raises
    ------
    DataError
        The folder holds no such file.
    """
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        files += [
            Path(root) / n
            for n in sorted(names)
            if not n.startswith(("_", ".")) and _is_parquet_file(Path(root) / n)
        ]
    if not files:
        raise DataError(
            f"{folder}: directory contains no .parquet files (in any subfolder; names "
            "starting with _ or . are skipped)"
        )
    return files


def parquet_scan(path: Path) -> str:
    """DuckDB ``read_parquet`` of a file or a dataset folder (no data read).

    A folder's files (:func:`parquet_dataset_files`) are read as one table: columns are
    matched by name across files (``union_by_name``; a column missing from a file is
    NULL there) and the ``key=value`` folders of a hive-partitioned dataset become
    columns (typed by DuckDB: ``year=2024`` an integer, ``day=2024-01-31`` a date).
    DuckDB reads only the columns and row groups a query needs.
    """
    if not path.is_dir():
        return f"read_parquet({quote_literal(str(path))})"
    files = parquet_dataset_files(path)
    listed = ", ".join(quote_literal(str(f)) for f in files)
    hive = "true" if _is_hive(path, files) else "false"
    return f"read_parquet([{listed}], union_by_name = true, hive_partitioning = {hive})"


def _is_hive(folder: Path, files: list[Path]) -> bool:
    """True if every file sits below ``key=value`` folders (hive partitioning).

    Raises
    ------
    DataError
        Some files are in ``key=value`` folders and others are not.
    """
    hive = [
        bool(parts) and all(_HIVE_PART.fullmatch(p) for p in parts)
        for parts in (f.relative_to(folder).parent.parts for f in files)
    ]
    if any(hive) and not all(hive):
        odd = files[hive.index(False)]
        raise DataError(
            f"{folder}: mixes hive-partitioned files (in key=value folders) with files "
            f"outside them, e.g. {odd.relative_to(folder)}"
        )
    return all(hive)
