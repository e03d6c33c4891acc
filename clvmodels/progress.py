"""Progress a person can see: the protocol the run layer reports its steps through, and
the one implementation that prints (used by the CLI).

The run layer never prints.  Its functions take a :class:`Progress` (default
:data:`SILENT`) and wrap every step a person may wait for in ``progress.step(name)``;
the CLI passes a :class:`StderrProgress` (nothing with ``--quiet``).  What it prints, on
stderr:

- ``[clvmodels] fit bgnbd (mle) ...`` when a step starts and ``... done in 3.1 s`` when
  it ends — on a terminal completed on the same line, in a log as a second line;
- while a step runs, in a log (stderr not a terminal) ``[clvmodels] <step>: still
  running after 20 s`` every 10 s for the first 30 s, then every 30 s — never a
  carriage return; on a terminal the step's line counts the seconds in place;
- nothing of its own during a Bayesian sampler's step on a terminal, where PyMC draws its
  progress bar (:attr:`Progress.interactive` tells the run whether it may; in a log it
  may not);
- with ``after`` (``clvmodels predict``: 2 s), nothing for a step that ends sooner: its
  first line comes once it has run that long (then as above), so a quick command stays
  silent and a slow one says what it is doing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol, TextIO

PREFIX = "[clvmodels]"


class Progress(Protocol):
    """What the run layer reports its steps to."""

    @property
    def interactive(self) -> bool:
        """Whether a sampler may draw its own progress bar (stderr is a terminal)."""
        ...

    def step(self, name: str, *, sampler: bool = False) -> AbstractContextManager[None]:
        """The context of the step ``name`` (``sampler``: a Bayesian sampler runs in
        it, drawing its own bar when :attr:`interactive`)."""
        ...


class Silent:
    """A :class:`Progress` that shows nothing (the default of every run function)."""

    interactive = False

    @contextmanager
    def step(self, name: str, *, sampler: bool = False) -> Iterator[None]:
        yield


SILENT = Silent()
"""No progress shown."""


@dataclass
class _Frame:
    name: str
    sampler: bool
    started: float
    due: float  # seconds after the start of the next still-running report
    open_line: bool = False  # a terminal line of ours waiting for its "done in"
    shown: bool = False  # its first line is out (at once, or once it ran ``after`` s)


def next_report(elapsed: float) -> float:
    """When a log next says a step is still running: every 10 s for the first 30 s of
    the step, then every 30 s (a ten-minute step: 22 lines)."""
    every = 10.0 if elapsed < 30.0 else 30.0
    return (elapsed // every + 1) * every


class StderrProgress:
    """A :class:`Progress` that prints each step on ``stream`` (default: stderr).

    Parameters
    ----------
    stream
        Where the lines go (``sys.stderr`` when ``None``).
    tty
        Whether ``stream`` is a terminal (default: ``stream.isatty()``).
    poll
        Seconds between checks of the running step (tests shorten it).
    clock
        Seconds since some fixed point (``time.monotonic``; tests pass their own).
    after
        Seconds a step must run before it is shown (0: every step, from its start).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        poll: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        after: float = 0.0,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.poll = poll
        self.clock = clock
        self.after = after
        self._stack: list[_Frame] = []
        self._lock = threading.Lock()

    @property
    def interactive(self) -> bool:
        return self.tty

    @contextmanager
    def step(self, name: str, *, sampler: bool = False) -> Iterator[None]:
        with self._lock:
            self._close_open_line()
            frame = _Frame(name, sampler, self.clock(), next_report(0.0))
            self._stack.append(frame)
            if self.after <= 0.0:
                self._show(frame)
            outermost = len(self._stack) == 1
        watcher = self._watch() if outermost else None
        try:
            yield
        except BaseException:
            with self._lock:
                self._close_open_line()
                self._stack.remove(frame)
            raise
        finally:
            if watcher is not None:
                watcher()
        with self._lock:
            elapsed = self.clock() - frame.started
            if not frame.shown:  # over before ``after``: nothing to say
                self._stack.remove(frame)
                return
            if frame.open_line:
                self._write(f"\r{PREFIX} {name} ... done in {elapsed:.1f} s\n")
            else:
                self._close_open_line()
                self._write(f"{PREFIX} {name}: done in {elapsed:.1f} s\n")
            self._stack.remove(frame)

    def _watch(self) -> Callable[[], None]:
        """Start the thread reporting the innermost running step; returns its stop."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(self.poll):
                with self._lock:
                    if self._stack:
                        self._report(self._stack[-1])

        thread = threading.Thread(target=run, name="clvmodels-progress", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join()

        return halt

    def _show(self, frame: _Frame) -> None:
        """The first line of ``frame``'s step."""
        frame.shown = True
        frame.open_line = self.tty and not frame.sampler  # PyMC's bar draws below it
        self._write(f"{PREFIX} {frame.name} ..." + ("" if frame.open_line else "\n"))

    def _report(self, frame: _Frame) -> None:
        elapsed = self.clock() - frame.started
        if not frame.shown:
            if elapsed >= self.after:
                self._show(frame)
            return
        if self.tty:
            if frame.open_line and elapsed >= 2.0:
                self._write(f"\r{PREFIX} {frame.name} ... {elapsed:.0f} s")
            return
        if elapsed >= frame.due:
            self._write(f"{PREFIX} {frame.name}: still running after {elapsed:.0f} s\n")
            frame.due = next_report(elapsed)

    def _close_open_line(self) -> None:
        """End a terminal line still waiting for its ``done in`` (another step starts
        inside it, or it fails)."""
        for frame in self._stack:
            if frame.open_line:
                frame.open_line = False
                self._write("\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


__all__ = ["SILENT", "Progress", "Silent", "StderrProgress", "next_report"]
