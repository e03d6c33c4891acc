"""A SQL query against a database as a data source: ``data.source: {sql: ..., url: ...}``.

The rows of the query are loaded into a DuckDB table, on which the DuckDB summary then
runs exactly as on a file:

- :mod:`~clvmodels.data.sql.source`: :class:`SqlSource` (the query and its database),
  ``${NAME}`` expansion from the environment, and the masking that keeps passwords out
  of every message;
- :mod:`~clvmodels.data.sql.load`: SQLAlchemy 2 on a server-side cursor, rows appended
  to DuckDB batch by batch (:func:`load_sql`, :func:`register_sql`,
  :func:`read_sql_frame`), and the fingerprint of the loaded rows;
- :mod:`~clvmodels.data.sql.pgcopy`: the PostgreSQL fast path (``COPY ... TO STDOUT``
  read by DuckDB's CSV reader), with the same result;
- :mod:`~clvmodels.data.sql.types`: the column kinds both paths store, and SQL quoting.

(DuckDB's own ``postgres`` scanner extension would read PostgreSQL directly, but it is
downloaded at run time from DuckDB's extension server, which this project cannot rely
on, and the PyPI builds of it lag DuckDB's releases.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import lazy_exports, names_from

if TYPE_CHECKING:
    from clvmodels.data.sql.load import (
        FINGERPRINT_ATTR,
        INSTALL_HINT,
        engine_url,
        load_sql,
        read_sql_frame,
        register_sql,
        rows_fingerprint,
    )
    from clvmodels.data.sql.source import (
        SqlSource,
        error_line,
        expand_env,
        mask_config_url,
        mask_url,
    )

_LAZY = names_from(
    {
        "clvmodels.data.sql.load": (
            "FINGERPRINT_ATTR",
            "INSTALL_HINT",
            "engine_url",
            "load_sql",
            "read_sql_frame",
            "register_sql",
            "rows_fingerprint",
        ),
        "clvmodels.data.sql.source": (
            "SqlSource",
            "error_line",
            "expand_env",
            "mask_config_url",
            "mask_url",
        ),
    }
)
"""The public names imported on first use (PEP 562), and the module each comes from."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "FINGERPRINT_ATTR",
    "INSTALL_HINT",
    "SqlSource",
    "engine_url",
    "error_line",
    "expand_env",
    "load_sql",
    "mask_config_url",
    "mask_url",
    "read_sql_frame",
    "register_sql",
    "rows_fingerprint",
]
