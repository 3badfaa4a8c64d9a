"""Customer lifetime value over a horizon: purchases (BG/NBD or MBG/NBD) × spend (Gamma-Gamma).

CLV over a horizon of H days, with a monthly discount rate d and a margin (share of revenue
that is profit, 1.0 = revenue), is the discounted sum of expected monthly revenue:

    CLV_H = margin · E[AOV] · Σ_{k=1..K} (E[Y(b_k)] - E[Y(b_{k-1})]) / (1 + d)^k

where E[Y(t)] is the expected number of purchases in (T, T + t] (Eq. 10 of Fader, Hardie & Lee
2005 for BG/NBD), b_k = min(k · 30.4375 days, H) the end of month k (a month is 365.25/12 days,
the last one may be partial) and K = ceil(H / 30.4375). Spend and purchases are independent in
Gamma-Gamma, so expected revenue is their product (Fader, Hardie & Lee 2005, "RFM and CLV",
section 3). It is the discrete-time version of their discounted expected residual transactions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from livebase.errors import ModelError
from livebase.models._base import UNIT_DAYS, FittedModel, FloatArray, PurchaseModel, compress_rows
from livebase.models.bgnbd import BGNBD
from livebase.models.fallback import ClvWarning, fit_purchases, fit_spend
from livebase.models.gamma_gamma import GammaGamma
from livebase.models.mbgnbd import MBGNBD
from livebase.models.summary import CustomerSummary

__all__ = [
    "DAYS_PER_MONTH",
    "ClvFit",
    "PurchaseModelName",
    "fit_clv",
    "model_from_dict",
    "predict_clv",
]

DAYS_PER_MONTH = 365.25 / 12
PurchaseModelName = Literal["bgnbd", "mbgnbd"]
_MODELS: dict[str, type[FittedModel]] = {
    BGNBD.name: BGNBD,
    MBGNBD.name: MBGNBD,
    GammaGamma.name: GammaGamma,
}


def model_from_dict(data: Mapping[str, Any]) -> FittedModel:
    """Load any saved model (``to_dict`` output) by its ``model`` name.

    >>> m = model_from_dict({"model": "gamma_gamma", "version": 1, "params": {"p": 6.25,
    ...     "q": 3.74, "v": 15.44}, "log_likelihood": -1.0, "unit": "weeks", "until": None,
    ...     "customers": 946})
    >>> type(m).__name__, m.params["q"]
    ('GammaGamma', 3.74)
    """
    name = data.get("model")
    cls = _MODELS.get(str(name))
    if cls is None:
        raise ModelError(f"unknown saved model {name!r}: known models are {', '.join(_MODELS)}")
    return cls.from_dict(data)


@dataclass(frozen=True)
class ClvFit:
    """A purchase model and a spend model fitted on the same calibration summary.

    ``warnings`` say where a model is not the plain maximum-likelihood fit and why
    (``livebase.models.fallback``): a constrained refit, or the base mean order value.
    """

    purchases: BGNBD | MBGNBD
    spend: GammaGamma
    warnings: tuple[ClvWarning, ...] = ()

    @property
    def as_of(self) -> date | None:
        """The calibration end the models were fitted up to."""
        return self.purchases.until

    def to_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints (and the store keeps): both models' parameters, customers,
        as_of, ``fit_warnings`` (code, part, message of each ``ClvWarning``), and under
        ``models`` the full saved form of each model.

        >>> bg = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4,
        ...            customers=2357, until=date(1997, 9, 30))
        >>> gg = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=-4055.9, customers=946)
        >>> d = ClvFit(bg, gg).to_dict()
        >>> d["bgnbd"]["r"], d["gamma_gamma"]["v"], d["customers"], d["as_of"]
        (0.243, 15.44, 2357, '1997-09-30')
        >>> ClvFit.from_dict(d) == ClvFit(bg, gg)
        True
        """
        purchases = dict(self.purchases.params, log_likelihood=self.purchases.log_likelihood)
        spend = dict(
            self.spend.params,
            log_likelihood=self.spend.log_likelihood,
            customers=self.spend.customers,
            correlation=self.spend.correlation,
        )
        return {
            self.purchases.name: purchases,
            "gamma_gamma": spend,
            "customers": self.purchases.customers,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "unit": self.purchases.unit,
            "fit_warnings": [w.to_dict() for w in self.warnings],
            "models": {"purchases": self.purchases.to_dict(), "spend": self.spend.to_dict()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClvFit:
        """Rebuild from ``to_dict`` output (reads its ``models`` entry)."""
        models = data.get("models")
        if not isinstance(models, Mapping) or not {"purchases", "spend"} <= set(models):
            raise ModelError("a saved CLV fit needs 'models' with 'purchases' and 'spend'")
        purchases = model_from_dict(models["purchases"])
        spend = model_from_dict(models["spend"])
        if not isinstance(purchases, BGNBD | MBGNBD) or not isinstance(spend, GammaGamma):
            raise ModelError("a saved CLV fit holds the wrong kinds of model")
        saved_warnings = data.get("fit_warnings") or []
        return cls(
            purchases=purchases,
            spend=spend,
            warnings=tuple(ClvWarning.from_dict(w) for w in saved_warnings),
        )


def fit_clv(summary: CustomerSummary, *, model: PurchaseModelName = "bgnbd") -> ClvFit:
    """Fit the purchase model (BG/NBD or MBG/NBD) and Gamma-Gamma on one summary.

    Where the data do not identify a model the fit falls back and says so in ``warnings``
    (``livebase.models.fallback``): parameters running to their limits give a constrained
    refit; fewer than 10 repeat buyers give the base mean order value for the spend part. May
    warn ``FrequencyValueCorrelationWarning``. Raises ModelError when nobody bought again (or
    no repeat order has a value), ConvergenceError when even the constrained fit fails.
    """
    if model not in ("bgnbd", "mbgnbd"):
        raise ModelError(f"unknown purchase model {model!r}: valid values are 'bgnbd', 'mbgnbd'")
    purchases, purchase_warnings = fit_purchases(summary, BGNBD if model == "bgnbd" else MBGNBD)
    spend, spend_warnings = fit_spend(summary)
    return ClvFit(purchases, spend, tuple(purchase_warnings + spend_warnings))


def _month_bounds(horizon_days: float) -> FloatArray:
    months = math.ceil(horizon_days / DAYS_PER_MONTH - 1e-12)
    bounds = np.minimum(np.arange(0, months + 1) * DAYS_PER_MONTH, horizon_days)
    return np.asarray(bounds, dtype=np.float64)


def predict_clv(
    summary: CustomerSummary,
    purchases: PurchaseModel,
    spend: GammaGamma,
    *,
    horizons_days: Sequence[int] = (90, 365),
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
) -> pd.DataFrame:
    """Per-customer predictions as features, one row per customer of ``summary``.

    Columns: ``customer_id``, ``p_alive``, ``expected_aov``, then for each horizon h (days)
    ``expected_purchases_<h>d`` and ``clv_<h>d``. No value is NaN: a model that cannot give one
    raises ModelError instead.

    >>> s = CustomerSummary(pd.DataFrame({"customer_id": ["a", "b"], "x": [2, 0],
    ...     "t_x": [30.43, 0.0], "T": [38.86, 38.86], "monetary_value": [22.35, 0.0],
    ...     "monetary_x": [2, 0]}), unit="weeks", until=date(1997, 9, 30))
    >>> bg = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0, customers=2)
    >>> gg = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, customers=1)
    >>> predict_clv(s, bg, gg, horizons_days=[365]).round(2).values.tolist()
    [['a', 0.73, 24.66, 1.56, 36.29], ['b', 1.0, 35.22, 0.25, 8.37]]
    """
    if summary.unit != purchases.unit:
        raise ModelError(
            f"the purchase model is in {purchases.unit} but the summary in {summary.unit}: "
            "summarise with the model's unit"
        )
    if not horizons_days or any(h <= 0 for h in horizons_days):
        raise ModelError("horizons must be positive numbers of days, e.g. 90, 365")
    if not 0.0 <= monthly_discount_rate < 1.0:
        raise ModelError("monthly_discount_rate must be in [0, 1), e.g. 0.01 for 1% a month")
    if not 0.0 < margin <= 1.0:
        raise ModelError("margin must be in (0, 1]: the share of revenue that is profit")
    t = summary.table
    unit_days = UNIT_DAYS[summary.unit]
    x = t["x"].to_numpy(dtype=np.float64)
    t_x = t["t_x"].to_numpy(dtype=np.float64)
    T = t["T"].to_numpy(dtype=np.float64)
    (ux, utx, uT), _, inverse = compress_rows(x, t_x, T)
    out: dict[str, Any] = {"customer_id": t["customer_id"].to_numpy()}
    out["p_alive"] = purchases.p_alive(ux, utx, uT)[inverse]
    aov = spend.expected_aov(t["monetary_x"], t["monetary_value"])
    out["expected_aov"] = aov
    cache: dict[float, FloatArray] = {0.0: np.zeros_like(ux)}

    def expected(days: float) -> FloatArray:
        if days not in cache:
            cache[days] = purchases.expected_purchases(days / unit_days, ux, utx, uT)
        return cache[days]

    for h in horizons_days:
        bounds = _month_bounds(float(h))
        discounted = np.zeros_like(ux)
        for k in range(1, len(bounds)):
            step = expected(float(bounds[k])) - expected(float(bounds[k - 1]))
            discounted += step / (1.0 + monthly_discount_rate) ** k
        out[f"expected_purchases_{h}d"] = expected(float(h))[inverse]
        out[f"clv_{h}d"] = margin * aov * discounted[inverse]
    frame = pd.DataFrame(out)
    numeric = frame.drop(columns="customer_id")
    if not np.all(np.isfinite(numeric.to_numpy(dtype=np.float64))):
        bad = [c for c in numeric.columns if not np.all(np.isfinite(numeric[c]))]
        raise ModelError(
            f"predictions are not finite in {', '.join(bad)}: the fitted parameters are "
            "degenerate for this base; check the summary for extreme values and refit"
        )
    return frame
