"""Relative lifts and ratio metrics: intervals that stay honest at low rates and small bases.

* Proportions: **MOVER-R** (Donner & Zou 2012 [1], eq. 5; Newcombe 2013 [2]) combines the two
  Wilson intervals into an interval for ``p_t / p_c``. It is defined when the control has no
  conversion: the upper end is then +∞ ("at least +x%").
* Means (large arms): **Fieller**'s interval for the ratio of two independent means (Fieller
  1954 [3]); unbounded when the control mean is not clearly away from zero, which is reported as
  a reason code, not as a number.
* CUPED: the relative lift divides the adjusted difference by the *estimated* control mean; its
  variance carries the control mean's own variance and its covariance with the difference
  (delta method on ``A/B``; GrowthBook's "CUPED technical details").
* AOV among converters, ``Σ revenue of converters / converters``, is a ratio of two per-customer
  means; its variance by the delta method (Deng, Knoblich & Lu 2018 [4], eq. 2).

References
----------
[1] Donner A., Zou G.Y. (2012), "Closed-form confidence intervals for functions of the normal
    mean and standard deviation", Stat. Methods Med. Res. 21:347–359.
[2] Newcombe R.G. (2013), "Confidence Intervals for Proportions and Related Measures of Effect
    Size", CRC Press, §10.4 (MOVER-R for a ratio of proportions).
[3] Fieller E.C. (1954), "Some problems in interval estimation", JRSS B 16:175–185.
[4] Deng A., Knoblich U., Lu J. (2018), "Applying the delta method in metric analytics",
    KDD '18.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from livebase.measure.intervals import (
    NAN_INTERVAL,
    Difference,
    Interval,
    _wilson_bounds,
    z_value,
)
from livebase.measure.statistics import RegressionStats, SampleStats

__all__ = [
    "aov_difference",
    "cuped_relative",
    "fieller_ratio",
    "mover_r_bounds",
    "relative_means",
    "relative_proportion",
]

FloatArray = npt.NDArray[np.float64]


def mover_r_bounds(
    successes_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    successes_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
    z: float,
) -> tuple[FloatArray, FloatArray]:
    """MOVER-R bounds of ``p_t / p_c`` from Wilson limits ([1] eq. 5), vectorised.

    ``L = (p_t p_c − √((p_t p_c)² − l_t u_c (2p_t − l_t)(2p_c − u_c))) / (u_c (2p_c − u_c))``,
    ``U = (p_t p_c + √((p_t p_c)² − u_t l_c (2p_t − u_t)(2p_c − l_c))) / (l_c (2p_c − l_c))``;
    ``U = +∞`` when the control has no success.
    """
    xt, nt = np.asarray(successes_t, dtype=np.float64), np.asarray(n_t, dtype=np.float64)
    xc, nc = np.asarray(successes_c, dtype=np.float64), np.asarray(n_c, dtype=np.float64)
    pt, pc = xt / nt, xc / nc
    lt, ut = _wilson_bounds(xt, nt, z)
    lc, uc = _wilson_bounds(xc, nc, z)
    prod = pt * pc
    with np.errstate(divide="ignore", invalid="ignore"):
        disc_l = np.maximum(prod * prod - lt * uc * (2 * pt - lt) * (2 * pc - uc), 0.0)
        disc_u = np.maximum(prod * prod - ut * lc * (2 * pt - ut) * (2 * pc - lc), 0.0)
        low = (prod - np.sqrt(disc_l)) / (uc * (2 * pc - uc))
        den_u = lc * (2 * pc - lc)
        high = np.where(den_u > 0, (prod + np.sqrt(disc_u)) / den_u, np.inf)
    low = np.where(pt == 0.0, 0.0, np.maximum(low, 0.0))
    return low, high


def relative_proportion(t: SampleStats, c: SampleStats, alpha: float = 0.05) -> Difference:
    """Relative lift ``p_t / p_c − 1`` of two proportions with the MOVER-R interval.

    With no conversion in the control the estimate is +∞ and the interval ``[L, +∞)``: the data
    say "at least L". NaN only when neither arm converted (then nothing can be said).

    >>> r = relative_proportion(SampleStats(1000, 120, 120), SampleStats(1000, 100, 100))
    >>> round(r.estimate, 2), round(r.ci.low, 3), round(r.ci.high, 3)
    (0.2, -0.065, 0.541)
    >>> r = relative_proportion(SampleStats(1800, 30, 30), SampleStats(200, 0, 0))
    >>> r.estimate, round(r.ci.low, 2), r.ci.high
    (inf, -0.16, inf)
    """
    if t.n <= 0 or c.n <= 0 or (t.total == 0 and c.total == 0):
        return Difference(math.nan, NAN_INTERVAL, math.nan, math.nan, "mover-r")
    est = t.mean / c.mean - 1.0 if c.total > 0 else math.inf
    lo, hi = mover_r_bounds(t.total, t.n, c.total, c.n, z_value(alpha))
    return Difference(
        est, Interval(float(lo) - 1.0, float(hi) - 1.0), math.nan, math.nan, "mover-r"
    )


def fieller_ratio(
    mean_t: float, var_t: float, mean_c: float, var_c: float, q: float
) -> Interval | None:
    """Fieller's interval of ``mean_t / mean_c`` (independent means, variances of the means,
    critical value ``q``); None when it is unbounded (control mean not clearly non-zero).

    >>> i = fieller_ratio(12.0, 1.0, 10.0, 1.0, 1.96)
    >>> round(i.low, 3), round(i.high, 3)
    (0.932, 1.564)
    >>> fieller_ratio(1.0, 1.0, 0.5, 1.0, 1.96) is None
    True
    """
    a = mean_c * mean_c - q * q * var_c
    if a <= 0.0:
        return None
    b = mean_t * mean_c
    c = mean_t * mean_t - q * q * var_t
    disc = b * b - a * c
    if disc < 0.0:
        return None
    root = math.sqrt(disc)
    return Interval((b - root) / a, (b + root) / a)


def relative_means(
    t: SampleStats, c: SampleStats, alpha: float = 0.05, df: float = math.inf
) -> tuple[Difference, str | None]:
    """Relative lift of two means by Fieller (t critical value with ``df``); the reason code
    ``RELATIVE_UNBOUNDED`` when the interval is unbounded.

    >>> r, why = relative_means(SampleStats(1000, 1200, 3000), SampleStats(1000, 1000, 2500))
    >>> round(r.estimate, 2), round(r.ci.low, 3), round(r.ci.high, 3), why
    (0.2, 0.087, 0.327, None)
    """
    if t.n < 2 or c.n < 2 or c.mean == 0.0:
        return Difference(math.nan, NAN_INTERVAL, math.nan, math.nan, "fieller"), None
    q = float(sps.t.ppf(1.0 - alpha / 2.0, df)) if math.isfinite(df) else z_value(alpha)
    est = t.mean / c.mean - 1.0
    ci = fieller_ratio(t.mean, t.mean_variance, c.mean, c.mean_variance, q)
    if ci is None:
        return Difference(est, NAN_INTERVAL, math.nan, math.nan, "fieller"), "RELATIVE_UNBOUNDED"
    return Difference(
        est, Interval(ci.low - 1.0, ci.high - 1.0), math.nan, math.nan, "fieller"
    ), None


def cuped_relative(
    t: RegressionStats, c: RegressionStats, adjusted: Difference, theta: float, alpha: float = 0.05
) -> Difference:
    """Relative lift of a CUPED-adjusted difference ``A`` over the control mean ``B = ȳ_c``.

    ``Var(A/B) ≈ Var(A)/B² + A² Var(B)/B⁴ − 2 A Cov(A, B)/B³`` with ``Var(B) = s²_y,c / n_c`` and
    ``Cov(A, B) = −(s²_y,c − θ s_xy,c) / n_c``: the control mean is estimated, not known.

    >>> t = RegressionStats.from_values([1, 2, 3, 4], [2.1, 3.9, 6.2, 8.0])
    >>> c = RegressionStats.from_values([1, 2, 3, 4], [1.0, 3.1, 4.9, 7.0])
    >>> from livebase.measure.intervals import cuped_difference
    >>> a, theta = cuped_difference(t, c)
    >>> r = cuped_relative(t, c, a, theta)
    >>> round(r.estimate, 3), round(r.se, 3)
    (0.262, 0.085)
    """
    b = c.y.mean
    if not b or not math.isfinite(adjusted.se):
        return Difference(math.nan, NAN_INTERVAL, math.nan, math.nan, "cuped")
    a = adjusted.estimate
    var_a = adjusted.se**2
    var_b = c.y.variance / c.n
    cov_ab = -(c.y.variance - theta * c.covariance) / c.n
    var = var_a / b**2 + a * a * var_b / b**4 - 2.0 * a * cov_ab / b**3
    se = math.sqrt(max(var, 0.0))
    est = a / b
    z = z_value(alpha)
    p = float(2.0 * sps.norm.sf(abs(est) / se)) if se > 0 else math.nan
    return Difference(est, Interval(est - z * se, est + z * se), p, se, "cuped")


def _ratio_moments(n: int, converters: SampleStats) -> tuple[float, float]:
    """AOV = ū / x̄ over all n customers (u = revenue of a converter, x = converted) and the
    delta-method variance of the estimate ([4] eq. 2)."""
    k = converters.n
    xbar = k / n
    ubar = converters.total / n
    var_x = xbar * (1.0 - xbar)
    var_u = converters.sum_squares / n - ubar * ubar
    cov_ux = converters.total / n - ubar * xbar
    r = ubar / xbar
    var = (var_u / xbar**2 - 2.0 * r * cov_ux / xbar**2 + r * r * var_x / xbar**2) / n
    return r, max(var, 0.0)


def aov_difference(
    n_t: int, converters_t: SampleStats, n_c: int, converters_c: SampleStats, alpha: float = 0.05
) -> tuple[Difference, Difference, str | None]:
    """AOV among converters (revenue of converters / converters), treatment − control, with a
    delta-method interval; and the relative difference (delta method on the ratio of AOVs).

    ``converters_*`` are the n, Σ and Σ² of the converters' revenue. Reason code
    ``TOO_FEW_BUYERS`` below two converters in an arm.

    >>> t = SampleStats.from_values([50.0, 70.0, 90.0, 110.0])
    >>> c = SampleStats.from_values([40.0, 60.0, 80.0])
    >>> a, r, why = aov_difference(100, t, 100, c)
    >>> round(a.estimate, 1), round(a.se, 2), why
    (20.0, 14.62, None)
    """
    nan = Difference(math.nan, NAN_INTERVAL, math.nan, math.nan, "delta")
    if converters_t.n < 2 or converters_c.n < 2 or n_t <= 0 or n_c <= 0:
        return nan, nan, "TOO_FEW_BUYERS"
    rt, vt = _ratio_moments(n_t, converters_t)
    rc, vc = _ratio_moments(n_c, converters_c)
    z = z_value(alpha)
    d = rt - rc
    se = math.sqrt(vt + vc)
    p = float(2.0 * sps.norm.sf(abs(d) / se)) if se > 0 else math.nan
    absolute = Difference(d, Interval(d - z * se, d + z * se), p, se, "delta")
    rel = rt / rc - 1.0
    rse = math.sqrt(vt / rc**2 + rt * rt * vc / rc**4)
    relative = Difference(rel, Interval(rel - z * rse, rel + z * rse), p, rse, "delta")
    return absolute, relative, None
