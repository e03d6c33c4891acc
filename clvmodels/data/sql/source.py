"""What a SQL source is, and how its connection string stays secret.

:class:`SqlSource` names a query and the database it runs on.  Connection strings never
appear in clear: every message shows the URL as SQLAlchemy's
``render_as_string(hide_password=True)`` (``postgresql://user:***@host:5432/db``,
:func:`mask_url`), ``${NAME}`` references are expanded from the environment only when
connecting (:func:`expand_env`), and driver errors are cut to one line with the password
(and ``PGPASSWORD``) replaced by ``***`` even when the driver echoes it
(:func:`error_line`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from clvmodels.errors import ConfigError

_ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# scheme://user:password@ as SQLAlchemy's URL pattern reads it (the password has no '@')
_CREDENTIALS = re.compile(r"^(?P<head>[^:/?#]+://[^:/@]*):(?P<password>[^@]*)@")
_QUERY_PASSWORD = re.compile(r"([?&][A-Za-z_]*password=)[^&]*", re.IGNORECASE)


@dataclass(frozen=True, repr=False)
class SqlSource:
    """The rows of a SQL query, read through SQLAlchemy.

    Parameters
    ----------
    sql : str
        The query (one ``SELECT``/``WITH``/``VALUES`` statement; a trailing ``;`` is
        ignored).  It is sent to the database as written (no bind parameters).
    url : str, optional
        SQLAlchemy database URL, e.g. ``postgresql://clv@db.example:5432/shop``.
        ``${NAME}`` references are replaced by environment variables when connecting, so
        a password can stay out of the config: ``postgresql://clv:${CLV_DB_PASSWORD}@...``.
        libpq's own ``PGPASSWORD`` and ``PGPASSFILE`` (``~/.pgpass``) work as well.
    url_env : str, optional
        Name of an environment variable holding the whole URL (instead of ``url``).
    key : str
        Where the source was configured, for messages (``data.source`` from a config).
    batch_rows : int
        Rows fetched per round trip and appended to DuckDB per batch (the generic path;
        the PostgreSQL ``COPY`` path streams without batches of rows).
    """

    sql: str
    url: str | None = None
    url_env: str | None = None
    key: str = dataclasses.field(default="SqlSource", compare=False)
    batch_rows: int = dataclasses.field(default=100_000, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.sql, str) or not statement(self.sql):
            raise ConfigError(f"{self.key}.sql: give the query as a non-empty string")
        if (self.url is None) == (self.url_env is None):
            raise ConfigError(f"{self.key}: give exactly one of url or url_env")
        for name in ("url", "url_env"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"{self.key}.{name}: expected a non-empty string")
        if self.url_env is not None and not _ENV_NAME.fullmatch(self.url_env):
            raise ConfigError(
                f"{self.key}.url_env: {self.url_env!r} is not an environment variable name"
            )
        if isinstance(self.batch_rows, bool) or not isinstance(self.batch_rows, int):
            raise ConfigError(f"{self.key}.batch_rows: expected a whole number")
        if self.batch_rows < 1:
            raise ConfigError(f"{self.key}.batch_rows: must be positive")

    def __repr__(self) -> str:
        where = f"url_env={self.url_env!r}" if self.url_env else f"url={mask_url(self.url)!r}"
        return f"SqlSource(sql={self.sql!r}, {where})"

    def resolved_url(self) -> str:
        """The URL with ``${NAME}`` references expanded (the secret: never print it).

        Raises
        ------
        ConfigError
            A referenced environment variable is not set.
        """
        if self.url_env is not None:
            value = os.environ.get(self.url_env)
            if value is None or not value.strip():
                raise ConfigError(
                    f"{self.key}.url_env: environment variable {self.url_env} is not set"
                )
            return expand_env(value.strip(), f"{self.key}.url_env ({self.url_env})")
        assert self.url is not None
        return expand_env(self.url.strip(), f"{self.key}.url")

    def masked_url(self) -> str:
        """The expanded URL with its password shown as ``***``."""
        return mask_url(self.resolved_url())

    def describe(self) -> str:
        """``key (masked URL)``, the source's name in messages."""
        try:
            shown = self.masked_url()
        except ConfigError:
            shown = f"${{{self.url_env}}}" if self.url_env else mask_url(self.url or "")
        return f"{self.key} ({shown})"


def statement(sql: str) -> str:
    """The query without surrounding blanks and trailing semicolons ("" for a non-string)."""
    return sql.strip().rstrip(";").strip() if isinstance(sql, str) else ""


def expand_env(text: str, key: str) -> str:
    """Replace every ``${NAME}`` in ``text`` by the environment variable ``NAME``.

    Raises
    ------
    ConfigError
        ``key: environment variable NAME is not set``, or a malformed reference.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not _ENV_NAME.fullmatch(name):
            raise ConfigError(f"{key}: ${{{name}}} is not an environment variable reference")
        found = os.environ.get(name)
        if found is None:
            raise ConfigError(f"{key}: environment variable {name} is not set")
        return found

    return _ENV_REFERENCE.sub(value, text)


def mask_url(url: str | None) -> str:
    """``url`` with its password as ``***`` (SQLAlchemy's ``hide_password`` rendering, and
    ``***`` for query parameters such as libpq's ``?password=``).

    Text that is not a URL SQLAlchemy can parse has everything between ``user:`` and
    ``@`` (and after ``password=``) replaced instead, so a malformed URL is never echoed
    with its secret.
    """
    if not url:
        return ""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:  # SQLAlchemy missing, or not a URL it parses: mask by pattern
        masked = _CREDENTIALS.sub(lambda m: f"{m.group('head')}:***@", url, count=1)
        return _QUERY_PASSWORD.sub(r"\1***", masked)
    hidden = {key: "***" for key in parsed.query if "password" in key.lower()}
    if hidden:
        parsed = parsed.update_query_dict(hidden)
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def mask_config_url(url: str) -> str:
    """``url`` as written in a config, safe to save: a password (before ``@`` or as a
    ``password=`` query parameter) that is a single ``${NAME}`` reference is kept (it is
    no secret), any other password becomes ``***``."""
    match = _CREDENTIALS.match(url)
    if match is not None and not _ENV_REFERENCE.fullmatch(match.group("password")):
        url = _CREDENTIALS.sub(lambda m: f"{m.group('head')}:***@", url, count=1)

    def query_value(found: re.Match[str]) -> str:
        value = found.group(0)[len(found.group(1)) :]
        return found.group(0) if _ENV_REFERENCE.fullmatch(value) else f"{found.group(1)}***"

    return _QUERY_PASSWORD.sub(query_value, url)


def _secrets(url: Any) -> list[str]:
    """Password texts that must not appear in a message: the URL's (also as a query
    parameter), encoded or not, and libpq's PGPASSWORD."""
    found = []
    query = getattr(url, "query", None) or {}
    in_query = [v for k, v in query.items() if "password" in k.lower()]
    in_query = [item for v in in_query for item in (v if isinstance(v, tuple) else (v,))]
    for password in (getattr(url, "password", None), os.environ.get("PGPASSWORD"), *in_query):
        if password:
            text = str(password)
            found += [text, urllib.parse.quote(text, safe=""), urllib.parse.quote_plus(text)]
    return sorted(set(found), key=len, reverse=True)


def error_line(exc: BaseException, url: Any = None) -> str:
    """A driver or SQLAlchemy error as one line, every password text replaced by ``***``.

    The DBAPI error is preferred to SQLAlchemy's wrapper (which appends a link and the
    statement); a first line ending in ``:`` is joined with the next.
    """
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip() or type(inner).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:
        line = f"{line} {lines[1]}"
    for secret in _secrets(url):
        line = line.replace(secret, "***")
    return line
