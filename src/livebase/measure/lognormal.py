"""Revenue per customer on a small base: conversion × value on the log scale.

Revenue per customer is zero for most customers and heavily skewed among buyers. With a few
buyers per arm (a 10% holdout of a few thousand customers converting at 1–5%) neither Welch's t
nor a percentile bootstrap covers the true lift (the audit of issue 12 measured 70–91%). Here
revenue per customer is modelled as a zero-inflated log-normal, ``mean = p · exp(μ + σ²/2)``
with ``p`` the share of buyers and ``μ, σ²`` the mean and variance of ``ln(revenue)`` among
them, and the lift is read by generalized pivotal quantities (GPQ, Tian 2005 [1], §2): per arm

* ``σ²* = (k − 1) s² / χ²_{k−1}``  (k buyers, s² the sample variance of the logs; [1] eq. 5),
* ``μ*  = ȳ − Z √(σ²*/k)``            ([1] eq. 6),
* ``p*  ~ ½ Beta(k, n − k + 1) + ½ Beta(k + 1, n − k)`` (the fiducial binomial share of [2]),

and ``mean* = p* exp(μ* + σ²*/2)``. The interval of ``mean_t − mean_c`` (or of
``mean_t / mean_c − 1``) is the α/2 and 1 − α/2 quantiles of seeded draws, and the p-value
comes from the same draws (``2 min(P(D* ≤ 0), P(D* ≥ 0))``), so the verdict and the interval
cannot disagree. Only sufficient statistics are needed (n, buyers, Σ ln y, Σ ln² y per arm).

The coverage of this interval on the grid of issue 12 is in STATISTICS.md and is enforced by
``tests/measure/test_coverage.py``.

References
----------
[1] Tian L. (2005), "Inferences on the mean of zero-inflated lognormal data: the generalized
    variable approach", Statistics in Medicine 24:3223–3232.
[2] Hannig J. (2009), "On generalized fiducial inference", Statistica Sinica 19:491–544.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from livebase.measure.intervals import NAN_INTERVAL, Difference, Interval
from livebase.measure.statistics import SampleStats, TailStats

__all__ = ["MIN_BUYERS", "gpq_means", "lognormal_difference"]

MIN_BUYERS = 2
"""Buyers an arm needs for the log-normal interval: the log variance needs two values."""

FloatArray = npt.NDArray[np.float64]


def gpq_means(
    n: npt.ArrayLike,
    buyers: npt.ArrayLike,
    log_mean: npt.ArrayLike,
    log_variance: npt.ArrayLike,
    draws: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Generalized pivotal draws of the zero-inflated log-normal mean, shape ``(arms, draws)``.

    Vectorised over arms (or over simulated experiments): every argument is a scalar or a 1-d
    array of the same length. Arms need ``buyers ≥ 2``.

    >>> rng = np.random.default_rng(0)
    >>> m = gpq_means(1000, 50, 3.0, 1.0, 20000, rng)
    >>> true = 0.05 * math.exp(3.0 + 0.5)
    >>> bool(np.quantile(m, 0.025) < true < np.quantile(m, 0.975))
    True
    """
    nn = np.atleast_1d(np.asarray(n, dtype=np.float64))[:, None]
    k = np.atleast_1d(np.asarray(buyers, dtype=np.float64))[:, None]
    ybar = np.atleast_1d(np.asarray(log_mean, dtype=np.float64))[:, None]
    s2 = np.atleast_1d(np.asarray(log_variance, dtype=np.float64))[:, None]
    shape = (max(nn.shape[0], k.shape[0], ybar.shape[0], s2.shape[0]), draws)
    sigma2 = (k - 1.0) * s2 / rng.chisquare(np.broadcast_to(k - 1.0, shape))
    mu = ybar - rng.standard_normal(shape) * np.sqrt(sigma2 / k)
    # fiducial share of buyers: the half-half mixture of Beta(k, n−k+1) and Beta(k+1, n−k)
    upper = rng.random(shape) < 0.5
    a = np.broadcast_to(k, shape) + upper
    b = np.broadcast_to(nn - k, shape) + ~upper
    p = rng.beta(a, b)
    # exp(700) ≈ 1e304: a draw beyond it is "unbounded" for any purpose, and stays finite.
    out: FloatArray = p * np.exp(np.minimum(mu + sigma2 / 2.0, 700.0))
    return out


def _summarise(
    draws: FloatArray, estimate: float, alpha: float, method: str
) -> tuple[Interval, float, float]:
    lo, hi = np.quantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0])
    below = float(np.mean(draws <= 0.0))
    p = min(1.0, 2.0 * min(below, 1.0 - below))
    p = max(p, 1.0 / draws.size)
    q16, q84 = np.quantile(draws, [0.158655, 0.841345])  # ±1 sd of a normal: a robust "se"
    return Interval(float(lo), float(hi)), p, float((q84 - q16) / 2.0)


def lognormal_difference(
    t: SampleStats,
    t_log: TailStats,
    c: SampleStats,
    c_log: TailStats,
    alpha: float = 0.05,
    draws: int = 20_000,
    seed: int = 0,
) -> tuple[Difference, Difference, str | None]:
    """Absolute and relative lift of revenue per customer by GPQ; a reason code when it cannot
    be computed (``NEGATIVE_VALUES``, ``TOO_FEW_BUYERS``).

    The estimates are the observed means (``mean_t − mean_c`` and ``mean_t/mean_c − 1``); the
    intervals and p-value come from the seeded draws.

    >>> rng = np.random.default_rng(3)
    >>> t = rng.lognormal(3, 1.5, 1800) * (rng.random(1800) < 0.05)
    >>> c = rng.lognormal(3, 1.5, 200) * (rng.random(200) < 0.05)
    >>> a, r, reason = lognormal_difference(SampleStats.from_values(t), TailStats.from_values(t),
    ...                                     SampleStats.from_values(c), TailStats.from_values(c))
    >>> reason, a.method, bool(a.ci.low < a.estimate < a.ci.high)
    (None, 'lognormal', True)
    """
    est = t.mean - c.mean
    rel_est = t.mean / c.mean - 1.0 if c.mean else math.nan
    if t_log.negative or c_log.negative:
        reason = "NEGATIVE_VALUES"
    elif t_log.positive < MIN_BUYERS or c_log.positive < MIN_BUYERS:
        reason = "TOO_FEW_BUYERS"
    else:
        reason = None
    if reason is not None:
        empty = Difference(est, NAN_INTERVAL, math.nan, math.nan, "lognormal")
        return empty, Difference(rel_est, NAN_INTERVAL, math.nan, math.nan, "lognormal"), reason
    rng = np.random.default_rng(seed)
    m = gpq_means(
        [t.n, c.n],
        [t_log.positive, c_log.positive],
        [t_log.log_mean, c_log.log_mean],
        [t_log.log_variance, c_log.log_variance],
        draws,
        rng,
    )
    ci, p, se = _summarise(m[0] - m[1], est, alpha, "lognormal")
    rci, rp, rse = _summarise(m[0] / m[1] - 1.0, rel_est, alpha, "lognormal")
    return (
        Difference(est, ci, p, se, "lognormal"),
        Difference(rel_est, rci, rp, rse, "lognormal"),
        None,
    )
