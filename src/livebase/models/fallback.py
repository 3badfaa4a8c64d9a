"""When the data do not identify a CLV model: say why, and fall back to a fit they do identify.

Two ways maximum likelihood fails on small or very regular bases (audit finding 8 of issue 12):

1. **Parameters run to their limits.** Where nobody stops buying, BG/NBD's likelihood keeps
   rising as the drop-out probability goes to 0 (a → 0, or b → ∞); where everyone buys at the
   same rate, as the Gamma of purchase rates narrows to a point (r, alpha → ∞). The optimiser then
   stops at "estimates" such as r = 5.8e7, a = 1.3e-12: limits, not numbers. The forecast
   formulas (Gauss's hypergeometric function at r ≈ 1e7) lose their precision there, or overflow
   (a base buying every 30 days gave non-finite predictions). Gamma-Gamma does the same when
   customers spend alike (q, v → ∞).

   The fallback is the *constrained* maximum-likelihood fit of the same model, every parameter
   held inside ``SANE_RANGE`` (shape parameters in [1e-4, 1e4], scale parameters in the same range
   times the data's own scale). Why this one:

   - it is still the model the user asked for, and the best fit the data allow where its
     formulas are exact; a parameter pinned at the edge of the range *is* the limit the data
     point to, to forecast precision: a = 1e-4 with b = 1e4 is a mean drop-out probability of
     1e-8 per purchase (the no-drop-out NBD model), r = 1e4 a coefficient of variation of
     purchase rates of 1 % (every customer buys at the same Poisson rate). The tests check the
     constrained BG/NBD against the NBD's closed form (r + x)/(alpha + T)·t;
   - it leaves a healthy base untouched (CDNOW's published estimates are far inside the range),
     where a prior would pull every estimate; and it needs no new model in the store.

   A fit that does not converge at all is refitted the same way. Either way the fit carries a
   ``ClvWarning`` naming the parameters and what their limit means for the marketer.

2. **Few repeat buyers.** Gamma-Gamma learns how spend differs between customers from those who
   bought again; below ``MIN_SPEND_CUSTOMERS`` it cannot. The purchase model is still fitted
   (it learns from everyone), and the value part falls back to the base mean
   (``GammaGamma.pooled``: every customer's expected order value is the mean repeat order
   value), with a warning. The same holds when every repeat buyer has the same mean order value:
   the base mean is then exactly right.

What still raises (documented): ModelError when nobody bought again or no repeat order has a
positive value; ConvergenceError when even the constrained fit does not converge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from livebase.errors import ConvergenceError, ParametersAtLimitError
from livebase.models._base import Box, FittedModel, outside_box, sane_box
from livebase.models.bgnbd import BGNBD
from livebase.models.gamma_gamma import GammaGamma
from livebase.models.mbgnbd import MBGNBD
from livebase.models.summary import CustomerSummary

__all__ = [
    "MIN_SPEND_CUSTOMERS",
    "ClvWarning",
    "ClvWarningCode",
    "fit_purchases",
    "fit_spend",
    "purchase_box",
    "spend_box",
]

#: Customers with a positive repeat order below which Gamma-Gamma is not fitted (the base mean
#: order value is used instead). Gamma-Gamma itself refuses fewer than 10.
MIN_SPEND_CUSTOMERS = 10

ClvWarningCode = Literal[
    "purchase_params_at_bound",
    "purchase_not_converged",
    "spend_params_at_bound",
    "spend_not_converged",
    "few_repeat_buyers",
    "no_spend_spread",
]
Part = Literal["purchases", "spend"]
M = TypeVar("M", bound=FittedModel)

_LABELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "gamma_gamma": "Gamma-Gamma"}

#: What a parameter running low or high means, in the marketer's words.
_MEANING: dict[tuple[str, str], str] = {
    ("a", "low"): "nobody seems to stop buying (no drop-out to estimate)",
    ("b", "high"): "nobody seems to stop buying (no drop-out to estimate)",
    ("a", "high"): "customers seem to stop right after buying again",
    ("b", "low"): "customers seem to stop right after buying again",
    ("r", "high"): "customers buy at nearly the same rate (no spread of rates to learn)",
    ("alpha", "high"): "customers buy at nearly the same rate (no spread of rates to learn)",
    ("r", "low"): "purchase rates differ extremely between customers",
    ("alpha", "low"): "purchase rates differ extremely between customers",
    ("q", "high"): "customers spend nearly the same per order (no spread between customers)",
    ("v", "high"): "customers spend nearly the same per order (no spread between customers)",
    ("p", "high"): "each customer's orders are worth nearly the same every time",
}
_EXTREME = "order values are extremely spread (outliers?)"


@dataclass(frozen=True)
class ClvWarning:
    """Why a CLV fit is not the plain maximum-likelihood fit, and what it did instead.

    ``code`` is stable (for programs), ``part`` says which model it concerns, ``message`` is
    for the marketer.

    >>> w = ClvWarning("few_repeat_buyers", "spend", "only 3 customers bought again")
    >>> ClvWarning.from_dict(w.to_dict()) == w
    True
    """

    code: ClvWarningCode
    part: Part
    message: str

    def to_dict(self) -> dict[str, str]:
        """``{"code", "part", "message"}``."""
        return {"code": self.code, "part": self.part, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClvWarning:
        """Rebuild from ``to_dict`` output."""
        return cls(code=data["code"], part=data["part"], message=str(data["message"]))


def purchase_box(summary: CustomerSummary) -> Box:
    """``SANE_RANGE`` for r, a, b, and for alpha times the mean time observed (mean T).

    >>> import pandas as pd
    >>> from datetime import date
    >>> s = CustomerSummary(pd.DataFrame({"customer_id": ["a"], "x": [1], "t_x": [2.0],
    ...     "T": [20.0], "monetary_value": [5.0], "monetary_x": [1]}), "weeks", date(2024, 1, 1))
    >>> purchase_box(s)["alpha"]
    (0.002, 200000.0)
    """
    mean_t = max(float(summary.table["T"].mean()), 1e-9)
    return sane_box(BGNBD.param_names, {"alpha": mean_t})


def spend_box(summary: CustomerSummary) -> Box:
    """``SANE_RANGE`` for p and q, and for v times the mean repeat order value (each repeat
    order counted once, as in ``GammaGamma.pooled``)."""
    t = summary.table
    x = t["monetary_x"].to_numpy(dtype=np.float64)
    m = t["monetary_value"].to_numpy(dtype=np.float64)
    mean = float(x @ m / x.sum()) if x.sum() > 0 else 1.0
    return sane_box(GammaGamma.param_names, {"v": max(mean, 1e-9)})


def _shown(params: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:.3g}" for k, v in params.items())


#: Two parameters running high together: their ratio is identified, their spread is not.
_BOTH_HIGH: dict[frozenset[str], str] = {
    frozenset({"a", "b"}): "every customer seems to have the same chance of stopping after a "
    "purchase (no spread of drop-out to learn)",
    frozenset({"p", "q"}): "customers spend nearly the same per order (no spread to learn)",
}


def _why(params: dict[str, float], names: list[str], box: Box) -> str:
    """What the parameters outside ``box`` mean, in the marketer's words."""
    high = {n for n in names if params[n] > box[n][1]}
    reasons: list[str] = []
    explained: set[str] = set()
    for pair, reason in _BOTH_HIGH.items():
        if pair <= high:
            reasons.append(reason)
            explained |= pair
    for n in names:
        if n in explained:
            continue
        reason = _MEANING.get((n, "high" if n in high else "low"), _EXTREME)
        if reason not in reasons:
            reasons.append(reason)
    return "; ".join(reasons)


def _refit_message(label: str, problem: str, refit: dict[str, float], box: Box) -> str:
    scale = (
        " (alpha relative to the mean time observed)"
        if "alpha" in box
        else " (v relative to the mean order value)"
    )
    pinned = [n for n, v in refit.items() if any(math.isclose(v, e, rel_tol=1e-6) for e in box[n])]
    edge = f"; at the edge: {', '.join(pinned)}" if pinned else ""
    return (
        f"{label}: {problem}; refitted with every parameter held in [1e-4, 1e4]{scale}: "
        f"{_shown(refit)}{edge}. The forecast uses this constrained fit"
    )


_CODES: dict[tuple[Part, bool], ClvWarningCode] = {
    ("purchases", True): "purchase_params_at_bound",
    ("purchases", False): "purchase_not_converged",
    ("spend", True): "spend_params_at_bound",
    ("spend", False): "spend_not_converged",
}


def _fit_in_range(
    fit: Callable[[Box | None], M], box: Box, label: str, part: Part
) -> tuple[M, list[ClvWarning]]:
    """``fit(None)`` when it converges inside ``box``; else ``fit(box)`` with a warning."""
    fitted: M | None = None
    try:
        fitted = fit(None)
        params = fitted.params
    except ParametersAtLimitError as exc:  # stopped on the edge of e^±30: limits as well
        params = exc.params
    except ConvergenceError as exc:
        params = {}
        problem = f"the maximum-likelihood fit did not converge ({exc})"
    outside = outside_box(params, box) if params else []
    if fitted is not None and not outside:
        return fitted, []
    at_bound = bool(outside)
    if at_bound:
        shown = _shown({n: params[n] for n in outside})
        problem = (
            f"the maximum-likelihood estimates {shown} are limits, not numbers to forecast "
            f"with: {_why(params, outside, box)}"
        )
    elif params:
        problem = "the maximum-likelihood fit ran off to 0 or infinity"
    refit = fit(box)
    message = _refit_message(label, problem, refit.params, box)
    return refit, [ClvWarning(_CODES[part, at_bound], part, message)]


def fit_purchases(
    summary: CustomerSummary, model: type[BGNBD] | type[MBGNBD] = BGNBD
) -> tuple[BGNBD | MBGNBD, list[ClvWarning]]:
    """The purchase model's maximum-likelihood fit, or its constrained refit with a warning.

    See the module docstring. Raises ModelError when nobody bought again, ConvergenceError when
    even the constrained fit fails.
    """

    def fit(box: Box | None) -> BGNBD | MBGNBD:
        return model.fit(summary, box=box)

    return _fit_in_range(fit, purchase_box(summary), _LABELS[model.name], "purchases")


def fit_spend(summary: CustomerSummary) -> tuple[GammaGamma, list[ClvWarning]]:
    """Gamma-Gamma, its constrained refit, or the base mean order value, with a warning.

    See the module docstring. Raises ModelError when no repeat order has a positive value,
    ConvergenceError when even the constrained fit fails.
    """
    t = summary.table
    keep = t["monetary_x"] > 0
    buyers = int(keep.sum())
    if buyers < MIN_SPEND_CUSTOMERS or float(np.ptp(t.loc[keep, "monetary_value"])) == 0.0:
        pooled = GammaGamma.pooled(summary)
        if buyers < MIN_SPEND_CUSTOMERS:
            code: ClvWarningCode = "few_repeat_buyers"
            why = (
                f"only {buyers} customer{'s' if buyers != 1 else ''} bought again with a "
                f"positive order value, and Gamma-Gamma needs at least {MIN_SPEND_CUSTOMERS} to "
                "learn how spend differs between customers"
            )
        else:
            code, why = "no_spend_spread", "every repeat buyer has the same mean order value"
        return pooled, [
            ClvWarning(
                code,
                "spend",
                f"Gamma-Gamma not fitted: {why}. Every customer's expected order value is the "
                f"base's mean repeat order value, {pooled.population_mean:,.2f}; the purchase "
                "model is fitted as usual",
            )
        ]

    def fit(box: Box | None) -> GammaGamma:
        return GammaGamma.fit(summary, box=box)

    return _fit_in_range(fit, spend_box(summary), "Gamma-Gamma", "spend")
