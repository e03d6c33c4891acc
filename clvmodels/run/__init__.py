"""One configured run, a straight line: **settings → prepare → fit → tables → write**.

:func:`~clvmodels.run.settings.resolve` turns a :class:`~clvmodels.config.RunConfig`
into plain settings once; :func:`~clvmodels.run.execute.execute` runs the steps —
:mod:`~clvmodels.run.prepare` (canonical frames), :mod:`~clvmodels.run.fit` (every
model), :mod:`~clvmodels.run.tables` and :mod:`~clvmodels.run.cohorts` (evaluation,
predictions, value) — and :func:`~clvmodels.run.write.write_run` writes the run folder
(:mod:`~clvmodels.run.figures` draws the plots, :mod:`~clvmodels.run.folder` puts the
folder in place).  :mod:`~clvmodels.run.spark` holds the Spark steps.
"""

from clvmodels.run.execute import execute
from clvmodels.run.result import RunResult
from clvmodels.run.settings import RunSettings, resolve
from clvmodels.run.write import write_run

__all__ = ["RunResult", "RunSettings", "execute", "resolve", "write_run"]
