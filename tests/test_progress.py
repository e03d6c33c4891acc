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
def cdnow_run(tmp_path_factory):
    """The run folder of the fit below, and the fit's (status, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("progress")
    return folder / "run", _fit(folder)


@pytest.fixture(scope="module")
def cdnow_progress(cdnow_run):
    return cdnow_run[1]


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


def test_a_step_shown_after_2_s_says_nothing_when_it_ends_sooner():
    stream, clock = io.StringIO(), _Clock()
    progress = StderrProgress(stream, tty=False, poll=0.005, clock=clock, after=2.0)
    with progress.step("read the model and the data"):
        clock.now = 1.9
        time.sleep(0.05)
    clock.now = 0.0
    with progress.step("predict 10,000,000 customers"):
        clock.now = 4.5
        _wait_for(stream, "predict")
        clock.now = 14.5
        _wait_for(stream, "still running")
    assert stream.getvalue().splitlines() == [
        "[clvmodels] predict 10,000,000 customers ...",
        "[clvmodels] predict 10,000,000 customers: still running after 14 s",
        "[clvmodels] predict 10,000,000 customers: done in 14.5 s",
    ]


def test_a_step_shown_after_2_s_on_a_terminal_counts_in_place_once_shown():
    stream, clock = io.StringIO(), _Clock()
    progress = StderrProgress(stream, tty=True, poll=0.005, clock=clock, after=2.0)
    with progress.step("predict 10,000,000 customers"):
        clock.now = 3.0
        _wait_for(stream, "... 3 s")
    assert stream.getvalue() == (
        "[clvmodels] predict 10,000,000 customers ..."
        "\r[clvmodels] predict 10,000,000 customers ... 3 s"
        "\r[clvmodels] predict 10,000,000 customers ... done in 3.0 s\n"
    )


def _predict(run, out, *flags: str) -> tuple[int, str, str]:
    """``clvmodels predict`` of the CDNOW run's BG/NBD and Gamma-Gamma on its summary."""
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = [
        "predict",
        str(run / "models" / "bgnbd.json"),
        str(run / "summary.csv"),
        "--spend-model",
        str(run / "models" / "gamma_gamma.json"),
        "--out",
        str(out),
        *flags,
    ]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(argv)
    return status, stdout.getvalue(), stderr.getvalue()


PREDICT_STEPS = ("read the model and the data", "predict 2,357 customers", "write the scores")


def test_predict_in_a_log_shows_only_its_slow_steps_in_a_few_lines(cdnow_run, tmp_path):
    status, stdout, stderr = _predict(cdnow_run[0], tmp_path / "scores.csv")
    assert status == 0
    assert "scored 2,357 customers" in stdout
    assert "\r" not in stderr
    lines = [line for line in stderr.splitlines() if ": still running after " not in line]
    assert len(lines) <= 2 * len(PREDICT_STEPS)  # a quiet machine: none (each step < 2 s)
    for line in lines:
        name = line.removeprefix("[clvmodels] ").split(" ...")[0].split(": done in ")[0]
        assert name in PREDICT_STEPS, line


def test_predict_quiet_prints_nothing_on_stderr(cdnow_run, tmp_path):
    status, stdout, stderr = _predict(cdnow_run[0], tmp_path / "scores.csv", "--quiet")
    assert status == 0
    assert stderr == ""
    assert "scored 2,357 customers" in stdout


class _Recorder:
    """The run's timed steps as :func:`clvmodels.run.backtest.run_backtest` sees them:
    records the name of every step, nested ones included."""

    interactive = False

    def __init__(self) -> None:
        self.names: list[str] = []

    @contextlib.contextmanager
    def step(self, name: str, *, sampler: bool = False):
        self.names.append(name)
        yield

    def __call__(self, name, fn, *args):
        with self.step(name):
            return fn(*args)


def test_backtest_fits_show_each_model_as_its_own_step(tmp_path):
    from runs import REPO

    from clvmodels.config import load_config
    from clvmodels.run import resolve
    from clvmodels.run.backtest import run_backtest
    from clvmodels.run.prepare import prepare_data

    config = tmp_path / "backtest.yaml"
    text = (REPO / "configs/cdnow_backtest.yaml").read_text()
    text = text.replace("    origins: 3\n", "    origins: [1997-09-30]\n")
    config.write_text(text.replace("evaluation:\n", "evaluation:\n  challenger: false\n"))
    settings = resolve(load_config(config))
    recorder = _Recorder()
    run_backtest(settings, prepare_data(settings.data), recorder)
    assert recorder.names == [
        "backtest origin 1997-09-30: summarize",
        "backtest origin 1997-09-30: fit",
        "fit bgnbd (mle)",
        "fit paretonbd (mle)",
        "fit gamma_gamma (mle)",
        "backtest origin 1997-09-30: evaluate",
    ]
