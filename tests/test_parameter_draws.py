"""Parameter draws behind per-customer intervals need a finite covariance matrix, and a
fit whose data do not pin down every parameter is one clean error, for every model."""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import clv
from clvmodels.cli import main
from clvmodels.errors import FitError
from clvmodels.models import model_spec


def test_intervals_from_a_fit_without_finite_covariance_are_a_one_line_fit_error(
    cdnow_summary, tmp_path, capsys
):
    fitted = clvmodels.fit("bgnbd", cdnow_summary)
    broken = copy.deepcopy(fitted)
    broken.result_.cov_log = np.full_like(fitted.result_.cov_log, np.nan)
    settings = clv.ValueSettings(horizon=52.0, interval=0.9, draws=20)
    with pytest.raises(FitError, match=r"bgnbd: .*not positive definite.*clv\.interval: null"):
        clv.customer_values(broken, cdnow_summary, settings, fallback_spend=10.0)
    # without an interval the same fit still values every customer
    point = clv.customer_values(
        broken, cdnow_summary, clv.ValueSettings(horizon=52.0, interval=None), fallback_spend=10.0
    )
    assert np.all(np.isfinite(point["clv"]))
    # from the command line: exit 2, one line, no traceback, no output file
    model, data = tmp_path / "bgnbd.json", tmp_path / "summary.csv"
    broken.save(model)
    cdnow_summary[["customer_id", "frequency", "recency", "T"]].to_csv(data, index=False)
    out = tmp_path / "scores.csv"
    assert main(["predict", str(model), str(data), "--out", str(out), "--interval", "0.9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: bgnbd:") and "\n" not in err
    assert not out.exists()


IDENTICAL = {  # 300 customers with one and the same history
    "bgnbd": {"frequency": 2, "recency": 20.0, "T": 39.0},
    "mbgnbd": {"frequency": 2, "recency": 20.0, "T": 39.0},
    "paretonbd": {"frequency": 2, "recency": 20.0, "T": 39.0},
    "bgbb": {"frequency": 2, "recency": 4, "n": 6},
    "gamma_gamma": {"frequency": 2, "monetary_value": 25.0},
    "sbg": {"tenure": 3, "churned": 1},
}
UNDETERMINED = (
    r"^{model}: the data do not pin down (?P<names>[a-z, ]+) \(the log-likelihood is flat "
    r"along (them|it) or rises to the edge of the parameter space\), so the fit has no "
    r"estimate of (them|it); give more varied histories, simplify the model, or fit it "
    r"with backend: bayes, whose priors keep every parameter finite$"
)


@pytest.mark.parametrize("model", sorted(IDENTICAL))
def test_identical_histories_are_one_fit_error_naming_the_parameters_not_pinned_down(model):
    """Every customer alike: no heterogeneity to estimate.  Pareto/NBD used to
    "converge" with s = 3e-4 (SE 59) and intervals [0, inf]; MBG/NBD, BG/NBD, BG/BB,
    Gamma-Gamma and sBG each failed in words of their own, at fit or interval time."""
    frame = pd.DataFrame({k: [v] * 300 for k, v in IDENTICAL[model].items()})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(FitError) as error:
            clvmodels.fit(model, frame)
    match = re.match(UNDETERMINED.format(model=model), str(error.value))
    assert match, str(error.value)
    names = match["names"].split(", ")
    assert names and set(names) <= set(model_spec(model).param_names)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_pareto_nbd_on_identical_histories_names_its_dropout_rate_shape_s():
    """The audit's case: s = 3.3e-4 with a standard error of 59 used to pass as a fit."""
    frame = pd.DataFrame({k: [v] * 300 for k, v in IDENTICAL["paretonbd"].items()})
    with pytest.raises(FitError) as error:
        clvmodels.fit("paretonbd", frame)
    names = re.match(UNDETERMINED.format(model="paretonbd"), str(error.value))["names"]
    assert "s" in names.split(", ")
