"""Readouts that can be re-read: anytime-valid confidence sequences for a lift.

A recurring playbook's readout is looked at every week; a fixed-horizon 95% interval looked at
20 times excludes zero at some look in far more than 5% of experiments without any effect. A
confidence sequence is valid at every look at once. livebase uses the asymptotic normal-mixture
confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2024) [1] (Prop. 2.5),
as GrowthBook's sequential testing does: after ``N`` customers (both arms) with a lift estimate
``d`` whose variance is ``V``,

``d ± √(N V) · √( 2 (N ρ² + 1) / (N² ρ²) · ln( √(N ρ² + 1) / α ) )``,

with ``ρ² = (−2 ln α + ln(−2 ln α + 1)) / N*`` tuned to be tightest at ``N*`` customers (the
tuning parameter; GrowthBook's default is 5,000). The always-valid p-value inverts the same
boundary: ``p = min(1, √(Nρ² + 1) · exp(−z² N ρ² / (2 (N ρ² + 1))))`` with ``z = d / √V``.

References
----------
[1] Waudby-Smith I., Arbour D., Sinha R., Kennedy E.H., Ramdas A. (2024), "Time-uniform central
    limit theory and asymptotic confidence sequences", Annals of Statistics 52(6).
[2] Howard S.R., Ramdas A., McAuliffe J., Sekhon J. (2021), "Time-uniform, nonparametric,
    nonasymptotic confidence sequences", Annals of Statistics 49(2), eq. (14).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from livebase.measure.intervals import NAN_INTERVAL, Difference, Interval

__all__ = ["sequential_bounds", "sequential_difference", "sequential_rho2"]

FloatArray = npt.NDArray[np.float64]


def sequential_rho2(alpha: float = 0.05, tuning: float = 5000.0) -> float:
    """Mixture variance ``ρ²`` making the sequence tightest at ``tuning`` customers.

    >>> round(sequential_rho2(0.05, 5000), 6)
    0.001587
    """
    la = -2.0 * math.log(alpha)
    return (la + math.log(la + 1.0)) / tuning


def sequential_bounds(
    estimate: npt.ArrayLike,
    variance: npt.ArrayLike,
    n_total: npt.ArrayLike,
    alpha: float = 0.05,
    tuning: float = 5000.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Confidence-sequence bounds and always-valid p-values, vectorised over looks.

    >>> lo, hi, p = sequential_bounds(0.01, 0.005**2, 10_000)
    >>> round(float(lo), 4), round(float(hi), 4), round(float(p), 3)
    (-0.0053, 0.0253, 0.626)
    """
    d = np.asarray(estimate, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    n = np.asarray(n_total, dtype=np.float64)
    rho2 = sequential_rho2(alpha, tuning)
    nr = n * rho2
    margin = np.sqrt(2.0 * (nr + 1.0) / (n * nr) * np.log(np.sqrt(nr + 1.0) / alpha))
    half = np.sqrt(n * v) * margin
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = np.where(v > 0, d * d / v, 0.0)
    p = np.minimum(1.0, np.sqrt(nr + 1.0) * np.exp(-z2 * nr / (2.0 * (nr + 1.0))))
    return d - half, d + half, p


def sequential_difference(
    fixed: Difference, n_total: int, alpha: float = 0.05, tuning: float = 5000.0
) -> Difference:
    """The anytime-valid version of a fixed-horizon difference (same estimate and variance).

    >>> from livebase.measure.intervals import welch_difference
    >>> from livebase.measure.statistics import SampleStats
    >>> fixed = welch_difference(SampleStats(5000, 600, 640), SampleStats(5000, 500, 520))
    >>> seq = sequential_difference(fixed, 10_000)
    >>> seq.method, seq.ci.high - seq.ci.low > fixed.ci.high - fixed.ci.low
    ('sequential', True)
    """
    if not math.isfinite(fixed.se) or fixed.se <= 0 or n_total <= 0:
        return Difference(fixed.estimate, NAN_INTERVAL, math.nan, fixed.se, "sequential")
    lo, hi, p = sequential_bounds(fixed.estimate, fixed.se**2, n_total, alpha, tuning)
    return Difference(
        fixed.estimate, Interval(float(lo), float(hi)), float(p), fixed.se, "sequential"
    )
