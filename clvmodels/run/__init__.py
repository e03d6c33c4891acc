"""One configured run, a straight line: **settings → prepare → fit → tables → write**.

:func:`~clvmodels.run.settings.resolve` turns a :class:`~clvmodels.config.RunConfig`
into plain settings once; :func:`~clvmodels.run.execute.execute` runs the steps —
:mod:`~clvmodels.run.prepare` (canonical frames), :mod:`~clvmodels.run.fit` (every
model), :mod:`~clvmodels.run.tables` and :mod:`~clvmodels.run.cohorts` (evaluation,
predictions, value) — and :func:`~clvmodels.run.write.write_run` writes the run folder
(:mod:`~clvmodels.run.figures` draws the plots, :mod:`~clvmodels.run.folder` puts the
folder in place).  :mod:`~clvmodels.run.spark` holds the Spark steps.

The names below are imported on first use (PEP 562), so that the CLI's light commands,
which import :mod:`~clvmodels.run.folder`, do not load the fitting and plotting steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import keep_functions, lazy_exports

if TYPE_CHECKING:
    from clvmodels.run.execute import execute
    from clvmodels.run.result import RunResult
    from clvmodels.run.settings import RunSettings, resolve
    from clvmodels.run.write import write_run

_LAZY = {
    "execute": "clvmodels.run.execute",
    "RunResult": "clvmodels.run.result",
    "RunSettings": "clvmodels.run.settings",
    "resolve": "clvmodels.run.settings",
    "write_run": "clvmodels.run.write",
}
"""The public names imported on first use, and the module each comes from."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
keep_functions(__name__, _LAZY)


__all__ = ["RunResult", "RunSettings", "execute", "resolve", "write_run"]
