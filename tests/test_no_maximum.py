"""A covariate fit whose likelihood has no finite maximum (issue 18: a BG/NBD with two
static covariates on both processes ran to a = 9.6e8, b = 5.9e9 silently): the fit says
so in one line naming the covariates and the parameters and suggesting a constraint or
the penalty, and with the penalty (or a constraint that removes the direction) the same
data fit with finite estimates and standard errors.

Expected values: the BG/NBD likelihood's limits (Fader, Hardie & Lee 2005, eq. 3).  A
customer who buys ``x`` times and last at ``T`` contributes, apart from the purchase
process, ``B(a, b + x − 1)/B(a, b) = E[(1 − p)^(x−1)]``, ``p ~ Beta(a, b)``.  In a group
where every customer does so, that rises to 1 as the group's mean ``a/(a + b)`` goes to 0
(``a:gender → −∞`` or ``b:gender → +∞``: no finite maximum).  With ``a`` and ``b`` tied
the group's mean is the others', and ``E[(1 − p)^k]`` at a fixed mean rises as
``a + b → 0`` (``p`` spread to 0 and 1; Jensen): still no maximum, so the tie does not
help there.  The Pareto/NBD's ``alpha`` and ``beta`` can share a coefficient, which the
purchase process then pins down.
"""

from __future__ import annotations

import numpy as np
import pytest

from clvmodels.backends.design import CovariateLinks
from clvmodels.backends.mle import fit_mle
from clvmodels.backends.penalty import no_maximum_error
from clvmodels.errors import FitError
from clvmodels.models import bgnbd, paretonbd

NAMES = ("gender", "channel")


def _never_dropping_out(seed: int = 18, n: int = 600) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """BG/NBD customers with two binary covariates; those with ``gender = 1`` never drop
    out and make their last purchase at the end of their window (``t_x = T``)."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, (n, 2)).astype(float)
    steady = z[:, 0] == 1
    params = {
        "r": np.full(n, 1.2),
        "alpha": 8.0 * np.exp(-0.3 * z[:, 1]),
        "a": np.full(n, 0.8),
        "b": np.where(steady, 1e12, 3.0),  # p ~ Beta(0.8, 1e12): no dropout
    }
    T = rng.integers(26, 53, n).astype(float)
    sim = bgnbd.simulate_customers(n, params, T, rng, dropout_at_start=False)
    recency = np.where(steady & (sim["frequency"] > 0), sim["T"], sim["recency"])
    return {"frequency": sim["frequency"], "recency": recency, "T": sim["T"]}, z


def _links(spec, z: np.ndarray, constraints=()) -> CovariateLinks:
    processes = {p: NAMES for p in spec.covariate_links}
    return CovariateLinks.build(spec, NAMES, z, processes, constraints)


@pytest.fixture(scope="module")
def steady():
    return _never_dropping_out()


@pytest.fixture(scope="module")
def auto(steady):
    data, z = steady
    return fit_mle(bgnbd.SPEC, data, covariates=_links(bgnbd.SPEC, z), penalty="auto")


def _finite(result) -> None:
    for name in result.param_names:
        assert np.isfinite(result.params[name]), name
        assert 0 < result.std_err[name] < np.inf, name
    assert result.diagnostics["hessian_positive_definite"]


def test_a_fit_without_finite_maximum_says_so_in_one_line_with_covariates_and_remedies(steady):
    data, z = steady
    with pytest.raises(FitError) as caught:
        fit_mle(bgnbd.SPEC, data, covariates=_links(bgnbd.SPEC, z))
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        "bgnbd: the likelihood has no finite maximum: a:gender, b:gender run to the edge of "
        "the parameter space (covariates gender, channel on a, b); tie them "
        "(models.bgnbd.constraints: [[a, b]]) or shrink them (models.bgnbd.penalty: {l2: auto})"
    )


def test_cross_validated_penalty_fits_the_same_data_with_finite_estimates(steady, auto):
    _finite(auto)
    record = auto.diagnostics["penalty"]
    assert record["l2"] > 0 and record["chosen_by"] == "cross-validation"
    # λ = 0 (and the weakest penalties) run off in the fold fits: no score; the weaker
    # penalties after the first that fails are not tried
    failed = record["status"].index("no finite maximum")
    assert set(record["status"][failed + 1 :]) <= {"not tried"}
    assert record["scores"][failed:] == [None] * (len(record["grid"]) - failed)
    # the effect of never dropping out is large, and finite
    assert auto.params["a:gender"] < -1.0 or auto.params["b:gender"] > 1.0


def test_cross_validated_penalty_is_deterministic(steady, auto):
    data, z = steady
    again = fit_mle(bgnbd.SPEC, data, covariates=_links(bgnbd.SPEC, z), penalty="auto")
    assert again.params == auto.params
    assert again.diagnostics["penalty"]["scores"] == auto.diagnostics["penalty"]["scores"]


def test_a_given_penalty_fits_the_same_data_with_finite_estimates(steady):
    data, z = steady
    result = fit_mle(bgnbd.SPEC, data, covariates=_links(bgnbd.SPEC, z), penalty=1.0)
    _finite(result)
    assert result.diagnostics["penalty"] == {
        "l2": 1.0,
        "chosen_by": "given",
        "penalised_log_likelihood": pytest.approx(
            result.log_likelihood - sum(result.params[k] ** 2 for k in result.coefficients)
        ),
    }


def test_tying_a_and_b_does_not_give_a_group_without_dropout_a_maximum(steady):
    """The tie fixes the group's mean dropout probability; its spread still runs off (module
    docstring).  The message then suggests the penalty only: ``a`` and ``b`` are tied."""
    data, z = steady
    with pytest.raises(FitError, match="no finite maximum") as caught:
        fit_mle(bgnbd.SPEC, data, covariates=_links(bgnbd.SPEC, z, [["a", "b"]]))
    message = str(caught.value)
    assert "(covariates gender, channel on a, b)" in message
    assert message.endswith("; shrink them (models.bgnbd.penalty: {l2: auto})")


def _pareto_never_dropping_out(seed: int = 0, n: int = 600):
    """Pareto/NBD customers with two binary covariates; ``gender = 1`` never drops out."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, (n, 2)).astype(float)
    T = rng.integers(26, 53, n).astype(float)
    data = {c: np.empty(n) for c in ("frequency", "recency", "T")}
    for group, beta in ((0, 20.0), (1, 1e12)):
        rows = z[:, 0] == group
        sim = paretonbd.simulate(
            int(rows.sum()), r=1.2, alpha=8.0, s=0.8, beta=beta, T=T[rows], rng=rng
        )
        for c in data:
            data[c][rows] = sim[c]
    return data, z


def test_tying_purchase_and_dropout_of_the_pareto_nbd_gives_a_finite_maximum():
    data, z = _pareto_never_dropping_out()
    with pytest.raises(FitError) as caught:
        fit_mle(paretonbd.SPEC, data, covariates=_links(paretonbd.SPEC, z))
    assert str(caught.value) == (
        "paretonbd: the likelihood has no finite maximum: beta:gender run to the edge of the "
        "parameter space (covariates gender, channel on beta); tie them "
        "(models.paretonbd.constraints: [[alpha, beta]]) or shrink them "
        "(models.paretonbd.penalty: {l2: auto})"
    )
    tied = _links(paretonbd.SPEC, z, [["alpha", "beta"]])
    result = fit_mle(paretonbd.SPEC, data, covariates=tied)
    _finite(result)
    assert result.params["beta:gender"] == result.params["alpha:gender"]


def test_without_covariates_on_the_loose_parameters_the_message_is_the_old_one():
    z = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    purchase_only = CovariateLinks.build(bgnbd.SPEC, NAMES, z, {"purchase": NAMES})
    for links in (None, purchase_only):
        message = str(no_maximum_error("bgnbd", ["a", "b"], links, edge=True, penalty=None))
        assert message.startswith("bgnbd: the data do not pin down a, b (")
        assert "backend: bayes" in message
    # with covariates on them, but the penalty already chosen by cross-validation
    both = _links(bgnbd.SPEC, z, [["a", "b"]])
    message = str(no_maximum_error("bgnbd", ["a:gender"], both, edge=False, penalty="auto"))
    assert message == (
        "bgnbd: the data do not pin down a:gender (the observed information is flat along "
        "them; covariates gender, channel on a, b); give more varied histories or fewer "
        "covariates"
    )


def test_a_ridge_to_homogeneous_dropout_is_no_estimate_even_with_finite_errors():
    """The 36 Luxembourg customers of ``builtin:loyalty_store``: the BG/NBD's ``a`` and
    ``b`` grow together (a = 1e6, b = 4e6, standard errors of the same size and a
    positive definite information) toward its limit of one dropout probability for
    everybody (Fader, Hardie & Lee 2005, eq. 3 as a, b → ∞ with a/(a+b) fixed); the
    log-likelihood at the edge of the box is within 1.92 of the estimate's, so a
    likelihood-ratio test cannot tell them apart and the fit names a and b."""
    from clvmodels.data import load_builtin, summarize_transactions
    from clvmodels.estimators import BGNBD

    summary = summarize_transactions("builtin:loyalty_store", time_unit="W")
    summary = summary.merge(load_builtin("loyalty_store_customers"), on="customer_id")
    luxembourg = summary[(summary["country"] == "LU") & (summary["T"] > 0)]
    with pytest.raises(FitError, match=r"^bgnbd: the data do not pin down a, b \(") as caught:
        BGNBD().fit(luxembourg)
    assert "\n" not in str(caught.value)
