"""Covariates in the compiled likelihood: parameters per customer through the exponential
link of Fader & Hardie (2007, note 019), ``α_i = α₀ exp(−γ₁′z_i)``, ``a_i = a₀ exp(γ₂′z_i)``,
``b_i = b₀ exp(γ₃′z_i)``.

Expected values: the model's NumPy likelihood evaluated row by row with each customer's
own parameters (the note's individual-level likelihood is the plain one with those
parameters), and its central finite differences for the gradient.
"""

from __future__ import annotations

import numpy as np
import pytest

from clvmodels.backends.compiled import compiled as _compiled
from clvmodels.backends.design import PATTERN
from clvmodels.models import bgnbd, model_module
from clvmodels.models.ops import numpy_ops

LINKS = (("alpha", -1.0, 2), ("a", 1.0, 1), ("b", 1.0, 1))


def _data(rng: np.random.Generator, n: int = 400) -> dict[str, np.ndarray]:
    T = rng.integers(20, 40, n).astype(float)
    x = rng.poisson(1.5, n).astype(float)
    t_x = np.where(x > 0, np.floor(T * rng.uniform(0.2, 1.0, n)), 0.0)
    return {"frequency": x, "recency": t_x, "T": T, PATTERN: rng.integers(0, 4, n).astype(float)}


def _numpy_total(theta, data, weight, designs):
    base = dict(zip(bgnbd.SPEC.param_names, np.exp(theta[:4]), strict=True))
    g = data[PATTERN].astype(int)
    params, offset = dict(base), 4
    for (name, sign, k), z in zip(LINKS, designs, strict=True):
        params[name] = base[name] * np.exp(sign * (z @ theta[offset : offset + k]))[g]
        offset += k
    columns = {c: data[c] for c in ("frequency", "recency", "T")}
    return float(np.sum(weight * bgnbd.log_likelihood(**params, **columns, xp=numpy_ops)))


def test_bgnbd_with_covariates_equals_the_row_by_row_likelihood_with_own_parameters():
    rng = np.random.default_rng(19)
    data = _data(rng)
    weight = rng.integers(1, 5, len(data["T"])).astype(float)
    designs = [rng.normal(size=(4, 2)), rng.integers(0, 2, (4, 1)).astype(float)]
    designs.append(rng.normal(size=(4, 1)))
    fn, distinct = _compiled(
        "bgnbd", bgnbd.log_likelihood, bgnbd.SPEC.param_names, tuple(data), LINKS
    )
    extra = distinct.values(data)
    theta = np.concatenate([np.log([0.4, 6.0, 0.8, 2.5]), [0.3, -0.2, 0.5, -0.4]])
    value, grad = fn(theta, weight, *data.values(), *designs, *extra)
    np.testing.assert_allclose(float(value), _numpy_total(theta, data, weight, designs), rtol=1e-12)
    # the (x, T) and (x, t_x) terms are still evaluated per distinct combination
    assert distinct.keys == [("frequency", "T", PATTERN), ("frequency", "recency", PATTERN)]
    h = 1e-6
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = h
        fd = (
            _numpy_total(theta + step, data, weight, designs)
            - _numpy_total(theta - step, data, weight, designs)
        ) / (2 * h)
        np.testing.assert_allclose(grad[i], fd, rtol=1e-6, atol=1e-6)


def test_zero_coefficients_give_the_plain_model():
    rng = np.random.default_rng(5)
    data = _data(rng)
    weight = np.ones(len(data["T"]))
    designs = [rng.normal(size=(4, 2)), rng.normal(size=(4, 1)), rng.normal(size=(4, 1))]
    fn, distinct = _compiled(
        "bgnbd", bgnbd.log_likelihood, bgnbd.SPEC.param_names, tuple(data), LINKS
    )
    theta = np.concatenate([np.log([0.24, 4.4, 0.79, 2.4]), np.zeros(4)])
    value, _ = fn(theta, weight, *data.values(), *designs, *distinct.values(data))
    plain = {c: data[c] for c in ("frequency", "recency", "T")}
    expected = bgnbd.log_likelihood(0.24, 4.4, 0.79, 2.4, **plain, xp=numpy_ops).sum()
    np.testing.assert_allclose(float(value), expected, rtol=1e-13)


def test_all_zero_covariates_give_exactly_the_plain_likelihood_whatever_the_coefficients():
    from clvmodels.backends.design import CovariateLinks
    from clvmodels.errors import FitError

    rng = np.random.default_rng(6)
    data = _data(rng)
    weight = rng.integers(1, 4, len(data["T"])).astype(float)
    fn, distinct = _compiled(
        "bgnbd", bgnbd.log_likelihood, bgnbd.SPEC.param_names, tuple(data), LINKS
    )
    plain_fn, plain_distinct = _compiled(
        "bgnbd", bgnbd.log_likelihood, bgnbd.SPEC.param_names, ("frequency", "recency", "T")
    )
    plain_data = {c: data[c] for c in ("frequency", "recency", "T")}
    base = np.log([0.24, 4.4, 0.79, 2.4])
    expected, expected_grad = plain_fn(
        base, weight, *plain_data.values(), *plain_distinct.values(plain_data)
    )
    designs = [np.zeros((4, 2)), np.zeros((4, 1)), np.zeros((4, 1))]
    theta = np.concatenate([base, rng.normal(size=4)])
    value, grad = fn(theta, weight, *data.values(), *designs, *distinct.values(data))
    assert float(value) == float(expected)
    # the same terms summed in another order (rows grouped by history and pattern)
    np.testing.assert_allclose(grad[:4], expected_grad, rtol=1e-12)
    np.testing.assert_array_equal(grad[4:], 0.0)
    # a fit cannot estimate such a coefficient: it is refused, not left at a silent 0
    with pytest.raises(FitError, match="'z' has the same value for every customer"):
        CovariateLinks.build(bgnbd.SPEC, ("z",), np.zeros((5, 1)), {"purchase": ("z",)})


def test_mle_recovers_simulated_member_effects_within_three_standard_errors():
    """Members buy more often (α lower) and drop out less (a lower, b higher): 2 × 20,000
    simulated BG/NBD customers with known effects; every estimate, base parameters and
    coefficients alike, lies within 3 standard errors of the truth (issue 7's criterion)."""
    from clvmodels.backends.design import CovariateLinks
    from clvmodels.backends.mle import fit_mle
    from clvmodels.models.links import linked_params

    truth = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
    effect = {"alpha:member": 0.5, "a:member": -0.4, "b:member": 0.3}
    rng = np.random.default_rng(2007)
    frames, pattern = [], []
    for member in (0, 1):
        own = linked_params(bgnbd.SPEC, {**truth, **effect}, {"member": np.array(member)})
        params = {k: float(v) for k, v in own.items()}
        T = rng.integers(150, 365, 20_000) / 7.0
        sim = bgnbd.simulate(20_000, **params, T=T, rng=rng)
        frames.append({c: np.round(sim[c] * 7) / 7 for c in ("frequency", "recency", "T")})
        pattern.append(np.full(20_000, member))
    data = {c: np.concatenate([f[c] for f in frames]) for c in ("frequency", "recency", "T")}
    design = np.array([[0.0], [1.0]])
    links = CovariateLinks(
        pattern=np.concatenate(pattern),
        designs={"alpha": design, "a": design, "b": design},
        names={"alpha": ("member",), "a": ("member",), "b": ("member",)},
        signs={"alpha": -1.0, "a": 1.0, "b": 1.0},
    )
    result = fit_mle(bgnbd.SPEC, data, covariates=links)
    assert result.coefficients == ("alpha:member", "a:member", "b:member")
    expected = {**truth, **effect}
    for name, value in expected.items():
        error = abs(result.params[name] - value) / result.std_err[name]
        assert error < 3.0, (name, result.params[name], value, result.std_err[name])
    lower, upper = result.conf_int(0.95).loc["alpha:member"]
    assert lower < result.params["alpha:member"] < upper  # a symmetric interval, not logged
    draws = result.parameter_draws(400, np.random.default_rng(1))
    # coefficients are drawn on their own scale (an exponentiated draw would be > 0)
    assert (draws["a:member"] < 0).mean() > 0.95
    np.testing.assert_allclose(np.std(draws["a:member"]), result.std_err["a:member"], rtol=0.15)


def _model_data(key: str, rng: np.random.Generator, n: int = 300) -> dict[str, np.ndarray]:
    if key in ("bgnbd", "mbgnbd", "paretonbd"):
        data = _data(rng, n)
        del data[PATTERN]
        return data
    if key == "gamma_gamma":
        x = rng.integers(0, 6, n).astype(float)
        return {"frequency": x, "monetary_value": np.where(x > 0, rng.gamma(3.0, 10.0, n), 0.0)}
    return {"tenure": rng.integers(1, 8, n).astype(float), "churned": rng.integers(0, 2, n) * 1.0}


@pytest.mark.parametrize("key", ["bgnbd", "mbgnbd", "paretonbd", "gamma_gamma", "sbg"])
def test_every_model_with_covariates_equals_its_row_by_row_likelihood(key):
    """Each process of ``spec.covariate_links`` gets two covariates; the compiled value and
    gradient equal the NumPy likelihood with every customer's own parameters."""
    from clvmodels.backends.compress import prepare_rows
    from clvmodels.backends.design import CovariateLinks
    from clvmodels.backends.mle import _objective

    spec = model_module(key).SPEC
    rng = np.random.default_rng(3)
    data = _model_data(key, rng)
    n = len(next(iter(data.values())))
    matrix = np.column_stack([rng.integers(0, 2, n), rng.integers(0, 3, n) - 1.0])
    names = ("member", "age")
    links = CovariateLinks.build(spec, names, matrix, {p: names for p in spec.covariate_links})
    weight = rng.integers(1, 4, n).astype(float)
    rows, w = prepare_rows(spec, {**data, PATTERN: links.pattern}, weight, (PATTERN,))
    objective = _objective(spec, rows, w, links)  # the rows the fit uses (as fit_mle)
    start = spec.initial_params(data, weight)
    coefs = rng.normal(0.0, 0.3, len(links.coefficient_names()))
    theta = np.concatenate([np.log([start[k] for k in spec.param_names]), coefs])

    def reference(th: np.ndarray) -> float:
        params = dict(zip(spec.param_names, np.exp(th[: len(spec.param_names)]), strict=True))
        offset = len(spec.param_names)
        for name in links.designs:
            k = len(links.names[name])
            shift = links.designs[name] @ th[offset : offset + k]
            params[name] = params[name] * np.exp(links.signs[name] * shift)[links.pattern]
            offset += k
        keep = np.ones(n, bool) if spec.row_mask is None else spec.row_mask(data)
        rows = {c: v[keep] for c, v in data.items()}
        own = {k: np.broadcast_to(v, (n,))[keep] for k, v in params.items()}
        return float(np.sum(weight[keep] * spec.log_likelihood(**own, **rows, xp=numpy_ops)))

    value, grad = objective(theta)
    np.testing.assert_allclose(value, reference(theta), rtol=1e-11)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = 1e-6
        fd = (reference(theta + step) - reference(theta - step)) / 2e-6
        np.testing.assert_allclose(grad[i], fd, rtol=1e-5, atol=1e-5)


def test_covariate_links_name_unknown_processes_and_covariates():
    from clvmodels.backends.design import CovariateLinks
    from clvmodels.errors import FitError

    matrix = np.array([[0.0], [1.0]])
    with pytest.raises(FitError, match="no 'spend' process takes covariates"):
        CovariateLinks.build(bgnbd.SPEC, ("member",), matrix, {"spend": ("member",)})
    with pytest.raises(FitError, match="no covariate 'age'"):
        CovariateLinks.build(bgnbd.SPEC, ("member",), matrix, {"dropout": ("age",)})


def _blas_ops(function) -> list[str]:
    """The names of the matrix-product operations in a compiled PyTensor function."""
    names = (type(node.op).__name__ for node in function.maker.fgraph.toposort())
    return [n for n in names if any(m in n for m in ("Dot", "Gemv", "Gemm", "Ger"))]


def test_covariate_link_is_one_expression_for_numpy_and_pytensor():
    import pytensor
    import pytensor.tensor as pt

    from clvmodels.models.links import covariate_link
    from clvmodels.models.ops import pytensor_ops

    z = [np.array([0.0, 1.0, 2.0, 0.5]), np.array([1.0, 0.0, 1.0, 3.0])]
    expected = 2.0 * np.exp(-(0.3 * z[0] - 0.2 * z[1]))  # θ₀ exp(−γ′z), note 019
    np.testing.assert_allclose(covariate_link(2.0, -1.0, [0.3, -0.2], z), expected, rtol=1e-15)
    gamma = pt.dvector("gamma")
    symbolic = covariate_link(
        pt.as_tensor(2.0), -1.0, [gamma[0], gamma[1]], [pt.as_tensor(c) for c in z],
        pytensor_ops(),
    )
    function = pytensor.function([gamma], symbolic)
    np.testing.assert_allclose(function([0.3, -0.2]), expected, rtol=1e-15)
    assert _blas_ops(function) == []


def test_the_likelihood_graphs_with_covariates_need_no_blas():
    from clvmodels.backends import bayes
    from clvmodels.backends.design import CovariateLinks, FitRows
    from clvmodels.backends.priors import default_priors

    fn, _ = _compiled("bgnbd", bgnbd.log_likelihood, bgnbd.SPEC.param_names,
                      tuple(_data(np.random.default_rng(1))), LINKS)
    assert _blas_ops(fn) == []
    rng = np.random.default_rng(2)
    data = {c: v for c, v in _data(rng).items() if c != PATTERN}
    matrix = np.column_stack([rng.integers(0, 2, len(data["T"])), rng.normal(size=len(data["T"]))])
    links = CovariateLinks.build(
        bgnbd.SPEC, ("member", "age"), matrix, {"purchase": ("member", "age"), "dropout": ("age",)}
    )
    rows = FitRows.of(bgnbd.SPEC, data, None, links)
    priors = default_priors(
        bgnbd.SPEC, {"r": 1.0, "alpha": 5.0, "a": 1.0, "b": 3.0}, links.coefficient_names()
    )
    model = bayes.build_model(bgnbd.SPEC, rows.rows, rows.weights, priors, covariates=links)
    assert _blas_ops(model.compile_logp(jacobian=False).f) == []
