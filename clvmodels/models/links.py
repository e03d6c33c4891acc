"""Customer-specific parameters from time-invariant covariates (the exponential link).

Fader & Hardie (2007), "Incorporating time-invariant covariates into the Pareto/NBD and
BG/NBD models" (note 019), make the scale parameters customer-specific::

    α_i = α₀ exp(−γ₁′z_i)          purchase rate (BG/NBD, Pareto/NBD, MBG/NBD)
    a_i = a₀ exp(γ₂′z_i),  b_i = b₀ exp(γ₃′z_i)   BG/NBD dropout
    β_i = β₀ exp(−γ₂′z_i)          Pareto/NBD dropout

and a customer's likelihood and predictions are the plain model's with her own
parameters.  Which parameters of a model carry covariates, and with which sign, is
declared in ``ModelSpec.covariate_links``; a fitted coefficient is named
``parameter:covariate`` (``alpha:loyalty_member``).

The link is written once, in :func:`covariate_link`, against the array namespace ``xp``
(:mod:`clvmodels.models.ops`): the NumPy predictions (:func:`linked_params`), the
maximum-likelihood backend's PyTensor graph and the PyMC model
(:func:`clvmodels.backends.design.pattern_params`) all evaluate that one expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.spec import SEPARATOR, ModelSpec, link_signs, split_coefficient


def covariate_link(
    baseline: Any,
    sign: float,
    coefficients: Sequence[Any],
    columns: Sequence[Any],
    xp: Ops = numpy_ops,
) -> Any:
    """A parameter per customer: ``θ_i = θ₀ · exp(sign · Σ_c γ_c z_ic)``.

    Fader & Hardie (2007), note 019: ``α_i = α₀ exp(−γ₁′z_i)`` (sign −1 on
    the scale of a rate), ``a_i = a₀ exp(γ₂′z_i)`` (sign +1).  The linear predictor
    ``γ′z_i`` is an elementwise sum (:meth:`~clvmodels.models.ops.Ops.weighted_sum`), not a
    matrix product, so no BLAS call is involved in either array library.

    Parameters
    ----------
    baseline
        ``θ₀``: a scalar, an array of parameter draws of shape ``(draws, 1)``, or a
        symbolic value.
    sign
        The sign of the link (``ModelSpec.covariate_links``).
    coefficients
        ``γ_c`` per covariate (scalars, ``(draws, 1)`` arrays or symbolic values).
    columns
        ``z_c`` per covariate, one value per customer (or per covariate pattern).
    xp
        Array namespace (:data:`~clvmodels.models.ops.numpy_ops` or PyTensor).

    Returns
    -------
    array
        ``θ_i`` broadcast over the customers (and draws).
    """
    return baseline * xp.exp(sign * xp.weighted_sum(coefficients, columns))


def linked_params(
    spec: ModelSpec,
    params: Mapping[str, Any],
    design: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """Each customer's parameters: ``θ_i = θ₀ · exp(sign · Σ_c γ_{θ:c} z_ic)``
    (:func:`covariate_link`, evaluated with NumPy).

    Parameters
    ----------
    spec
        The model (its ``covariate_links`` give the signs).
    params
        Baseline parameters and coefficients (``parameter:covariate``): scalars, or
        arrays of shape ``(draws, 1)`` for a batch of parameter draws.
    design
        The covariate values per design column (each of shape ``(rows,)``).

    Returns
    -------
    dict
        The model's parameters only: those without covariates unchanged, the linked
        ones of shape ``(rows,)`` (scalar parameters) or ``(draws, rows)``.

    Raises
    ------
    KeyError
        A coefficient of a parameter without a link, or of a covariate not in ``design``.
    """
    signs = link_signs(spec)
    out = {k: v for k, v in params.items() if SEPARATOR not in k}
    terms: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for name, gamma in params.items():
        if SEPARATOR not in name:
            continue
        parameter, covariate = split_coefficient(name)
        if parameter not in signs:
            raise KeyError(f"{spec.key}: parameter {parameter!r} takes no covariates")
        if covariate not in design:
            raise KeyError(f"{spec.key}: no values of covariate {covariate!r}")
        coefficients, columns = terms.setdefault(parameter, ([], []))
        coefficients.append(np.asarray(gamma, dtype=float))
        columns.append(np.asarray(design[covariate], dtype=float))
    for parameter, (coefficients, columns) in terms.items():
        baseline = np.asarray(out[parameter], dtype=float)
        out[parameter] = covariate_link(baseline, signs[parameter], coefficients, columns)
    return out
