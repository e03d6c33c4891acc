"""Fixtures shared by the model tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from runs import cdnow_config

from clvmodels.cli import main
from clvmodels.data import load_builtin, summarize_transactions

# `make test` draws the same hypothesis examples every run, so a clean-clone CI result does
# not depend on luck; `make test-explore` draws fresh random examples to hunt for
# new failures (run it repeatedly; each failure found becomes an @example of its test).
settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def cdnow() -> dict[str, np.ndarray]:
    """CDNOW calibration summary (Fader, Hardie & Lee 2005: 2,357 customers, 39 weeks),
    recency and T rounded to 2 decimals of a week as in the paper's data file (the
    builtin summary then equals that file row for row)."""
    summary = summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    return {
        "frequency": summary["frequency"].to_numpy(float),
        "recency": np.round(summary["recency"].to_numpy(float), 2),
        "T": np.round(summary["T"].to_numpy(float), 2),
    }


@pytest.fixture(scope="session")
def cdnow_summary():
    """The CDNOW calibration summary frame (39 + 39 weeks, with holdout columns)."""
    return summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )


@pytest.fixture(scope="session")
def cdnow_run(tmp_path_factory):
    """One ``clvmodels fit configs/cdnow.yaml`` run folder (40 parameter draws) shared by
    every test that only reads a CDNOW run's outputs (report, files): tests must not
    change it."""
    out = tmp_path_factory.mktemp("cdnow_run")
    config = cdnow_config(out, draws=40)
    assert main(["fit", str(config), "--out", str(out / "run"), "--quiet"]) == 0
    return out / "run"


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server on 127.0.0.1 for the session (see tests/pgserver.py), stopped
    and deleted at the end; the test is skipped, with the reason, where it cannot run."""
    import pgserver

    reason = pgserver.why_unavailable()
    if reason is not None:
        pytest.skip(reason)
    server = pgserver.start()
    try:
        yield server
    finally:
        server.stop()


def _fail_skips_on_ci(report):
    """On CI (``CLVMODELS_CI=1``, set by ``.ci/run``, which installs Chromium, PostgreSQL
    and Java) a skipped test is a failure: a missing dependency must not pass silently.
    A developer's plain ``make test`` still skips such tests with the reason."""
    if os.environ.get("CLVMODELS_CI") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, where every test must run: {reason}"


def pytest_configure(config: pytest.Config) -> None:
    """Where and how the suite compiles its PyTensor graphs; PyTensor is not imported yet
    (clvmodels imports it on first use), and flags the user set are kept.

    The compiled code goes to a folder of the suite's own, not to the user's
    ``~/.pytensor``: every process that loads a compiled function indexes that whole
    folder first (3.9 s for 1,420 programs), so a test run left there would slow the
    user's own fits. The folder is kept between runs and checkouts (``$XDG_CACHE_HOME``
    or ``~/.cache``, then ``clvmodels/pytensor-tests-O1``): compiling every graph again
    would double a run.

    The default suite compiles with -O1 (after PyTensor's -O3): its data are small, so
    compiling is most of the cost. Measured on the 2-core VM, from an empty cache and
    then compiled:

    * a Bayesian test (``test_bayes_coordinates``): -O3 55 s, -O1 44 s, -O0 35 s;
    * the dynamic-covariate NUTS test, whose likelihood is heavy arithmetic: -O1 69 s then
      21 s, -O0 91 s then 68 s (-O3: 18.6 s compiled).

    The slow studies (``-m slow``) sample for minutes and keep -O3, in
    ``clvmodels/pytensor-tests``: one folder per set of flags keeps each folder's index
    small (a folder holding two sets made a first run slower).
    """
    flags = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",") if f]
    fast = config.getoption("markexpr", "") != "slow"
    if fast and not any(f.startswith("gcc__cxxflags") for f in flags):
        flags.append("gcc__cxxflags=-O1")
    if not any(f.startswith("base_compiledir") for f in flags):
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clvmodels"
        folder = "pytensor-tests-O1" if "gcc__cxxflags=-O1" in flags else "pytensor-tests"
        flags.append(f"base_compiledir={cache / folder}")
    os.environ["PYTENSOR_FLAGS"] = ",".join(flags)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skips_on_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skips_on_ci(outcome.get_result())
