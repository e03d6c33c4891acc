"""Full Bayesian fits (4 chains x 1,000 draws after 1,000 tuning steps), ``slow``.

Expected values: the maximum-likelihood fits that reproduce Fader, Hardie & Lee (2005)
on CDNOW and Fader & Hardie (2007) on the two retention cohorts; the posterior must have
converged (R-hat <= 1.01) and its means lie within one posterior sd of the MLE.
"""

from __future__ import annotations

import pytest

import clvmodels
from clvmodels.data import load_builtin, survival_to_individual

pytestmark = pytest.mark.slow


def _check(frame, key):
    bayes = clvmodels.fit(key, frame, backend="bayes", chains=4, draws=1000, tune=1000, seed=7)
    mle = clvmodels.fit(key, frame)
    for name in bayes.result_.param_names:
        diag = bayes.result_.diagnostics["parameters"][name]
        assert diag["r_hat"] <= 1.01, (key, name, diag)
        gap = abs(bayes.params_[name] - mle.params_[name])
        assert gap <= bayes.result_.std_err[name], (key, name, gap)
    return bayes


@pytest.mark.parametrize("key", ["bgnbd", "paretonbd", "gamma_gamma"])
def test_cdnow_posterior_centres_on_the_mle_fader_hardie_lee_2005(cdnow_summary, key):
    _check(cdnow_summary, key)


@pytest.mark.parametrize("cohort", ["regular", "high_end"])
def test_sbg_posterior_centres_on_the_mle_fader_hardie_2007(cohort):
    rows = survival_to_individual(load_builtin("retention_fh2007"), calibration_periods=7)
    _check(rows[rows["cohort"] == cohort], "sbg")
