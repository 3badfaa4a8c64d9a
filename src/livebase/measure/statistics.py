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

__all__ = ["RegressionStats", "SampleStats"]


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
