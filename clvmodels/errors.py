"""Exception types raised by clvmodels.

Every error a user can cause (bad data, bad configuration, a model that does not
fit) is one of these, with a one-line message naming the file, column, key or
parameter and the problem.  The CLI prints ``error: <message>`` and exits with
status 2 for them; anything else is an internal error (exit status 1).
"""

from __future__ import annotations

import reprlib


class ClvError(Exception):
    """Base class of every error clvmodels raises on purpose."""


class DataError(ClvError, ValueError):
    """Input data is malformed: a missing column, an unparseable date, a NaN id, ..."""


class ConfigError(ClvError, ValueError):
    """A configuration file or option is invalid; the message names the key path."""


class FitError(ClvError, RuntimeError):
    """A model could not be fitted (no convergence, degenerate data); says what to try."""


class ModelLoadError(ClvError, ValueError):
    """A saved model cannot be loaded: wrong version, other model, corrupt file."""


_ECHO = reprlib.Repr()  # keyword arguments only from Python 3.12
_ECHO.maxlevel, _ECHO.maxstring, _ECHO.maxother = 3, 60, 60
_ECHO.maxdict = _ECHO.maxlist = _ECHO.maxtuple = _ECHO.maxset = 4


def echo(value: object, limit: int = 80) -> str:
    """``value`` as an error message shows it: its ``repr``, bounded in depth and
    length (nested or aliased YAML values never expand into a huge message) and cut to
    ``limit`` characters."""
    return clip(_ECHO.repr(value), limit)


def clip(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters (the last three ``...`` when cut)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Echoed:
    """A value to put into a message template: ``{x!r}`` shows :func:`echo` of it,
    ``{x}`` its ``str`` cut by :func:`clip`, so that a 5 MB cell never becomes a 5 MB
    error line."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return echo(self.value)

    def __str__(self) -> str:
        return clip(str(self.value))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)
