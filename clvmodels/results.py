"""The one result type every backend produces.

Like statsmodels' results objects, a :class:`FitResult` holds everything a fit
produced — point estimates, their uncertainty (an MLE covariance matrix or posterior
draws), the log-likelihood and optimiser or sampler diagnostics — so that CLV,
evaluation, reports and the CLI never need to know how a model was fitted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels._version import __version__
from clvmodels.errors import FitError, ModelLoadError

FORMAT_VERSION = 1


@dataclass
class FitResult:
    """Fitted parameters of one model, whatever the backend.

    Attributes
    ----------
    model
        Model key (``"bgnbd"``, ``"paretonbd"``, ...).
    backend
        ``"mle"`` or ``"bayes"``.
    param_names
        Parameter names in paper notation, in the model's order.
    params
        Point estimates: the maximum-likelihood estimate, or posterior means.
    log_likelihood
        Log-likelihood at ``params`` (summed over customers).
    n_obs
        Number of customers (total weight) the model was fitted on.
    n_unique
        Number of distinct data rows after collapsing identical customers.
    cov_log
        Covariance matrix of the log-parameters (MLE: inverse observed information);
        covariate coefficients enter it as they are, not logged.
    draws
        Posterior draws per parameter, flattened over chains (Bayesian backend).
    diagnostics
        Optimiser or sampler diagnostics (iterations, gradient norm, R-hat, ...).
    time_unit
        Time unit of the training data (``"D"``, ``"W"``, or ``None`` for discrete models).
    data_fingerprint
        Fingerprint of the training data, checked when a saved model is reloaded.
    version
        clvmodels version that produced the fit.
    coefficients
        Names of the covariate coefficients among ``param_names``: real numbers,
        estimated and reported on their own scale (every other parameter is positive
        and handled on the log scale).
    covariate_encoding
        How the fit's covariates were built from a customer table
        (:meth:`clvmodels.data.covariates.Covariates.encoding`), so that customers can
        be scored with the same design columns; ``None`` without covariates.
    fixed
        Names of parameters held fixed during the fit, with their values in ``params``
        but not among ``param_names``: a discrete parameter chosen by profile likelihood
        (the ``k`` of the BG/CNBD-k, estimated by fitting the others at each ``k``).  They
        count as parameters in AIC and BIC, carry no sampling uncertainty (every draw of
        :meth:`parameter_draws` holds their value) and appear in :meth:`summary` with a
        zero-width interval.
    dynamic_covariates
        Time-varying covariates per process (``{"purchase": [...], "dropout": [...]}``)
        of a fit of :mod:`clvmodels.models.paretonbd_dynamic` or
        :mod:`clvmodels.models.bgnbd_dynamic`, whose coefficients are named
        ``process:covariate``; ``None`` for every other fit.
    tied
        Coefficients constrained equal to another (``{"b:member": "a:member"}``: one
        coefficient shared by ``a`` and ``b``, CLVTools' ``names.cov.constr``).  A tied
        coefficient has its value in ``params`` but is not among ``param_names`` (it is
        no free parameter: not counted in AIC/BIC, no row of ``cov_log``); every draw of
        :meth:`parameter_draws` holds its source's value.
    hierarchy
        A hierarchical (partially pooled) fit: ``{"group": column, "levels": [...],
        "counts": [...], "parameters": [...]}`` — the customer column whose levels are the
        groups, their sizes, and the model parameters drawn per group
        (:mod:`clvmodels.models.groups`); ``None`` for every other fit.
    """

    model: str
    backend: str
    param_names: tuple[str, ...]
    params: dict[str, float]
    log_likelihood: float
    n_obs: float
    n_unique: int
    cov_log: np.ndarray | None = None
    draws: dict[str, np.ndarray] | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    time_unit: str | None = None
    data_fingerprint: str = ""
    version: str = __version__
    coefficients: tuple[str, ...] = ()
    covariate_encoding: dict[str, Any] | None = None
    fixed: tuple[str, ...] = ()
    dynamic_covariates: dict[str, list[str]] | None = None
    tied: dict[str, str] = field(default_factory=dict)
    hierarchy: dict[str, Any] | None = None

    # ------------------------------------------------------------------ coordinates
    def _coordinates(self) -> np.ndarray:
        """The estimates in the coordinates of ``cov_log``: the log of every positive
        parameter, covariate coefficients (``coefficients``) as they are."""
        return np.array(
            [
                self.params[k] if k in self.coefficients else math.log(self.params[k])
                for k in self.param_names
            ]
        )

    def _from_coordinates(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Parameters from values in those coordinates (last axis: parameters)."""
        return from_coordinates(self.param_names, self.coefficients, values)

    # ------------------------------------------------------------------ statistics
    @property
    def n_params(self) -> int:
        """Number of parameters: the estimated ones and those chosen by profiling
        (``fixed``)."""
        return len(self.param_names) + len(self.fixed)

    @property
    def aic(self) -> float:
        """Akaike information criterion, −2 LL + 2k."""
        return -2.0 * self.log_likelihood + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion, −2 LL + k log n."""
        return -2.0 * self.log_likelihood + self.n_params * math.log(max(self.n_obs, 1.0))

    @property
    def std_err(self) -> dict[str, float]:
        """Standard errors: delta method on the log scale (MLE) or posterior sd (Bayes)."""
        if self.draws is not None:
            return {k: float(np.std(self.draws[k], ddof=1)) for k in self.param_names}
        if self.cov_log is None:
            return {k: math.nan for k in self.param_names}
        sd_log = np.sqrt(np.clip(np.diag(self.cov_log), 0.0, np.inf))
        return {
            k: float(s if k in self.coefficients else self.params[k] * s)
            for k, s in zip(self.param_names, sd_log, strict=True)
        }

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Interval per parameter: log-scale Wald interval (MLE) or equal-tailed (Bayes).

        MLE intervals are formed on the log scale, ``exp(log θ ± z·se(log θ))``, so
        they stay positive (covariate coefficients: ``γ ± z·se(γ)``); ``z`` is the normal
        quantile for ``level`` (never a hard-coded 1.96).
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level}")
        tail = (1.0 - level) / 2.0
        rows = {}
        if self.draws is not None:
            for k in self.param_names:
                lo, hi = np.quantile(self.draws[k], [tail, 1.0 - tail])
                rows[k] = (float(lo), float(hi))
        else:
            from scipy import stats  # here, not at import: SciPy's statistics load slowly

            z = stats.norm.ppf(1.0 - tail)
            sd_log = (
                np.full(len(self.param_names), np.nan)
                if self.cov_log is None
                else np.sqrt(np.clip(np.diag(self.cov_log), 0.0, np.inf))
            )
            centre = self._coordinates()
            bounds = self._from_coordinates(np.stack([centre - z * sd_log, centre + z * sd_log]))
            for k in self.param_names:
                rows[k] = (float(bounds[k][0]), float(bounds[k][1]))
        return pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper"])

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Parameter table: estimate, standard error and interval bounds; with posterior
        draws the estimate is the posterior mean, ``std_err`` its sd, ``lower``/``upper``
        the equal-tailed interval, plus the highest-density interval (``hdi_lower``,
        ``hdi_upper``), R-hat and bulk/tail ESS."""
        interval = self.conf_int(level)
        table = pd.DataFrame(
            {
                "estimate": [self.params[k] for k in self.param_names],
                "std_err": [self.std_err[k] for k in self.param_names],
                "lower": interval["lower"].to_numpy(),
                "upper": interval["upper"].to_numpy(),
            },
            index=pd.Index(self.param_names, name="parameter"),
        )
        if self.draws is not None:
            hdi = {k: hdi_interval(self.draws[k], level) for k in self.param_names}
            table["hdi_lower"] = [hdi[k][0] for k in self.param_names]
            table["hdi_upper"] = [hdi[k][1] for k in self.param_names]
            per = self.diagnostics.get("parameters", {})
            for column in ("r_hat", "ess_bulk", "ess_tail"):
                table[column] = [per.get(k, {}).get(column, math.nan) for k in self.param_names]
        if self.fixed:
            profiled = pd.DataFrame(
                {c: [self.params[k] for k in self.fixed] for c in ("estimate", "lower", "upper")}
                | {"std_err": 0.0},
                index=pd.Index(self.fixed, name="parameter"),
            )
            table = pd.concat([table, profiled[["estimate", "std_err", "lower", "upper"]]])
        table.attrs["level"] = level
        return table

    def parameter_draws(self, n_draws: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draws of the parameters expressing their uncertainty.

        Bayesian fits return (a subsample of) the posterior draws; MLE fits draw from
        the asymptotic normal distribution of the log-parameters (parametric
        bootstrap), so every draw is positive; covariate coefficients are drawn on their
        own scale.

        Raises
        ------
        FitError
            An MLE result without a finite covariance (:func:`undetermined_error`).
        """
        if self.draws is not None:
            total = len(next(iter(self.draws.values())))
            idx = rng.choice(total, size=n_draws, replace=n_draws > total)
            return self._with_fixed({k: np.asarray(self.draws[k])[idx] for k in self.param_names})
        if self.cov_log is None or not np.all(np.isfinite(self.cov_log)):
            finite = (
                np.zeros(len(self.param_names), dtype=bool)
                if self.cov_log is None
                else np.all(np.isfinite(self.cov_log), axis=1)
            )
            loose = [k for k, ok in zip(self.param_names, finite, strict=True) if not ok]
            raise undetermined_error(self.model, loose, intervals=True)
        sample = rng.multivariate_normal(
            self._coordinates(), self.cov_log, size=n_draws, method="eigh"
        )
        return self._with_fixed(self._from_coordinates(sample))

    def _with_fixed(self, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``draws`` plus a constant draw of every ``fixed`` parameter and, for every
        ``tied`` coefficient, its source's draws."""
        n = len(next(iter(draws.values())))
        out = {**draws, **{k: np.full(n, float(self.params[k])) for k in self.fixed}}
        return out | {k: out[source] for k, source in self.tied.items()}

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (posterior draws are not included)."""
        return {
            "format": FORMAT_VERSION,
            "clvmodels_version": self.version,
            "model": self.model,
            "backend": self.backend,
            "param_names": list(self.param_names),
            "params": {k: float(v) for k, v in self.params.items()},
            "log_likelihood": float(self.log_likelihood),
            "n_obs": float(self.n_obs),
            "n_unique": int(self.n_unique),
            "cov_log": None if self.cov_log is None else np.asarray(self.cov_log).tolist(),
            "diagnostics": _jsonable(self.diagnostics),
            "time_unit": self.time_unit,
            "data_fingerprint": self.data_fingerprint,
            "coefficients": list(self.coefficients),
            "covariate_encoding": self.covariate_encoding,
            "fixed": list(self.fixed),
            "dynamic_covariates": self.dynamic_covariates,
            "tied": dict(self.tied),
            "hierarchy": _jsonable(self.hierarchy),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any], source: str = "<dict>") -> FitResult:
        """Rebuild a result saved with :meth:`to_dict`; checks format and version."""
        try:
            if payload.get("format") != FORMAT_VERSION:
                raise ModelLoadError(
                    f"{source}: model file format {payload.get('format')!r} is not "
                    f"supported (expected {FORMAT_VERSION})"
                )
            saved = str(payload["clvmodels_version"])
            if saved.split(".")[:2] != __version__.split(".")[:2]:
                raise ModelLoadError(
                    f"{source}: saved by clvmodels {saved}, incompatible with the installed "
                    f"{__version__}; refit the model with this version"
                )
            cov = payload.get("cov_log")
            return cls(
                model=str(payload["model"]),
                backend=str(payload["backend"]),
                param_names=tuple(payload["param_names"]),
                params={k: float(v) for k, v in payload["params"].items()},
                log_likelihood=float(payload["log_likelihood"]),
                n_obs=float(payload["n_obs"]),
                n_unique=int(payload["n_unique"]),
                cov_log=None if cov is None else np.asarray(cov, dtype=float),
                diagnostics=dict(payload.get("diagnostics", {})),
                time_unit=payload.get("time_unit"),
                data_fingerprint=str(payload.get("data_fingerprint", "")),
                version=saved,
                coefficients=tuple(payload.get("coefficients", ())),
                covariate_encoding=payload.get("covariate_encoding"),
                fixed=tuple(payload.get("fixed", ())),
                dynamic_covariates=payload.get("dynamic_covariates"),
                tied={str(k): str(v) for k, v in (payload.get("tied") or {}).items()},
                hierarchy=payload.get("hierarchy"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelLoadError):
                raise
            raise ModelLoadError(f"{source}: not a clvmodels model file ({exc!r})") from None

    def save(self, path: str | Path) -> None:
        """Write the result atomically (a temporary file, then a rename): JSON for MLE
        fits, netCDF for fits with posterior draws (the draws per chain as variables,
        everything else — version, model, time unit, data fingerprint, diagnostics — as
        the same JSON payload in the file's attributes)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        if self.draws is None:
            tmp.write_text(json.dumps(self.to_dict(), indent=2))
        else:
            self.draws_dataset().to_netcdf(tmp, engine="scipy")
        tmp.replace(path)

    def draws_dataset(self) -> Any:
        """The posterior draws as an xarray Dataset with dimensions (chain, draw).

        Variables are named after the parameters; characters a netCDF name cannot hold
        portably — ``/``, control and non-ASCII characters (SciPy's writer knows only
        Latin-1, netCDF readers expect UTF-8), trailing blanks — and ``%`` are
        percent-encoded (UTF-8), which :meth:`load` undoes.  Coefficient names such as
        ``alpha:member`` or ``a:channel[web]`` stay as they are.
        """
        from urllib.parse import quote

        import xarray as xr

        if self.draws is None:
            raise ValueError(f"{self.model}: no posterior draws (an MLE fit)")
        shape = self.diagnostics.get("draws_shape") or [1, len(self.draws[self.param_names[0]])]
        safe = "".join(chr(c) for c in range(32, 127) if chr(c) not in "/%")

        def netcdf_name(name: str) -> str:
            encoded = quote(name, safe=safe)
            stripped = encoded.rstrip(" ")
            return stripped + "%20" * (len(encoded) - len(stripped))

        variables = {
            netcdf_name(k): (
                ("chain", "draw"),
                np.asarray(self.draws[k], dtype=float).reshape(shape),
            )
            for k in self.param_names
        }
        return xr.Dataset(variables, attrs={"clvmodels": json.dumps(self.to_dict())})

    def inference_data(self) -> Any:
        """The posterior as an ArviZ object (``InferenceData``, or a ``DataTree`` with
        ArviZ ≥ 1), for ArviZ's plots and summaries."""
        import arviz as az

        posterior = {k: v.values for k, v in self.draws_dataset().data_vars.items()}
        try:
            return az.from_dict(posterior=posterior)
        except TypeError:  # ArviZ >= 1: from_dict({"posterior": {...}})
            return az.from_dict({"posterior": posterior})

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """Read a result written by :meth:`save` (JSON or netCDF)."""
        path = Path(path)
        try:
            head = path.read_bytes()[:4]
        except FileNotFoundError:
            raise ModelLoadError(f"{path}: no such model file") from None
        except OSError as exc:
            raise ModelLoadError(f"{path}: not a readable model file ({exc})") from None
        if head[:3] == b"CDF":
            return cls._load_netcdf(path)
        try:
            payload = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{path}: not a readable JSON model file ({exc})") from None
        if not isinstance(payload, dict):
            raise ModelLoadError(f"{path}: not a clvmodels model file")
        return cls.from_dict(payload, source=str(path))

    @classmethod
    def _load_netcdf(cls, path: Path) -> FitResult:
        from urllib.parse import unquote

        import xarray as xr

        try:
            with xr.open_dataset(path, engine="scipy") as data:
                payload = json.loads(data.attrs["clvmodels"])
                # variable names are the parameters' names, percent-encoded (draws_dataset)
                draws = {
                    unquote(str(k)): np.asarray(data[k].values, dtype=float) for k in data.data_vars
                }
        except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{path}: not a clvmodels netCDF model file ({exc})") from None
        result = cls.from_dict(payload, source=str(path))
        result.draws = {k: v.reshape(-1) for k, v in draws.items()}
        return result


def undetermined_error(
    model: str, names: Sequence[str], *, intervals: bool = False
) -> FitError:
    """The one error of a fit whose data do not pin down every parameter.

    Raised by the MLE backend when a fit's observed information is singular or
    ill-conditioned or an estimate runs to the edge of the parameter space
    (:func:`clvmodels.backends.information.undetermined`), and — ``intervals`` — when
    parameter draws are asked of a result without a finite covariance (built by hand,
    or saved before fits were checked so).  Names the model and the parameters and
    says what to do.
    """
    if intervals:
        why = "the observed information is not positive definite at the estimate"
        then = "so there are no parameter draws for intervals; set clv.interval: null "
        then += "(predict: leave out --interval), "
    else:
        them = "them" if len(names) > 1 else "it"
        why = f"the log-likelihood is flat along {them} or rises to the edge of the parameter space"
        then = f"so the fit has no estimate of {them}; "
    return FitError(
        f"{model}: the data do not pin down {', '.join(names)} ({why}), {then}give more "
        "varied histories, simplify the model, or fit it with backend: bayes, whose priors "
        "keep every parameter finite"
    )


def from_coordinates(
    names: tuple[str, ...], coefficients: tuple[str, ...], values: np.ndarray
) -> dict[str, np.ndarray]:
    """Parameters from values in estimation coordinates (last axis: ``names``): the
    exponential of log-parameters, covariate ``coefficients`` as they are."""
    values = np.asarray(values, dtype=float)
    return {
        k: values[..., i] if k in coefficients else np.exp(values[..., i])
        for i, k in enumerate(names)
    }


def hdi_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    """Highest-density interval: the shortest interval holding ``level`` of the draws."""
    values = np.sort(np.asarray(draws, dtype=float))
    n = len(values)
    width = max(1, min(n - 1, math.ceil(level * n) - 1))
    spans = values[width:] - values[: n - width]
    i = int(np.argmin(spans))
    return float(values[i]), float(values[i + width])


def _jsonable(value: Any) -> Any:
    """Convert NumPy scalars/arrays inside nested containers to JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
