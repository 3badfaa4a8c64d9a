"""Sufficient statistics of an experiment arm: the math never sees customer rows.

A warehouse (DuckDB, Spark, …) sends ``n``, ``sum`` and ``sum of squares`` per arm and outcome;
everything in :mod:`livebase.measure.intervals` and :mod:`livebase.measure.readout` works on
these sums. Statistics of the same arm from several occurrences of a recurring playbook pool by
addition (``a + b``), as gbstats does (``growthbook/packages/stats/gbstats/models/statistics.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["RegressionStats", "SampleStats", "TailStats", "mean_skewness"]


@dataclass(frozen=True)
class SampleStats:
    """n, sum and sum of squares of one outcome in one arm.

    >>> a = SampleStats.from_values([0, 1, 1, 0])
    >>> a.mean, round(a.variance, 4)
    (0.5, 0.3333)
    >>> (a + SampleStats(n=2, total=2.0, sum_squares=2.0)).mean
    0.6666666666666666
    """

    n: int
    total: float
    sum_squares: float

    @classmethod
    def from_values(cls, values: npt.ArrayLike) -> SampleStats:
        """Sufficient statistics of a vector of per-customer values (NaN is not allowed)."""
        arr = np.asarray(values, dtype=np.float64)
        return cls(n=int(arr.size), total=float(arr.sum()), sum_squares=float(arr @ arr))

    def __add__(self, other: SampleStats) -> SampleStats:
        return SampleStats(
            n=self.n + other.n,
            total=self.total + other.total,
            sum_squares=self.sum_squares + other.sum_squares,
        )

    @property
    def mean(self) -> float:
        """The arm mean (NaN without units)."""
        return self.total / self.n if self.n > 0 else math.nan

    @property
    def variance(self) -> float:
        """Unbiased sample variance (ddof=1); NaN below two units; never negative."""
        if self.n < 2:
            return math.nan
        v = (self.sum_squares - self.total * self.total / self.n) / (self.n - 1)
        return max(v, 0.0)

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    @property
    def mean_variance(self) -> float:
        """Variance of the mean, ``variance / n``."""
        return self.variance / self.n if self.n > 0 else math.nan


@dataclass(frozen=True)
class RegressionStats:
    """Sums for an outcome ``y`` and a pre-period covariate ``x`` in one arm (for CUPED).

    CUPED (Deng, Xu, Kohavi & Walker 2013, "Improving the sensitivity of online controlled
    experiments by utilizing pre-experiment data", WSDM, eq. 3–4) needs the cross sum ``Σxy``.

    >>> r = RegressionStats.from_values([1, 2, 3], [2, 4, 6.5])
    >>> round(r.covariance, 4), r.x.n
    (2.25, 3)
    """

    x: SampleStats
    y: SampleStats
    sum_xy: float

    @classmethod
    def from_values(cls, x: npt.ArrayLike, y: npt.ArrayLike) -> RegressionStats:
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        return cls(SampleStats.from_values(xa), SampleStats.from_values(ya), float(xa @ ya))

    def __add__(self, other: RegressionStats) -> RegressionStats:
        return RegressionStats(self.x + other.x, self.y + other.y, self.sum_xy + other.sum_xy)

    @property
    def n(self) -> int:
        return self.y.n

    @property
    def covariance(self) -> float:
        """Unbiased sample covariance of x and y (NaN below two units)."""
        n = self.y.n
        if n < 2:
            return math.nan
        return (self.sum_xy - self.x.total * self.y.total / n) / (n - 1)


@dataclass(frozen=True)
class TailStats:
    """What a skewed outcome (revenue per customer) needs beyond n, Σ and Σ².

    ``positive`` customers had a value above zero; ``log_total`` and ``log_sum_squares`` are the
    sums of ``ln(value)`` and ``ln(value)²`` over them; ``negative`` counts values below zero
    (refunds), which rule the log-normal model out; ``sum_cubes`` is Σ value³ over everyone, for
    the skewness that decides whether Welch's normal approximation can be trusted. With
    :class:`SampleStats` of the same arm this is what
    :func:`~livebase.measure.lognormal.lognormal_difference` needs.

    >>> s = TailStats.from_values([0.0, 0.0, 1.0, 100.0])
    >>> s.positive, round(s.log_mean, 4), round(s.log_variance, 4)
    (2, 2.3026, 10.6038)
    >>> (s + s).positive
    4
    """

    positive: int
    log_total: float
    log_sum_squares: float
    negative: int = 0
    sum_cubes: float = 0.0

    @classmethod
    def from_values(cls, values: npt.ArrayLike) -> TailStats:
        arr = np.asarray(values, dtype=np.float64)
        logs = np.log(arr[arr > 0.0])
        return cls(
            int(logs.size),
            float(logs.sum()),
            float(logs @ logs),
            int((arr < 0.0).sum()),
            float((arr**3).sum()),
        )

    def __add__(self, other: TailStats) -> TailStats:
        return TailStats(
            self.positive + other.positive,
            self.log_total + other.log_total,
            self.log_sum_squares + other.log_sum_squares,
            self.negative + other.negative,
            self.sum_cubes + other.sum_cubes,
        )

    @property
    def log_mean(self) -> float:
        return self.log_total / self.positive if self.positive > 0 else math.nan

    @property
    def log_variance(self) -> float:
        """Sample variance (ddof=1) of the logs; NaN below two positive values."""
        k = self.positive
        if k < 2:
            return math.nan
        return max((self.log_sum_squares - self.log_total**2 / k) / (k - 1), 0.0)


def mean_skewness(y: SampleStats, tail: TailStats) -> tuple[float, float]:
    """Variance of the mean and third central moment of the mean (``μ₃ / n²``) of one arm.

    The skewness of a difference of two arm means is
    ``(m3_t − m3_c) / (v_t + v_c)^{3/2}``: it cancels between balanced arms and grows with an
    unbalanced split (a 10% holdout), which is when Welch's interval undercovers.

    >>> v, m3 = mean_skewness(SampleStats.from_values([0, 0, 0, 9.0]), TailStats.from_values([0, 0, 0, 9.0]))
    >>> round(v, 3), round(m3, 3)
    (5.062, 4.271)
    """
    n = y.n
    if n < 2:
        return math.nan, math.nan
    m = y.mean
    third = tail.sum_cubes / n - 3.0 * m * y.sum_squares / n + 2.0 * m**3
    return y.variance / n, third / (n * n)
