"""Confidence intervals and tests on sufficient statistics.

Every function here is pure and works on counts or :class:`SampleStats`; the bootstrap is the
only one that needs per-customer values, and it is seeded.

References
----------
[1] Wilson E.B. (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22:209–212.
[2] Newcombe R.G. (1998), "Interval estimation for the difference between independent
    proportions: comparison of eleven methods", Statistics in Medicine 17:873–890 (method 10).
[3] Welch B.L. (1947), "The generalization of 'Student's' problem when several different
    population variances are involved", Biometrika 34:28–35.
[4] Deng A., Xu Y., Kohavi R., Walker T. (2013), "Improving the sensitivity of online controlled
    experiments by utilizing pre-experiment data" (CUPED), WSDM.
[5] Efron B., Tibshirani R. (1993), "An Introduction to the Bootstrap", ch. 13 (percentile).
[6] Holm S. (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Stat.
[7] Benjamini Y., Hochberg Y. (1995), "Controlling the false discovery rate", JRSS B 57:289–300.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from livebase.measure.statistics import RegressionStats, SampleStats

__all__ = [
    "Difference",
    "Interval",
    "benjamini_hochberg",
    "bootstrap_difference",
    "cuped_difference",
    "holm",
    "newcombe_bounds",
    "newcombe_difference",
    "newcombe_p_value",
    "proportion_difference",
    "relative_lift_delta",
    "sample_ratio_mismatch",
    "welch_difference",
    "wilson_interval",
    "z_value",
]


@dataclass(frozen=True)
class Interval:
    """A two-sided interval ``[low, high]`` (NaN ends when it cannot be computed; an infinite
    end when the data bound the quantity on one side only)."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Difference:
    """An estimated difference (treatment − control, or relative lift) with its interval."""

    estimate: float
    ci: Interval
    p_value: float
    se: float
    method: str


NAN_INTERVAL = Interval(math.nan, math.nan)


def z_value(alpha: float = 0.05) -> float:
    """The two-sided normal quantile ``z_{1-α/2}``.

    >>> round(z_value(0.05), 4)
    1.96
    """
    return float(sps.norm.ppf(1.0 - alpha / 2.0))


def _wilson_bounds(
    successes: npt.ArrayLike, n: npt.ArrayLike, z: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Wilson bounds, vectorised over arrays of counts (and of z)."""
    x = np.asarray(successes, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    zz = np.asarray(z, dtype=np.float64)
    p = x / nn
    denom = 1.0 + zz * zz / nn
    centre = (p + zz * zz / (2.0 * nn)) / denom
    half = zz * np.sqrt(np.maximum(p * (1.0 - p) / nn + zz * zz / (4.0 * nn * nn), 0.0)) / denom
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def wilson_interval(successes: float, n: int, alpha: float = 0.05) -> Interval:
    """Wilson score interval for a proportion (eq. 1 of [1]; method 3 of [2]).

    Honest at small n and at rates near 0 or 1, where the Wald interval collapses.

    >>> w = wilson_interval(81, 263)   # Newcombe [2], Table I: 0.2553 to 0.3662
    >>> round(w.low, 4), round(w.high, 4)
    (0.2553, 0.3662)
    >>> wilson_interval(0, 10).low
    0.0
    """
    if n <= 0:
        return NAN_INTERVAL
    lo, hi = _wilson_bounds(successes, n, z_value(alpha))
    return Interval(float(lo), float(hi))


def newcombe_bounds(
    successes_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    successes_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
    z: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Newcombe's hybrid score bounds of ``p_t − p_c``, vectorised over arrays (see
    :func:`newcombe_difference`)."""
    xt, nt = np.asarray(successes_t, dtype=np.float64), np.asarray(n_t, dtype=np.float64)
    xc, nc = np.asarray(successes_c, dtype=np.float64), np.asarray(n_c, dtype=np.float64)
    pt, pc = xt / nt, xc / nc
    lt, ut = _wilson_bounds(xt, nt, z)
    lc, uc = _wilson_bounds(xc, nc, z)
    d = pt - pc
    return d - np.hypot(pt - lt, uc - pc), d + np.hypot(ut - pt, pc - lc)


def newcombe_difference(
    successes_t: float, n_t: int, successes_c: float, n_c: int, alpha: float = 0.05
) -> Interval:
    """Newcombe's hybrid score interval for ``p_t − p_c`` (method 10 of [2], eq. in §2.10).

    Combines the two Wilson intervals: ``L = d − √((p_t − l_t)² + (u_c − p_c)²)``,
    ``U = d + √((u_t − p_t)² + (p_c − l_c)²)``.

    >>> i = newcombe_difference(56, 70, 48, 80)   # [2], Table II example (a): 0.0524, 0.3339
    >>> round(i.low, 4), round(i.high, 4)
    (0.0524, 0.3339)
    """
    if n_t <= 0 or n_c <= 0:
        return NAN_INTERVAL
    lo, hi = newcombe_bounds(successes_t, n_t, successes_c, n_c, z_value(alpha))
    return Interval(float(lo), float(hi))


def newcombe_p_value(
    successes_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    successes_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """The p-value that goes with Newcombe's interval: the smallest α whose interval excludes 0.

    Found by bisection on ``z`` (the bound nearest zero moves monotonically with it), so
    ``p < α`` exactly when the (1 − α) Newcombe interval excludes zero: the verdict and the
    interval cannot disagree. Vectorised over arrays.

    >>> float(newcombe_p_value(56, 70, 48, 80).round(4))
    0.0081
    >>> float(newcombe_p_value(5, 50, 5, 50))
    1.0
    """
    xt, nt = np.asarray(successes_t, dtype=np.float64), np.asarray(n_t, dtype=np.float64)
    xc, nc = np.asarray(successes_c, dtype=np.float64), np.asarray(n_c, dtype=np.float64)
    d = xt / nt - xc / nc
    lo_z = np.zeros(np.broadcast(xt, nt, xc, nc).shape)
    hi_z = np.full(lo_z.shape, 40.0)
    for _ in range(60):
        mid = (lo_z + hi_z) / 2.0
        low, high = newcombe_bounds(xt, nt, xc, nc, mid)
        excludes = np.where(d > 0, low > 0.0, high < 0.0)
        lo_z = np.where(excludes, mid, lo_z)
        hi_z = np.where(excludes, hi_z, mid)
    p = 2.0 * sps.norm.sf((lo_z + hi_z) / 2.0)
    out: npt.NDArray[np.float64] = np.where(d == 0.0, 1.0, p)
    return out


def proportion_difference(t: SampleStats, c: SampleStats, alpha: float = 0.05) -> Difference:
    """Difference of two proportions: Newcombe interval and the p-value of the same method
    (:func:`newcombe_p_value`), so ``p < α`` exactly when the interval excludes zero.

    ``t.total`` and ``c.total`` are the numbers of successes. When neither arm has a success
    (or both have only successes) there is no evidence: p = 1.

    >>> d = proportion_difference(SampleStats(100, 20, 20), SampleStats(100, 10, 10))
    >>> round(d.estimate, 2), round(d.p_value, 4), round(d.ci.low, 4)
    (0.1, 0.0497, 0.0001)
    """
    if t.n <= 0 or c.n <= 0:
        return Difference(math.nan, NAN_INTERVAL, math.nan, math.nan, "newcombe")
    d = t.mean - c.mean
    ci = newcombe_difference(t.total, t.n, c.total, c.n, alpha)
    p = float(newcombe_p_value(t.total, t.n, c.total, c.n))
    se = math.sqrt(t.mean * (1 - t.mean) / t.n + c.mean * (1 - c.mean) / c.n)
    return Difference(d, ci, p, se, "newcombe")


def welch_difference(t: SampleStats, c: SampleStats, alpha: float = 0.05) -> Difference:
    """Welch's unequal-variance t interval and test for ``mean_t − mean_c`` ([3]).

    Degrees of freedom by Welch–Satterthwaite. NaN when an arm has fewer than two units or
    both variances are zero.

    >>> d = welch_difference(SampleStats(3, 6.0, 14.0), SampleStats(3, 3.0, 5.0))
    >>> round(d.estimate, 3), round(d.p_value, 4)
    (1.0, 0.2879)
    """
    if t.n < 2 or c.n < 2:
        return Difference(t.mean - c.mean, NAN_INTERVAL, math.nan, math.nan, "welch")
    vt, vc = t.mean_variance, c.mean_variance
    se = math.sqrt(vt + vc)
    d = t.mean - c.mean
    if se == 0.0:
        return Difference(d, NAN_INTERVAL, math.nan, 0.0, "welch")
    df = (vt + vc) ** 2 / (
        (vt * vt / (t.n - 1) if vt > 0 else 0.0) + (vc * vc / (c.n - 1) if vc > 0 else 0.0)
    )
    q = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * sps.t.sf(abs(d) / se, df))
    return Difference(d, Interval(d - q * se, d + q * se), p, se, "welch")


def relative_lift_delta(t: SampleStats, c: SampleStats, alpha: float = 0.05) -> Difference:
    """Relative lift ``mean_t / mean_c − 1`` with a delta-method normal interval.

    ``Var ≈ σ_t²/(n_t μ_c²) + μ_t² σ_c²/(n_c μ_c⁴)`` (first-order Taylor expansion of the ratio
    of independent means; the "relative" difference of gbstats' frequentist tests). NaN when the
    control mean is zero.

    >>> r = relative_lift_delta(SampleStats(1000, 120, 120), SampleStats(1000, 100, 100))
    >>> round(r.estimate, 2), round(r.ci.low, 3), round(r.ci.high, 3)
    (0.2, -0.101, 0.501)
    """
    mt, mc = t.mean, c.mean
    if t.n < 2 or c.n < 2 or mc == 0.0 or math.isnan(mc):
        return Difference(math.nan, NAN_INTERVAL, math.nan, math.nan, "delta")
    est = mt / mc - 1.0
    var = t.mean_variance / (mc * mc) + mt * mt * c.mean_variance / mc**4
    se = math.sqrt(var)
    if se == 0.0:
        return Difference(est, NAN_INTERVAL, math.nan, 0.0, "delta")
    z = z_value(alpha)
    p = float(2.0 * sps.norm.sf(abs(est) / se))
    return Difference(est, Interval(est - z * se, est + z * se), p, se, "delta")


def cuped_difference(
    t: RegressionStats, c: RegressionStats, alpha: float = 0.05
) -> tuple[Difference, float]:
    """CUPED-adjusted difference of means with a pre-period covariate ([4], eq. 3–4).

    ``θ = Cov(x, y) / Var(x)`` on the pooled sample; the adjusted difference is
    ``(ȳ_t − ȳ_c) − θ (x̄_t − x̄_c)`` with variance ``Σ_arm Var(y − θx) / n_arm``, where
    ``Var(y − θx) = Var(y) + θ² Var(x) − 2θ Cov(x, y)``. Returns the difference and θ.

    >>> t = RegressionStats.from_values([1, 2, 3, 4], [2.1, 3.9, 6.2, 8.0])
    >>> c = RegressionStats.from_values([1, 2, 3, 4], [1.0, 3.1, 4.9, 7.0])
    >>> d, theta = cuped_difference(t, c)
    >>> round(d.estimate, 3), round(theta, 3)
    (1.05, 1.99)
    """
    if t.n < 2 or c.n < 2:
        return Difference(math.nan, NAN_INTERVAL, math.nan, math.nan, "cuped"), math.nan
    pooled = t + c
    var_x = pooled.x.variance
    theta = pooled.covariance / var_x if var_x > 0 else 0.0

    def adjusted_variance(r: RegressionStats) -> float:
        v = r.y.variance + theta * theta * r.x.variance - 2.0 * theta * r.covariance
        return max(v, 0.0) / r.n

    d = (t.y.mean - c.y.mean) - theta * (t.x.mean - c.x.mean)
    se = math.sqrt(adjusted_variance(t) + adjusted_variance(c))
    if se == 0.0:
        return Difference(d, NAN_INTERVAL, math.nan, 0.0, "cuped"), theta
    z = z_value(alpha)
    p = float(2.0 * sps.norm.sf(abs(d) / se))
    return Difference(d, Interval(d - z * se, d + z * se), p, se, "cuped"), theta


def _bootstrap_means(
    values: npt.NDArray[np.float64], n_resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Means of ``n_resamples`` bootstrap resamples, exploiting zero inflation.

    A resample of n values with replacement holds ``m ~ Binomial(n, k/n)`` of the k non-zero
    values, each drawn uniformly among them: the same distribution as the naive bootstrap, at a
    cost proportional to the number of buyers, not of customers.
    """
    n = values.size
    nonzero = values[values != 0.0]
    k = nonzero.size
    if k == 0:
        return np.zeros(n_resamples)
    counts = rng.binomial(n, k / n, size=n_resamples)
    sums = np.empty(n_resamples)
    budget = 4_000_000
    start = 0
    while start < n_resamples:
        stop = start + 1
        drawn = int(counts[start])
        while stop < n_resamples and drawn + int(counts[stop]) <= budget:
            drawn += int(counts[stop])
            stop += 1
        idx = rng.integers(0, k, size=drawn)
        owner = np.repeat(np.arange(stop - start), counts[start:stop])
        sums[start:stop] = np.bincount(owner, weights=nonzero[idx], minlength=stop - start)
        start = stop
    return sums / n


def bootstrap_difference(
    treatment: npt.ArrayLike,
    control: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[Interval, Interval]:
    """Seeded percentile-bootstrap intervals ([5]) of ``mean_t − mean_c`` and ``mean_t/mean_c − 1``.

    Suited to revenue per customer: zero-inflated and heavily skewed, where a small base makes
    the normal approximation optimistic. Arms are resampled independently.

    >>> rng = np.random.default_rng(1)
    >>> t = rng.exponential(10, 500) * (rng.random(500) < 0.1)
    >>> c = rng.exponential(10, 500) * (rng.random(500) < 0.1)
    >>> absolute, relative = bootstrap_difference(t, c, seed=7)
    >>> bool(absolute.low < t.mean() - c.mean() < absolute.high)
    True
    """
    ta = np.asarray(treatment, dtype=np.float64)
    ca = np.asarray(control, dtype=np.float64)
    if ta.size == 0 or ca.size == 0:
        return NAN_INTERVAL, NAN_INTERVAL
    rng = np.random.default_rng(seed)
    mt = _bootstrap_means(ta, n_resamples, rng)
    mc = _bootstrap_means(ca, n_resamples, rng)
    q = [100.0 * alpha / 2.0, 100.0 * (1.0 - alpha / 2.0)]
    lo, hi = np.percentile(mt - mc, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mt / mc - 1.0
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size < n_resamples * 0.9:
        relative = NAN_INTERVAL
    else:
        rlo, rhi = np.percentile(ratio, q)
        relative = Interval(float(rlo), float(rhi))
    return Interval(float(lo), float(hi)), relative


def sample_ratio_mismatch(
    counts: Mapping[str, int], planned_shares: Mapping[str, float]
) -> tuple[float, float]:
    """Chi-square goodness-of-fit of arm sizes against the planned shares: (statistic, p-value).

    A tiny p-value (the readout flags p < 0.001) means the split is not what was planned:
    broken assignment, a filter applied to one arm, lost events — the lifts cannot be trusted.

    >>> stat, p = sample_ratio_mismatch({"t": 5000, "c": 5000}, {"t": 0.5, "c": 0.5})
    >>> stat, p
    (0.0, 1.0)
    """
    arms = [a for a in planned_shares if planned_shares[a] > 0]
    observed = np.array([float(counts.get(a, 0)) for a in arms])
    total = observed.sum()
    shares = np.array([planned_shares[a] for a in arms], dtype=np.float64)
    if total <= 0 or len(arms) < 2:
        return math.nan, math.nan
    expected = total * shares / shares.sum()
    stat = float(((observed - expected) ** 2 / expected).sum())
    p = float(sps.chi2.sf(stat, len(arms) - 1))
    return stat, p


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error rate, [6]); NaN stays NaN.

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p[i])))
        out[i] = running
    return [float(v) for v in out]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg step-up adjusted p-values (false discovery rate, [7]).

    >>> [round(p, 3) for p in benjamini_hochberg([0.01, 0.04, 0.03])]
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")][::-1]
    running = 1.0
    for back, i in enumerate(order):
        rank = m - back
        running = min(running, float(p[i]) * m / rank)
        out[i] = running
    return [float(v) for v in out]
