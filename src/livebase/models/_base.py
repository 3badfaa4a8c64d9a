"""The small base every CLV model stands on: MLE fitting, compression, summary, save/load.

A fitted model is a frozen dataclass: its parameters, the maximised log-likelihood, the time
unit, the calibration end (``until``) and the number of customers it was fitted on. It saves to
and loads from a plain JSON-able dict (``to_dict`` / ``from_dict``), which is what the store keeps.

Fitting maximises a vectorised log-likelihood over the *unique* rows of the input (each with a
weight = how many customers share it), in log-parameter space (all parameters are positive) with
L-BFGS-B and an analytic gradient. Customer data are recorded in days, so a base of a million
customers has far fewer distinct (x, t_x, T) rows than customers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar, Literal, Protocol, Self, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import roots_jacobi

from livebase.errors import ConvergenceError, ModelError, ParametersAtLimitError

__all__ = [
    "SANE_RANGE",
    "UNIT_DAYS",
    "Box",
    "FittedModel",
    "FloatArray",
    "IntArray",
    "PurchaseModel",
    "Unit",
    "compress_rows",
    "expected_purchases_if_alive",
    "maximise_log_likelihood",
    "outside_box",
    "sane_box",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
Unit = Literal["days", "weeks"]
UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0}

#: Where a CLV model's parameters are identified and its forecasts numerically sound: shape
#: parameters (r, a, b, p, q) inside [1e-4, 1e4]; scale parameters (alpha, v) inside the same
#: range times the data's own scale (the mean T, the mean order value), so that the range does
#: not depend on the time unit or the currency. A maximum-likelihood estimate outside it is a
#: limit the data point to (no drop-out seen, no spread between customers), not a number to
#: forecast with: ``livebase.models.fallback`` refits inside it.
SANE_RANGE = (1e-4, 1e4)

#: Lower and upper bound of each parameter, by name.
Box: TypeAlias = dict[str, tuple[float, float]]

#: A function of log-parameters returning (negative log-likelihood, its gradient in log space).
Objective = Callable[[FloatArray], tuple[float, FloatArray]]


def check_unit(unit: str) -> Unit:
    """Return ``unit`` if it is a known time unit, else raise a ModelError naming the options."""
    if unit == "days":
        return "days"
    if unit == "weeks":
        return "weeks"
    raise ModelError(f"unknown time unit {unit!r}: valid values are 'days', 'weeks'")


def as_float_array(values: object, name: str) -> FloatArray:
    """A 1-D float array of ``values``; ModelError if it holds NaN, inf or negative numbers."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{name} holds missing or infinite values: clean the summary first")
    if np.any(arr < 0):
        raise ModelError(f"{name} holds negative values: it must be >= 0")
    return arr


def compress_rows(*columns: FloatArray) -> tuple[list[FloatArray], FloatArray, IntArray]:
    """Unique rows of equal-length columns, how often each occurs, and each row's unique index.

    Hash-based (one ``pandas.factorize`` per column, then one on the combined code), so it is
    linear in the number of rows; ``unique[inverse]`` rebuilds the input.

    >>> cols, w, inv = compress_rows(np.array([1.0, 1.0, 2.0]), np.array([5.0, 5.0, 5.0]))
    >>> [c.tolist() for c in cols], w.tolist(), inv.tolist()
    ([[1.0, 2.0], [5.0, 5.0]], [2.0, 1.0], [0, 0, 1])
    """
    if not columns:
        raise ValueError("compress_rows needs at least one column")
    key = np.zeros(len(columns[0]), dtype=np.int64)
    uniques: list[FloatArray] = []
    for column in columns:
        codes, values = pd.factorize(column, sort=False)
        uniques.append(np.asarray(values, dtype=np.float64))
        key = key * len(values) + codes
        # re-factorize to keep the combined key dense (and far from int64 overflow)
        key, _ = pd.factorize(key, sort=False)
        key = key.astype(np.int64)
    inverse = key
    n_unique = int(inverse.max()) + 1 if len(inverse) else 0
    first = np.full(n_unique, -1, dtype=np.int64)
    # index of one representative row per unique key
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
    out = [np.asarray(c, dtype=np.float64)[first] for c in columns]
    counts = np.bincount(inverse, minlength=n_unique).astype(np.float64)
    return out, counts, inverse


def sane_box(names: tuple[str, ...], scales: Mapping[str, float] | None = None) -> Box:
    """``SANE_RANGE`` for each parameter, times its scale (1 when not in ``scales``).

    >>> sane_box(("r", "alpha"), {"alpha": 30.0})
    {'r': (0.0001, 10000.0), 'alpha': (0.003, 300000.0)}
    """
    low, high = SANE_RANGE
    out: Box = {}
    for n in names:
        scale = float((scales or {}).get(n, 1.0))
        out[n] = (low * scale, high * scale)
    return out


def outside_box(params: Mapping[str, float], box: Box) -> list[str]:
    """Names of the parameters outside ``box`` (or not finite), in the order of ``params``.

    >>> outside_box({"r": 5.8e7, "a": 1.3e-12, "b": 2.0}, sane_box(("r", "a", "b")))
    ['r', 'a']
    """
    out = []
    for n, v in params.items():
        low, high = box[n]
        if not (math.isfinite(v) and low * (1 - 1e-9) <= v <= high * (1 + 1e-9)):
            out.append(n)
    return out


def maximise_log_likelihood(
    objective: Objective,
    start: Mapping[str, float],
    *,
    model: str,
    max_iterations: int = 1000,
    box: Box | None = None,
) -> tuple[dict[str, float], float, int]:
    """Maximise a log-likelihood over positive parameters; return (params, log-lik, iterations).

    ``objective`` takes the log of the parameters (in the order of ``start``) and returns the
    *negative* log-likelihood and its gradient with respect to the log-parameters. Raises
    ConvergenceError with the optimiser's state when it stops without converging.

    With ``box`` the maximum is sought inside it (a constrained fit): a parameter may then end
    on the box's edge, which is the constrained estimate, not an error. Without it a parameter
    running off to 0 or infinity (beyond e^±30) is a ConvergenceError.
    """
    names = list(start)
    if box is None:
        bounds = [(-30.0, 30.0)] * len(names)
    else:
        bounds = [(math.log(box[n][0]), math.log(box[n][1])) for n in names]
    z0 = np.log(np.array([start[n] for n in names], dtype=np.float64))
    z0 = np.clip(z0, [b[0] for b in bounds], [b[1] for b in bounds])
    result = minimize(
        objective,
        z0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-8},
    )
    params = {n: float(v) for n, v in zip(names, np.exp(result.x), strict=True)}
    if box is not None:  # exp(log(bound)) may miss the bound by a rounding error
        params = {n: min(max(v, box[n][0]), box[n][1]) for n, v in params.items()}
    ll = -float(result.fun)
    state: dict[str, object] = {
        "iterations": int(result.nit),
        "message": str(result.message),
        "parameters": {k: round(v, 6) for k, v in params.items()},
        "log_likelihood": ll,
    }
    if not math.isfinite(ll) or not all(math.isfinite(v) for v in params.values()):
        raise ConvergenceError(
            f"{model}: the log-likelihood is not finite at the optimiser's last point; "
            "the data may be degenerate (check the summary for extreme values)",
            state=state,
        )
    at_bound = [n for n, z in zip(names, result.x, strict=True) if abs(z) >= 29.9]
    if at_bound and box is None:
        raise ParametersAtLimitError(
            f"{model}: parameter(s) {', '.join(at_bound)} ran off to 0 or infinity; the data "
            "do not identify the model (too few repeat buyers, or a too short calibration period)",
            params=params,
            state=state,
        )
    if not result.success:
        # L-BFGS-B stops with ABNORMAL when the line search cannot improve at machine precision;
        # that is convergence if the gradient is already small relative to the objective (only
        # along the free directions: on a box edge the gradient points out of the box).
        grad = np.asarray(result.jac, dtype=np.float64)
        low = np.array([b[0] for b in bounds])
        high = np.array([b[1] for b in bounds])
        grad = np.where((result.x <= low + 1e-9) & (grad > 0), 0.0, grad)
        grad = np.where((result.x >= high - 1e-9) & (grad < 0), 0.0, grad)
        if float(np.max(np.abs(grad))) > 1e-4 * max(1.0, abs(ll)):
            raise ConvergenceError(f"{model}: the optimiser did not converge", state=state)
    return params, ll, int(result.nit)


def expected_purchases_if_alive(
    t: float, r: float, alpha: float, a: float, b_post: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[purchases in (T, T + t] | alive at T] of the BG/NBD family, by quadrature over p.

    Given a customer is alive at T after x repeat purchases, their rate is
    lambda ~ Gamma(r + x, alpha + T) and their drop-out probability p ~ Beta(a, b_post)
    (b_post = b + x for BG/NBD, b + x + 1 for MBG/NBD). A live customer with (lambda, p) makes
    (1 - exp(-p·lambda·t))/p purchases in t on average, whose mean over lambda is
    (1 - ((alpha + T)/(alpha + T + p·t))^(r + x))/p; the mean over p is a Gauss-Jacobi sum
    (80 nodes; exact in the Beta weight, however close a or b_post are to 0). It agrees with
    the closed form (Eq. 10 of Fader, Hardie & Lee 2005 over P(alive)) to 1e-12 where that is
    finite; the models use it where the hypergeometric function of the closed form is not
    (a + b + x - 1 near 0). b_post above about 1,000 overflows the quadrature (NaN): the closed
    form is sound there.

    >>> got = expected_purchases_if_alive(39.0, 0.243, 4.414, 0.793, np.array([4.426]),
    ...                                   np.array([2.0]), np.array([38.86]))
    >>> round(float(got[0]), 4)
    1.6874
    """
    out = np.empty(len(x), dtype=np.float64)
    for bp in np.unique(b_post):
        rows = b_post == bp
        u, w = roots_jacobi(80, float(bp) - 1.0, a - 1.0)  # weight (1 - u)^(b-1) (1 + u)^(a-1)
        p = (1.0 + u) / 2.0
        shift = p[None, :] * t / (alpha + T[rows, None])
        g = -np.expm1(-(r + x[rows, None]) * np.log1p(shift)) / p[None, :]
        out[rows] = g @ w / w.sum()
    return out


@dataclass(frozen=True, kw_only=True)
class FittedModel:
    """Fields shared by every fitted model; subclasses add their parameters as float fields.

    ``until`` is the calibration end (``None`` for models fitted on arrays without a date);
    ``customers`` the number of customers the fit used.
    """

    name: ClassVar[str] = "model"
    version: ClassVar[int] = 1
    param_names: ClassVar[tuple[str, ...]] = ()

    log_likelihood: float
    customers: int
    unit: Unit = "weeks"
    until: date | None = None

    @property
    def params(self) -> dict[str, float]:
        """The model's parameters by name."""
        return {n: float(getattr(self, n)) for n in self.param_names}

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict: model name, version, parameters, log-likelihood, unit, until."""
        return {
            "model": self.name,
            "version": self.version,
            "params": self.params,
            "log_likelihood": self.log_likelihood,
            "unit": self.unit,
            "until": self.until.isoformat() if self.until is not None else None,
            "customers": self.customers,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a model saved with ``to_dict``; ModelError if it is another model or version."""
        name = data.get("model")
        if name != cls.name:
            raise ModelError(f"expected a saved {cls.name!r} model, got {name!r}")
        version = data.get("version")
        if version != cls.version:
            raise ModelError(
                f"saved {cls.name!r} model has version {version!r}; this livebase reads version "
                f"{cls.version}: fit the model again"
            )
        params = data.get("params")
        if not isinstance(params, Mapping) or set(params) != set(cls.param_names):
            raise ModelError(
                f"saved {cls.name!r} model must have params {', '.join(cls.param_names)}"
            )
        until = data.get("until")
        kwargs: dict[str, Any] = {n: float(params[n]) for n in cls.param_names}
        known = {f.name for f in fields(cls)}
        kwargs.update(
            log_likelihood=float(data["log_likelihood"]),
            customers=int(data["customers"]),
            unit=check_unit(str(data.get("unit", "weeks"))),
            until=date.fromisoformat(until) if until else None,
        )
        for extra in known - set(kwargs):
            if extra in data:  # model-specific saved fields (e.g. Gamma-Gamma's correlation)
                kwargs[extra] = data[extra]
        return cls(**kwargs)

    def summary(self) -> str:
        """One line: model, parameters, log-likelihood, customers, unit and calibration end."""
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        until = f", until {self.until.isoformat()}" if self.until else ""
        return (
            f"{self.name}: {ps}; log-likelihood {self.log_likelihood:.1f} on "
            f"{self.customers} customers ({self.unit}{until})"
        )


class PurchaseModel(Protocol):
    """What CLV and validation need of a fitted purchase-count model (BG/NBD, MBG/NBD)."""

    name: ClassVar[str]

    @property
    def unit(self) -> Unit: ...

    @property
    def until(self) -> date | None: ...

    @property
    def customers(self) -> int: ...

    @property
    def log_likelihood(self) -> float: ...

    @property
    def params(self) -> dict[str, float]: ...

    def to_dict(self) -> dict[str, Any]: ...

    def p_alive(self, x: object, t_x: object, T: object) -> FloatArray: ...

    def expected_purchases(self, t: float, x: object, t_x: object, T: object) -> FloatArray: ...

    def expected_purchases_new(self, t: object) -> FloatArray: ...
