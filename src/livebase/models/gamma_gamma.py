"""Gamma-Gamma: how much a customer spends per transaction.

Fader & Hardie's model of monetary value [1] (the spend model of Fader, Hardie & Lee 2005 [2]):
the value of each transaction of a customer is Gamma(p, nu); across customers nu ~ Gamma(q, v).
It is fitted on customers with at least one (positive-value) repeat transaction, from the
number x of repeat transactions and their mean value m_x; it assumes spend per transaction is
independent of purchase frequency, which ``fit`` checks (``FrequencyValueCorrelationWarning``).

References
----------
[1] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
    http://brucehardie.com/notes/025/
[2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for
    Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from livebase.errors import ModelError
from livebase.models._base import (
    SANE_RANGE,
    Box,
    FittedModel,
    FloatArray,
    Unit,
    as_float_array,
    check_unit,
    compress_rows,
    maximise_log_likelihood,
)
from livebase.models.summary import CustomerSummary

__all__ = [
    "CORRELATION_WARNING_THRESHOLD",
    "FrequencyValueCorrelationWarning",
    "GammaGamma",
    "gamma_gamma_log_likelihood",
]

#: |Pearson r| between x and m_x above which ``GammaGamma.fit`` warns. Fader & Hardie [1] find
#: r = 0.11 on CDNOW and call that weak; 0.3 is the conventional start of a "moderate" correlation.
CORRELATION_WARNING_THRESHOLD = 0.3


class FrequencyValueCorrelationWarning(UserWarning):
    """Purchase frequency and spend per transaction are correlated: Gamma-Gamma assumes not.

    ``correlation`` holds the Pearson correlation between x and m_x.
    """

    def __init__(self, correlation: float) -> None:
        self.correlation = correlation
        super().__init__(
            f"frequency and average order value are correlated (Pearson r = {correlation:.3f}, "
            f"|r| > {CORRELATION_WARNING_THRESHOLD}); Gamma-Gamma assumes they are independent, "
            "so expected order values (and CLV) may be biased"
        )


def _ll(p: float, q: float, v: float, x: FloatArray, m: FloatArray) -> FloatArray:
    # Eq. 4 of [1]: f(m_x | p, q, v; x), the density of the mean of x Gamma(p, nu) values
    # integrated over nu ~ Gamma(q, v), in logs.
    px = p * x
    out: FloatArray = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )
    return out


def gamma_gamma_log_likelihood(p: float, q: float, v: float, x: object, m: object) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of mean value ``m`` over ``x`` transactions.

    >>> round(float(gamma_gamma_log_likelihood(6.25, 3.74, 15.44, [2], [22.35])[0]), 4)
    -3.5513
    """
    return _ll(p, q, v, as_float_array(x, "x"), as_float_array(m, "m"))


def _neg_ll_and_grad(
    z: FloatArray, x: FloatArray, m: FloatArray, w: FloatArray
) -> tuple[float, FloatArray]:
    p, q, v = np.exp(z)
    total = float(w.sum())
    ll = _ll(p, q, v, x, m)
    px = p * x
    psi = digamma(px + q)
    log_vmx = np.log(v + m * x)
    d_p = x * (psi - digamma(px) + np.log(m) + np.log(x) - log_vmx)
    d_q = psi - digamma(q) + np.log(v) - log_vmx
    d_v = q / v - (px + q) / (v + m * x)
    grad = np.array([w @ d_p * p, w @ d_q * q, w @ d_v * v], dtype=np.float64)
    return -float(w @ ll) / total, -grad / total


@dataclass(frozen=True, kw_only=True)
class GammaGamma(FittedModel):
    """A fitted Gamma-Gamma spend model (p, q, v of Fader & Hardie's note).

    ``correlation`` is the Pearson correlation between x and m_x on the fitted customers.

    >>> m = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=-4000.0, customers=946)
    >>> round(float(m.expected_aov([2], [22.35])[0]), 2)
    24.66
    >>> round(m.population_mean, 2)
    35.22
    """

    name: ClassVar[str] = "gamma_gamma"
    version: ClassVar[int] = 1
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")

    p: float
    q: float
    v: float
    correlation: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The base dict plus ``correlation``."""
        out = super().to_dict()
        out["correlation"] = self.correlation
        return out

    @classmethod
    def fit(cls, summary: CustomerSummary, *, box: Box | None = None) -> GammaGamma:
        """Fit on the customers of a summary with a positive repeat transaction (inside
        ``box`` when given)."""
        t = summary.table
        keep = t["monetary_x"] > 0
        return cls.fit_arrays(
            t.loc[keep, "monetary_x"],
            t.loc[keep, "monetary_value"],
            unit=summary.unit,
            until=summary.until,
            box=box,
        )

    @classmethod
    def pooled(cls, summary: CustomerSummary) -> GammaGamma:
        """Every customer's expected order value is the base's mean repeat order value.

        The limit of Gamma-Gamma with no spread between customers: q at the top of
        ``SANE_RANGE`` (1e4), p = 1 and v = (q - 1)·mean/p, so the population mean p·v/(q - 1)
        is the mean value of the repeat transactions (each weighted by its count) and a
        customer's own mean gets the weight p·x/(p·x + q - 1) (below 0.1 % up to 10 repeat
        transactions). Used when too few customers bought again to learn the spread of spend;
        nothing is fitted. ModelError when no repeat transaction has a positive value.

        >>> s = CustomerSummary(pd.DataFrame({"customer_id": ["a", "b", "c"], "x": [2, 1, 0],
        ...     "t_x": [3.0, 2.0, 0.0], "T": [4.0, 4.0, 4.0], "monetary_value": [10.0, 40.0, 0.0],
        ...     "monetary_x": [2, 1, 0]}), unit="weeks", until=date(2024, 1, 31))
        >>> m = GammaGamma.pooled(s)
        >>> m.population_mean, m.customers
        (20.0, 2)
        """
        t = summary.table
        keep = t["monetary_x"] > 0
        x = as_float_array(t.loc[keep, "monetary_x"], "monetary_x")
        m = as_float_array(t.loc[keep, "monetary_value"], "monetary value")
        if not np.any(m > 0):
            raise ModelError(
                "no repeat purchase has a positive value: customer value cannot be estimated; "
                "check that the orders' amounts are loaded (or use a longer period)"
            )
        mean = float(x @ m / x.sum())
        p, q = 1.0, SANE_RANGE[1]
        v = (q - 1.0) * mean / p
        return cls(
            p=p,
            q=q,
            v=v,
            log_likelihood=float(_ll(p, q, v, x, m).sum()),
            customers=len(x),
            unit=summary.unit,
            until=summary.until,
        )

    @classmethod
    def fit_arrays(
        cls,
        x: object,
        m: object,
        *,
        weights: object | None = None,
        unit: Unit = "weeks",
        until: date | None = None,
        box: Box | None = None,
    ) -> GammaGamma:
        """Maximum-likelihood fit on x (repeat transactions, > 0) and m (their mean value, > 0).

        Warns ``FrequencyValueCorrelationWarning`` when |corr(x, m)| exceeds
        ``CORRELATION_WARNING_THRESHOLD``. Raises ModelError with fewer than 10 customers or
        when all mean values are equal (no spread to learn the distribution from). With
        ``box`` the parameters are held inside it (see ``livebase.models.fallback``).
        """
        unit = check_unit(unit)
        xs, ms = as_float_array(x, "x"), as_float_array(m, "monetary value")
        if len(xs) != len(ms):
            raise ModelError("x and monetary value must have the same length")
        if np.any(xs <= 0) or np.any(ms <= 0):
            raise ModelError(
                "Gamma-Gamma needs customers with at least one repeat transaction of positive "
                "value (x > 0 and monetary value > 0): filter the summary on monetary_x > 0"
            )
        w0 = np.ones_like(xs) if weights is None else as_float_array(weights, "weights")
        customers = float(w0.sum())
        if customers < 10:
            raise ModelError(
                f"only {customers:.0f} customers with a repeat purchase: Gamma-Gamma needs at "
                "least 10; use a longer calibration period"
            )
        if float(np.ptp(ms)) == 0.0:
            raise ModelError(
                "every repeat buyer has the same average order value: the spread of spend "
                "cannot be estimated"
            )
        correlation = _weighted_correlation(xs, ms, w0)
        if abs(correlation) > CORRELATION_WARNING_THRESHOLD:
            warnings.warn(FrequencyValueCorrelationWarning(correlation), stacklevel=2)
        cols, counts, inverse = compress_rows(xs, ms)
        w = np.bincount(inverse, weights=w0, minlength=len(counts)).astype(np.float64)
        mean = float(w @ cols[1] / w.sum())
        start = {"p": 1.0, "q": 2.0, "v": mean}
        params, mean_ll, _ = maximise_log_likelihood(
            lambda z: _neg_ll_and_grad(z, cols[0], cols[1], w), start, model=cls.name, box=box
        )
        return cls(
            **params,
            correlation=correlation,
            log_likelihood=mean_ll * customers,
            customers=round(customers),
            unit=unit,
            until=until,
        )

    @property
    def population_mean(self) -> float:
        """E[value per transaction] of a customer we know nothing about: p·v/(q - 1)."""
        if self.q <= 1.0:
            raise ModelError(
                f"q = {self.q:.3g} <= 1: the fitted spend distribution has no finite mean "
                "(heavy tail from extreme order values); cap outliers and refit"
            )
        return self.p * self.v / (self.q - 1.0)

    def expected_aov(self, x: object, m: object) -> FloatArray:
        """E[M | p, q, v; x, m_x]: expected value per transaction, Eq. 5 of [1].

        A weighted mean of the population mean and the customer's own mean m_x. A customer with
        x = 0 gets the population mean (needs q > 1, else ModelError).
        """
        xs, ms = as_float_array(x, "x"), as_float_array(m, "monetary value")
        p, q, v = self.p, self.q, self.v
        known = xs > 0
        out = np.empty_like(xs)
        out[known] = p * (v + xs[known] * ms[known]) / (p * xs[known] + q - 1.0)
        if np.any(~known):
            out[~known] = self.population_mean
        if not np.all(np.isfinite(out)) or np.any(out < 0):
            raise ModelError("expected order value is not finite: cap outliers and refit")
        return out

    def predict(self, summary: CustomerSummary) -> pd.DataFrame:
        """customer_id and expected_aov for every customer of a summary."""
        t = summary.table
        return pd.DataFrame(
            {
                "customer_id": t["customer_id"].to_numpy(),
                "expected_aov": self.expected_aov(t["monetary_x"], t["monetary_value"]),
            }
        )


def _weighted_correlation(x: FloatArray, m: FloatArray, w: FloatArray) -> float:
    if float(np.ptp(x)) == 0.0:
        return 0.0
    mx = float(w @ x / w.sum())
    mm = float(w @ m / w.sum())
    cov = float(w @ ((x - mx) * (m - mm)))
    var = float(w @ (x - mx) ** 2) * float(w @ (m - mm) ** 2)
    return cov / float(np.sqrt(var)) if var > 0 else 0.0
