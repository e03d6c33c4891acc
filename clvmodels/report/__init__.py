"""What a run shows: ``report.html`` (:mod:`~clvmodels.report.html`, built from a run
folder's files) and the plots (:mod:`~clvmodels.report.plots`, matplotlib functions
that take ``ax=None`` and return the axes)."""

from clvmodels.report.html import render, write_report

__all__ = ["render", "write_report"]
