"""The run folder: every file of a run written into a hidden temporary sibling, which
replaces the previous run folder only once complete (:class:`clvmodels.atomic.StagedFolder`).

A failed or interrupted run therefore never leaves a half-written folder and never
damages the previous good run.
"""

from __future__ import annotations

from clvmodels.atomic import StagedFolder


class RunFolder(StagedFolder):
    """Writes a run folder atomically: :meth:`file` paths inside the temporary folder,
    :meth:`commit` to put it in place, :meth:`abort` to drop it."""
