"""MBG/NBD: BG/NBD where a customer may also drop out right after the first purchase.

The modified BG/NBD of Batislam, Denizel & Filiztekin (2007) [1]: as in BG/NBD [2] purchases
arrive at a Poisson rate lambda ~ Gamma(r, alpha) while the customer is alive, but the dropout
coin (p ~ Beta(a, b)) is tossed after *every* purchase including the first, so a one-time buyer
is not certainly alive (in BG/NBD P(alive | x = 0) = 1, which overstates one-timers' value).

References
----------
[1] Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
    models for customer base analysis. International Journal of Research in Marketing 24(3),
    201-209.
[2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way.
    Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, hyp2f1

from livebase.errors import ModelError
from livebase.models._base import (
    Box,
    FittedModel,
    FloatArray,
    Unit,
    as_float_array,
    check_unit,
    compress_rows,
    expected_purchases_if_alive,
)
from livebase.models.bgnbd import _x_groups, fit_counting_model
from livebase.models.summary import CustomerSummary

__all__ = ["MBGNBD", "mbgnbd_log_likelihood", "simulate_mbgnbd"]


def _ll_terms(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(A3, A4, log-lik) per row."""
    # L = Γ(r+x)α^r/Γ(r) · [B(a, b+x+1)/B(a,b) (α+T)^-(r+x) + B(a+1, b+x)/B(a,b) (α+t_x)^-(r+x)]
    # ([1], section 2.2), with B(a+1, b+x)/B(a, b+x+1) = a/(b+x).
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + 1.0) - gammaln(b) - gammaln(a + b + x + 1.0)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    return a3, a4, a1 + a2 + np.logaddexp(a3, a4)


def mbgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: object, t_x: object, T: object
) -> FloatArray:
    """Per-customer MBG/NBD log-likelihood.

    >>> round(float(mbgnbd_log_likelihood(0.5, 5.0, 1.0, 3.0, [0], [0.0], [38.86])[0]), 4)
    -0.6867
    """
    xs = as_float_array(x, "x")
    txs = as_float_array(t_x, "t_x")
    Ts = as_float_array(T, "T")
    return _ll_terms(r, alpha, a, b, xs, txs, Ts)[2]


def _neg_ll_and_grad(
    z: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    w: FloatArray,
    x_groups: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood and its gradient; x-only terms once per distinct x."""
    r, alpha, a, b = np.exp(z)
    total = float(w.sum())
    # distinct x and the total weight of each (precomputed by the fit: same every iteration)
    ux, wx = x_groups if x_groups is not None else _x_groups(x, w)
    x_part = gammaln(r + ux) + gammaln(b + ux + 1.0) - gammaln(a + b + ux + 1.0)
    ll_const = -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
    log_at = np.log(alpha + T)
    log_atx = np.log(alpha + t_x)
    a3 = -(r + x) * log_at
    a4 = np.log(a) - np.log(b + x) - (r + x) * log_atx
    lse = np.logaddexp(a3, a4)
    ll_sum = float(wx @ x_part) + ll_const * total + float(w @ lse)
    s4 = np.exp(a4 - lse)
    s3 = 1.0 - s4
    d_r = float(wx @ (digamma(r + ux) - digamma(r))) + np.log(alpha) * total
    d_r -= float(w @ (s3 * log_at + s4 * log_atx))
    d_alpha = r / alpha * total - float(w @ ((r + x) * (s3 / (alpha + T) + s4 / (alpha + t_x))))
    d_a = float(wx @ (digamma(a + b) - digamma(a + b + ux + 1.0))) + float(w @ s4) / a
    d_b = float(
        wx @ (digamma(a + b) + digamma(b + ux + 1.0) - digamma(b) - digamma(a + b + ux + 1.0))
    )
    d_b -= float(w @ (s4 / (b + x)))
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b], dtype=np.float64)
    return -ll_sum / total, -grad / total


@dataclass(frozen=True, kw_only=True)
class MBGNBD(FittedModel):
    """A fitted MBG/NBD model (Batislam et al. 2007). Times are in ``unit``.

    >>> m = MBGNBD(r=0.5, alpha=5.0, a=1.2, b=3.0, log_likelihood=-1.0, customers=1)
    >>> round(float(m.p_alive([0], [0.0], [10.0])[0]), 3)
    0.591
    """

    name: ClassVar[str] = "mbgnbd"
    version: ClassVar[int] = 1
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def fit(cls, summary: CustomerSummary, *, box: Box | None = None) -> MBGNBD:
        """Fit on a calibration summary (see ``summarise``); inside ``box`` when given."""
        t = summary.table
        return cls.fit_arrays(
            t["x"], t["t_x"], t["T"], unit=summary.unit, until=summary.until, box=box
        )

    @classmethod
    def fit_arrays(
        cls,
        x: object,
        t_x: object,
        T: object,
        *,
        weights: object | None = None,
        unit: Unit = "weeks",
        until: date | None = None,
        box: Box | None = None,
    ) -> MBGNBD:
        """Maximum-likelihood fit on arrays of x, t_x, T (optionally weighted rows)."""
        unit = check_unit(unit)
        params, log_likelihood, customers = fit_counting_model(
            _neg_ll_and_grad, x, t_x, T, weights, model=cls.name, label="MBG/NBD", box=box
        )
        return cls(
            **params,
            log_likelihood=log_likelihood,
            customers=customers,
            unit=unit,
            until=until,
        )

    def expected_purchases_new(self, t: object) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t]."""
        ts = as_float_array(t, "t")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1.0) < 1e-9:
            raise ModelError("E[X(t)] is undefined for a = 1 exactly; refit the model")
        hyp = hyp2f1(r, b + 1.0, a + b, ts / (alpha + ts))
        out: FloatArray = b / (a - 1.0) * (1.0 - (alpha / (alpha + ts)) ** r * hyp)
        return out

    def p_alive(self, x: object, t_x: object, T: object) -> FloatArray:
        """P(alive at T | x, t_x, T) = 1 / (1 + a/(b+x) · ((alpha+T)/(alpha+t_x))^(r+x))."""
        xs, txs, Ts = as_float_array(x, "x"), as_float_array(t_x, "t_x"), as_float_array(T, "T")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        log_ratio = (r + xs) * (np.log(alpha + Ts) - np.log(alpha + txs))
        out: FloatArray = 1.0 / (1.0 + a / (b + xs) * np.exp(np.minimum(log_ratio, 700.0)))
        return out

    def expected_purchases(self, t: float, x: object, t_x: object, T: object) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t]."""
        xs, txs, Ts = as_float_array(x, "x"), as_float_array(t_x, "t_x"), as_float_array(T, "T")
        if t < 0:
            raise ModelError("the horizon t must be >= 0")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1.0) < 1e-9:
            raise ModelError("E[Y(t)] is undefined for a = 1 exactly; refit the model")
        cols, _, inverse = compress_rows(xs, txs, Ts)
        ux, utx, uT = cols
        # BG/NBD's Eq. 10 with the posterior of p one dropout opportunity later (b -> b + 1)
        hyp = hyp2f1(r + ux, b + ux + 1.0, a + b + ux, t / (alpha + uT + t))
        head = (a + b + ux) / (a - 1.0)
        tail = 1.0 - ((alpha + uT) / (alpha + uT + t)) ** (r + ux) * hyp
        alive = self.p_alive(ux, utx, uT)
        values = head * tail * alive
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():  # the hypergeometric function failed (a + b + x - 1 near 0): integrate
            post = (b + ux + 1.0)[bad]
            values[bad] = alive[bad] * expected_purchases_if_alive(
                t, r, alpha, a, post, ux[bad], uT[bad]
            )
        out: FloatArray = values[inverse]
        return out

    def predict(self, summary: CustomerSummary, t: float) -> pd.DataFrame:
        """customer_id, p_alive and expected purchases in (T, T + t] for a summary."""
        if summary.unit != self.unit:
            raise ModelError(
                f"the model was fitted in {self.unit} but the summary is in {summary.unit}: "
                "summarise with the model's unit"
            )
        s = summary.table
        return pd.DataFrame(
            {
                "customer_id": s["customer_id"].to_numpy(),
                "p_alive": self.p_alive(s["x"], s["t_x"], s["T"]),
                "expected_purchases": self.expected_purchases(t, s["x"], s["t_x"], s["T"]),
            }
        )


def simulate_mbgnbd(
    n: int, *, r: float, alpha: float, a: float, b: float, T: object, seed: int
) -> pd.DataFrame:
    """Simulate x, t_x, T of ``n`` customers from the MBG/NBD process (seeded).

    As ``simulate_bgnbd``, but the customer may drop out right after the first purchase.

    >>> sim = simulate_mbgnbd(500, r=0.5, alpha=5.0, a=0.8, b=2.5, T=40.0, seed=1)
    >>> bool((sim["t_x"] <= sim["T"]).all())
    True
    """
    rng = np.random.default_rng(seed)
    Ts = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    arrivals = rng.poisson(lam * Ts)
    dropout_after = rng.geometric(p) - 1  # dies right after its J-th repeat purchase, J >= 0
    x = np.minimum(arrivals, dropout_after)
    t_x = np.zeros(n)
    has = x > 0
    t_x[has] = Ts[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    return pd.DataFrame({"x": x.astype(np.int64), "t_x": t_x, "T": Ts})
