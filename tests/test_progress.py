"""Progress a person can see (issue 22): ``clvmodels fit`` names each step and each
model's fit on stderr, prints nothing with ``--quiet``, and writes no carriage return
when stderr is not a terminal (clvmodels/progress.py).  No timing assertions."""

from __future__ import annotations

import contextlib
import io
import threading
import time

import pytest
from runs import cdnow_config

from clvmodels.cli import main
from clvmodels.progress import StderrProgress, next_report

CDNOW_STEPS = [
    "load and summarize data",
    "fit bgnbd (mle)",
    "fit paretonbd (mle)",
    "fit gamma_gamma (mle)",
    "train the challenger",
    "evaluate on the holdout",
    "predict every customer",
    "write the run folder: tables and models",
    "write the run folder: plots",
    "write the run folder: report",
]
"""The steps of configs/cdnow.yaml (three MLE models, a holdout split), in order."""


def _fit(tmp_path, *flags: str) -> tuple[int, str, str]:
    """``clvmodels fit`` of configs/cdnow.yaml (20 parameter draws): status, stdout and
    stderr (a StringIO, so not a terminal)."""
    out, err = io.StringIO(), io.StringIO()
    config = cdnow_config(tmp_path, draws=20)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["fit", str(config), "--out", str(tmp_path / "run"), *flags])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def cdnow_progress(tmp_path_factory):
    return _fit(tmp_path_factory.mktemp("progress"))


def test_cdnow_fit_names_every_step_and_every_model_on_stderr_in_order(cdnow_progress):
    status, stdout, stderr = cdnow_progress
    assert status == 0
    progress = [line for line in stderr.splitlines() if line.startswith("[clvmodels] ")]
    assert progress == stderr.splitlines()  # nothing else (no warnings, no sampler bars)
    lines = [line for line in progress if ": still running after " not in line]  # busy CI
    expected = []
    for name in CDNOW_STEPS:
        expected += [f"[clvmodels] {name} ...", f"[clvmodels] {name}: done in"]
    shown = [line.split(" in ")[0] + " in" if ": done in " in line else line for line in lines]
    assert shown == expected
    assert "[clvmodels]" not in stdout


def test_progress_in_a_log_has_no_carriage_return(cdnow_progress):
    assert "\r" not in cdnow_progress[2]


def test_quiet_prints_nothing_on_stderr(tmp_path):
    status, stdout, stderr = _fit(tmp_path, "--quiet")
    assert status == 0
    assert stderr == ""
    assert "wrote " in stdout


def test_quiet_still_prints_errors(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        (cdnow_config(tmp_path).read_text()).replace("  bgnbd: {backend: mle}", "  bgnbd: {x: 1}")
    )
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert err.getvalue().startswith("error: ")
    assert len(err.getvalue().splitlines()) == 1


def test_summarize_shows_its_step_unless_quiet(tmp_path):
    config = cdnow_config(tmp_path)
    for flags, expected in (([], 2), (["--quiet"], 0)):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            folder = tmp_path / f"summary{len(flags)}"
            assert main(["summarize", str(config), "--out", str(folder), *flags]) == 0
        assert len(err.getvalue().splitlines()) == expected


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wait_for(stream: io.StringIO, text: str, count: int = 1) -> None:
    """Wait (at most 5 s) until ``text`` appears ``count`` times on ``stream``."""
    deadline = time.monotonic() + 5.0
    while stream.getvalue().count(text) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_long_step_in_a_log_says_it_is_still_running_at_most_every_10_s():
    stream, clock = io.StringIO(), _Clock()
    progress = StderrProgress(stream, tty=False, poll=0.005, clock=clock)
    with progress.step("fit bgnbd (bayes)", sampler=True):
        clock.now = 25.0
        _wait_for(stream, "still running")
        clock.now = 35.0
        _wait_for(stream, "still running", 2)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[clvmodels] fit bgnbd (bayes) ...",
        "[clvmodels] fit bgnbd (bayes): still running after 25 s",
        "[clvmodels] fit bgnbd (bayes): still running after 35 s",
        "[clvmodels] fit bgnbd (bayes): done in 35.0 s",
    ]
    assert "\r" not in stream.getvalue()
    assert not [t for t in threading.enumerate() if t.name == "clvmodels-progress"]


@pytest.mark.parametrize(
    ("elapsed", "due"), [(0, 10), (9.9, 10), (10, 20), (25, 30), (30, 60), (61, 90), (600, 630)]
)
def test_still_running_lines_come_every_10_s_then_every_30_s(elapsed, due):
    assert next_report(elapsed) == due


def test_a_terminal_finishes_each_step_on_its_own_line():
    stream, clock = io.StringIO(), _Clock()
    progress = StderrProgress(stream, tty=True, poll=0.005, clock=clock)
    with progress.step("write the run folder: plots"):
        clock.now = 3.0
        _wait_for(stream, "... 3 s")
    assert stream.getvalue() == (
        "[clvmodels] write the run folder: plots ..."
        "\r[clvmodels] write the run folder: plots ... 3 s"
        "\r[clvmodels] write the run folder: plots ... done in 3.0 s\n"
    )


def test_a_terminal_leaves_a_samplers_step_to_its_progress_bar():
    stream, clock = io.StringIO(), _Clock()
    progress = StderrProgress(stream, tty=True, poll=0.005, clock=clock)
    assert progress.interactive
    with progress.step("fit bgnbd (bayes)", sampler=True):
        clock.now = 12.0
        time.sleep(0.05)
    assert stream.getvalue() == (
        "[clvmodels] fit bgnbd (bayes) ...\n[clvmodels] fit bgnbd (bayes): done in 12.0 s\n"
    )


def test_a_step_inside_another_and_a_failing_step_end_their_lines():
    stream = io.StringIO()
    progress = StderrProgress(stream, tty=True, poll=60.0, clock=_Clock())
    with pytest.raises(ValueError), progress.step("refit on the whole window"):
        with progress.step("fit bgnbd (mle)"):
            pass
        raise ValueError
    assert stream.getvalue() == (
        "[clvmodels] refit on the whole window ...\n"
        "[clvmodels] fit bgnbd (mle) ...\r[clvmodels] fit bgnbd (mle) ... done in 0.0 s\n"
    )
