"""BG/NBD: how many purchases a customer will make, and whether they are still "alive".

The beta-geometric/negative-binomial model of Fader, Hardie & Lee (2005) [1]: while alive a
customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each repeat purchase they drop
out with probability p ~ Beta(a, b). It is fitted by maximum likelihood on the per-customer
summary (x repeat transactions, last one at t_x, observed for T since the first purchase).

References
----------
[1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way:
    An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
[2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) using the BG/NBD
    model. http://brucehardie.com/notes/021/
"""

from __future__ import annotations

from collections.abc import Callable
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
    maximise_log_likelihood,
)
from livebase.models.summary import CustomerSummary

__all__ = ["BGNBD", "bgnbd_log_likelihood", "simulate_bgnbd"]


def _check_summary(x: FloatArray, t_x: FloatArray, T: FloatArray) -> None:
    if not (len(x) == len(t_x) == len(T)):
        raise ModelError("x, t_x and T must have the same length")
    if len(x) == 0:
        raise ModelError("no customers to fit: the summary is empty")
    if np.any(x != np.floor(x)):
        raise ModelError("x (repeat transactions) must be whole numbers")
    if np.any(t_x > T + 1e-9):
        raise ModelError("t_x (time of the last purchase) cannot exceed T (time observed)")
    if np.any((x > 0) & (t_x <= 0)):
        raise ModelError(
            "customers with repeat purchases must have t_x > 0: at most one transaction "
            "per customer-day (use summarise())"
        )


def _ll_terms(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-row pieces of the log-likelihood: (A1 + A2, A3, A4, log-lik); A4 = -inf when x = 0."""
    # Eq. 6 of [1], in logs: L = A1·A2·(exp(A3) + δ(x>0)·exp(A4))
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2, a3, a4, a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: object, t_x: object, T: object
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood, Eq. 6 of Fader, Hardie & Lee (2005).

    >>> round(float(bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, [2], [30.43], [38.86])[0]), 4)
    -9.4586
    """
    xs = as_float_array(x, "x")
    txs = as_float_array(t_x, "t_x")
    Ts = as_float_array(T, "T")
    return _ll_terms(r, alpha, a, b, xs, txs, Ts)[3]


def _x_groups(x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    ux, index = np.unique(x, return_inverse=True)
    return ux, np.bincount(index, weights=w, minlength=len(ux)).astype(np.float64)


def _neg_ll_and_grad(
    z: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    w: FloatArray,
    x_groups: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood (weights w) and its gradient in log-parameters.

    Terms that depend on x alone (log-gammas, digammas) are evaluated once per distinct x and
    weighted by the total weight of that x; only the time terms are evaluated per row.
    """
    r, alpha, a, b = np.exp(z)
    total = float(w.sum())
    # distinct x and the total weight of each (precomputed by the fit: same every iteration)
    ux, wx = x_groups if x_groups is not None else _x_groups(x, w)
    # Eq. 6 of [1]: log L = A1 + A2 + log(exp(A3) + δ(x>0) exp(A4)), split as
    # x-only part: gammaln(r+x) - gammaln(r) + r log α + gammaln(a+b) + gammaln(b+x) - gammaln(b)
    #              - gammaln(a+b+x); per-row part: logaddexp(A3, A4)
    x_part = gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux)
    ll_const = -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    log_at = np.log(alpha + T)
    log_atx = np.log(alpha + t_x)
    a3 = -(r + x) * log_at
    a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * log_atx, -np.inf)
    lse = np.logaddexp(a3, a4)
    ll_sum = float(wx @ x_part) + ll_const * total + float(w @ lse)
    s4 = np.exp(a4 - lse)  # weights of the two terms of the sum inside the log
    s3 = 1.0 - s4
    d_r = float(wx @ (digamma(r + ux) - digamma(r))) + np.log(alpha) * total
    d_r -= float(w @ (s3 * log_at + s4 * log_atx))
    d_alpha = r / alpha * total - float(w @ ((r + x) * (s3 / (alpha + T) + s4 / (alpha + t_x))))
    d_a = float(wx @ (digamma(a + b) - digamma(a + b + ux))) + float(w @ s4) / a
    d_b = float(wx @ (digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux)))
    d_b -= float(w @ np.where(repeat, s4 / b_x1, 0.0))
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b], dtype=np.float64)
    return -ll_sum / total, -grad / total


NegLogLikelihood = Callable[
    [FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, tuple[FloatArray, FloatArray]],
    tuple[float, FloatArray],
]


def fit_counting_model(
    neg_ll_and_grad: NegLogLikelihood,
    x: object,
    t_x: object,
    T: object,
    weights: object | None,
    *,
    model: str,
    label: str,
    box: Box | None = None,
) -> tuple[dict[str, float], float, int]:
    """Fit a (x, t_x, T) purchase model by maximum likelihood; shared by BG/NBD and MBG/NBD.

    Rows are compressed to distinct (x, t_x, T) with weights, x-only terms grouped by x.
    Returns (parameters, log-likelihood, customers).
    """
    xs, txs, Ts = as_float_array(x, "x"), as_float_array(t_x, "t_x"), as_float_array(T, "T")
    _check_summary(xs, txs, Ts)
    w0 = np.ones_like(xs) if weights is None else as_float_array(weights, "weights")
    cols, counts, inverse = compress_rows(xs, txs, Ts)
    w = np.bincount(inverse, weights=w0, minlength=len(counts)).astype(np.float64)
    customers = float(w.sum())
    if not np.any((cols[0] > 0) & (w > 0)):
        raise ModelError(
            f"nobody made a repeat purchase in the calibration period: {label} cannot be "
            "fitted; use a longer calibration period (a later --until)"
        )
    groups = _x_groups(cols[0], w)
    rate = float(w @ cols[0]) / max(float(w @ cols[2]), 1e-9)
    start = {"r": 1.0, "alpha": 1.0 / max(rate, 1e-6), "a": 1.0, "b": 1.0}
    params, mean_ll, _ = maximise_log_likelihood(
        lambda z: neg_ll_and_grad(z, cols[0], cols[1], cols[2], w, groups),
        start,
        model=model,
        box=box,
    )
    return params, mean_ll * customers, round(customers)


@dataclass(frozen=True, kw_only=True)
class BGNBD(FittedModel):
    """A fitted BG/NBD model (Fader, Hardie & Lee 2005). Times are in ``unit``.

    >>> m = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, customers=2357)
    >>> round(float(m.p_alive([2], [30.43], [38.86])[0]), 3)
    0.727
    >>> BGNBD.from_dict(m.to_dict()) == m
    True
    """

    name: ClassVar[str] = "bgnbd"
    version: ClassVar[int] = 1
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def fit(cls, summary: CustomerSummary, *, box: Box | None = None) -> BGNBD:
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
    ) -> BGNBD:
        """Maximum-likelihood fit on arrays of x, t_x, T (optionally weighted rows).

        Raises ModelError when nobody made a repeat purchase (the dropout process cannot be
        estimated) and ConvergenceError, with the optimiser's state, when the fit fails.
        With ``box`` the parameters are held inside it (see ``livebase.models.fallback``).
        """
        unit = check_unit(unit)
        params, log_likelihood, customers = fit_counting_model(
            _neg_ll_and_grad, x, t_x, T, weights, model=cls.name, label="BG/NBD", box=box
        )
        return cls(
            **params,
            log_likelihood=log_likelihood,
            customers=customers,
            unit=unit,
            until=until,
        )

    def expected_purchases_new(self, t: object) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t], Eq. 9 of [1]."""
        ts = as_float_array(t, "t")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1.0) < 1e-9:
            raise ModelError("E[X(t)] is undefined for a = 1 exactly; refit the model")
        z = ts / (alpha + ts)
        hyp = hyp2f1(r, b, a + b - 1.0, z)
        out: FloatArray = (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + ts)) ** r * hyp)
        return out

    def p_alive(self, x: object, t_x: object, T: object) -> FloatArray:
        """P(alive at T | x, t_x, T), from the note [2] (Eq. 1 there)."""
        xs, txs, Ts = as_float_array(x, "x"), as_float_array(t_x, "t_x"), as_float_array(T, "T")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        repeat = xs > 0
        b_x1 = np.where(repeat, b + xs - 1.0, 1.0)
        log_ratio = (r + xs) * (np.log(alpha + Ts) - np.log(alpha + txs))
        odds = np.where(repeat, a / b_x1 * np.exp(np.minimum(log_ratio, 700.0)), 0.0)
        out: FloatArray = 1.0 / (1.0 + odds)
        return out

    def expected_purchases(self, t: float, x: object, t_x: object, T: object) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t], Eq. 10 of [1]."""
        xs, txs, Ts = as_float_array(x, "x"), as_float_array(t_x, "t_x"), as_float_array(T, "T")
        if t < 0:
            raise ModelError("the horizon t must be >= 0")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1.0) < 1e-9:
            raise ModelError("E[Y(t)] is undefined for a = 1 exactly; refit the model")
        cols, _, inverse = compress_rows(xs, txs, Ts)
        ux, utx, uT = cols
        z = t / (alpha + uT + t)
        hyp = hyp2f1(r + ux, b + ux, a + b + ux - 1.0, z)
        head = (a + b + ux - 1.0) / (a - 1.0)
        tail = 1.0 - ((alpha + uT) / (alpha + uT + t)) ** (r + ux) * hyp
        alive = self.p_alive(ux, utx, uT)
        values = head * tail * alive
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():  # the hypergeometric function failed (a + b + x - 1 near 0): integrate
            post = (b + ux)[bad]
            values[bad] = alive[bad] * expected_purchases_if_alive(
                t, r, alpha, a, post, ux[bad], uT[bad]
            )
        out: FloatArray = values[inverse]
        return out

    def predict(self, summary: CustomerSummary, t: float) -> pd.DataFrame:
        """customer_id, p_alive and expected purchases in (T, T + t] for a summary."""
        self._check_unit(summary)
        s = summary.table
        return pd.DataFrame(
            {
                "customer_id": s["customer_id"].to_numpy(),
                "p_alive": self.p_alive(s["x"], s["t_x"], s["T"]),
                "expected_purchases": self.expected_purchases(t, s["x"], s["t_x"], s["T"]),
            }
        )

    def _check_unit(self, summary: CustomerSummary) -> None:
        if summary.unit != self.unit:
            raise ModelError(
                f"the model was fitted in {self.unit} but the summary is in {summary.unit}: "
                "summarise with the model's unit"
            )


def simulate_bgnbd(
    n: int, *, r: float, alpha: float, a: float, b: float, T: object, seed: int
) -> pd.DataFrame:
    """Simulate x, t_x, T of ``n`` customers from the BG/NBD process (seeded).

    ``T`` is a scalar or an array of length ``n``. Repeat purchases arrive as a Poisson(lambda)
    process after a first purchase at 0; after each repeat purchase the customer drops out with
    probability p. Given N(T) = k arrivals, the j-th arrival time is T·Beta(j, k - j + 1).

    >>> sim = simulate_bgnbd(1000, r=0.5, alpha=5.0, a=0.8, b=2.5, T=40.0, seed=1)
    >>> list(sim.columns), bool((sim["t_x"] <= sim["T"]).all())
    (['x', 't_x', 'T'], True)
    """
    rng = np.random.default_rng(seed)
    Ts = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    arrivals = rng.poisson(lam * Ts)
    dropout_after = rng.geometric(p)  # dies right after its J-th repeat purchase, J >= 1
    x = np.minimum(arrivals, dropout_after)
    t_x = np.zeros(n)
    has = x > 0
    t_x[has] = Ts[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    return pd.DataFrame({"x": x.astype(np.int64), "t_x": t_x, "T": Ts})
