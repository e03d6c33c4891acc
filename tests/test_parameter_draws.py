"""Parameter draws behind per-customer intervals need a finite covariance matrix."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import clvmodels
from clvmodels import clv
from clvmodels.cli import main
from clvmodels.errors import FitError


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
