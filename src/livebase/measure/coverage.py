"""How often the intervals a readout shows cover the truth: a seeded simulation on sums.

Each cell of the grid is a two-arm experiment (treatment vs holdout) with a conversion rate and
zero-inflated log-normal revenue (buyers spend ``exp(N(μ, σ²))``; everyone else 0). Per
simulated experiment the sufficient statistics are drawn directly (buyers ~ Binomial, their
log-values ~ Normal, summed per experiment), and the readout's own choices are applied:
Newcombe (conversion), MOVER-R (relative conversion), and for revenue per customer the method
:func:`~livebase.measure.compare.revenue_method` picks (log-normal GPQ or Welch, with Fieller's
relative interval). An interval that the readout withholds (reason code ``TOO_FEW_BUYERS``)
is not counted as covering: its share is reported as ``shown``.

``tests/measure/test_coverage.py`` runs :func:`coverage_table` on the grid of issue 12 and fails
below 93%; ``benchmarks/coverage.py`` prints the table of STATISTICS.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from livebase.measure.compare import revenue_method
from livebase.measure.intervals import newcombe_bounds, z_value
from livebase.measure.lognormal import MIN_BUYERS, gpq_means
from livebase.measure.ratios import fieller_ratio, mover_r_bounds
from livebase.measure.results import ReadoutSettings
from livebase.measure.statistics import SampleStats, TailStats

__all__ = ["ISSUE_12_GRID", "Cell", "SimulatedArm", "coverage_table", "simulate_arm"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Cell:
    """One experiment design: arm sizes, holdout conversion, relative lift on conversion,
    log-normal value of a purchase (``μ``, ``σ`` of its log)."""

    n_treatment: int
    n_control: int
    conversion: float
    lift: float = 0.0
    mu: float = 3.0
    sigma: float = 1.5

    @property
    def true_difference(self) -> float:
        value = math.exp(self.mu + self.sigma**2 / 2.0)
        return self.conversion * self.lift * value


ISSUE_12_GRID: tuple[Cell, ...] = (
    *(
        Cell(n_t, n_c, p, lift)
        for n_t, n_c in ((1800, 200), (200, 200))
        for p in (0.01, 0.02, 0.05)
        for lift in (0.0, 0.5)
    ),
    Cell(20_000, 20_000, 0.006, 0.0),
    Cell(20_000, 20_000, 0.006, 0.5),
)
"""Control n = 200 with a 10% holdout (1,800 treated) and 50/50, conversion 1–5%, σ = 1.5, no
effect and +50% on conversion; plus a Hillstrom-sized balanced cell where Welch is used."""


@dataclass(frozen=True)
class SimulatedArm:
    """Per simulated experiment: customers, buyers, Σy, Σy², Σy³, Σ ln y, Σ ln² y."""

    n: int
    buyers: npt.NDArray[np.int64]
    total: FloatArray
    sum_squares: FloatArray
    sum_cubes: FloatArray
    log_total: FloatArray
    log_sum_squares: FloatArray


def simulate_arm(
    n: int, conversion: float, mu: float, sigma: float, sims: int, rng: np.random.Generator
) -> SimulatedArm:
    """Sufficient statistics of ``sims`` independent arms, drawn without per-customer rows."""
    buyers = rng.binomial(n, conversion, sims)
    owner = np.repeat(np.arange(sims), buyers)
    logs = rng.normal(mu, sigma, owner.size)
    y = np.exp(logs)

    def per_sim(values: FloatArray) -> FloatArray:
        return np.bincount(owner, weights=values, minlength=sims).astype(np.float64)

    return SimulatedArm(
        n, buyers, per_sim(y), per_sim(y * y), per_sim(y**3), per_sim(logs), per_sim(logs * logs)
    )


def _log_moments(arm: SimulatedArm, keep: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    k = arm.buyers[keep].astype(np.float64)
    mean = arm.log_total[keep] / k
    var = np.maximum((arm.log_sum_squares[keep] - k * mean**2) / (k - 1.0), 0.0)
    return mean, var


def _row(cell: Cell, interval: str, method: str, low: FloatArray, high: FloatArray,
         truth: float, sims: int) -> dict[str, object]:  # fmt: skip
    shown = np.isfinite(low) | np.isfinite(high)
    lo = np.where(np.isnan(low), -np.inf, low)
    hi = np.where(np.isnan(high), np.inf, high)
    k = int(shown.sum())
    covered = shown & (lo <= truth) & (truth <= hi)
    return {
        "n_treatment": cell.n_treatment,
        "n_control": cell.n_control,
        "conversion": cell.conversion,
        "lift": cell.lift,
        "interval": interval,
        "method": method,
        "shown": k / sims,
        "coverage": float(covered.sum() / k) if k else math.nan,
        "miss_low": float((shown & (lo > truth)).sum() / k) if k else math.nan,
        "miss_high": float((shown & (hi < truth)).sum() / k) if k else math.nan,
    }


def coverage_table(
    cells: Sequence[Cell] = ISSUE_12_GRID,
    *,
    sims: int = 2000,
    draws: int = 2000,
    seed: int = 0,
    settings: ReadoutSettings | None = None,
) -> pd.DataFrame:
    """Coverage of every interval the readout shows, per cell (one row per cell × interval).

    ``draws`` is the number of GPQ draws per simulated experiment (the readout uses
    ``settings.draws``, 20,000; 2,000 keeps the gate fast and moves coverage by < 0.5 point).

    >>> t = coverage_table([Cell(1800, 200, 0.05, 0.5)], sims=200, draws=500, seed=1)
    >>> sorted(t["interval"])
    ['conversion', 'conversion relative', 'revenue', 'revenue relative']
    """
    settings = settings or ReadoutSettings()
    rng = np.random.default_rng(seed)
    z = z_value(settings.alpha)
    rows: list[dict[str, object]] = []
    for cell in cells:
        p_t = cell.conversion * (1.0 + cell.lift)
        t = simulate_arm(cell.n_treatment, p_t, cell.mu, cell.sigma, sims, rng)
        c = simulate_arm(cell.n_control, cell.conversion, cell.mu, cell.sigma, sims, rng)
        # conversion: Newcombe and MOVER-R
        lo, hi = newcombe_bounds(t.buyers, t.n, c.buyers, c.n, z)
        truth = p_t - cell.conversion
        rows.append(_row(cell, "conversion", "newcombe", lo, hi, truth, sims))
        none = (t.buyers == 0) & (c.buyers == 0)
        rlo, rhi = mover_r_bounds(t.buyers, t.n, c.buyers, c.n, z)
        rlo, rhi = np.where(none, np.nan, rlo - 1.0), np.where(none, np.nan, rhi - 1.0)
        rows.append(_row(cell, "conversion relative", "mover-r", rlo, rhi, cell.lift, sims))
        # revenue per customer: the readout's own choice of method, per experiment
        methods = np.array(
            [
                revenue_method(
                    SampleStats(t.n, t.total[i], t.sum_squares[i]),
                    TailStats(
                        int(t.buyers[i]), t.log_total[i], t.log_sum_squares[i], 0, t.sum_cubes[i]
                    ),
                    SampleStats(c.n, c.total[i], c.sum_squares[i]),
                    TailStats(
                        int(c.buyers[i]), c.log_total[i], c.log_sum_squares[i], 0, c.sum_cubes[i]
                    ),
                    settings,
                )
                for i in range(sims)
            ]
        )
        a_lo, a_hi = np.full(sims, np.nan), np.full(sims, np.nan)
        r_lo, r_hi = np.full(sims, np.nan), np.full(sims, np.nan)
        gpq = (methods == "lognormal") & (t.buyers >= MIN_BUYERS) & (c.buyers >= MIN_BUYERS)
        if gpq.any():
            (mt, vt), (mc, vc) = _log_moments(t, gpq), _log_moments(c, gpq)
            dt = gpq_means(t.n, t.buyers[gpq], mt, vt, draws, rng)
            dc = gpq_means(c.n, c.buyers[gpq], mc, vc, draws, rng)
            q = [settings.alpha / 2.0, 1.0 - settings.alpha / 2.0]
            a_lo[gpq], a_hi[gpq] = np.quantile(dt - dc, q, axis=1)
            r_lo[gpq], r_hi[gpq] = np.quantile(dt / dc - 1.0, q, axis=1)
        welch = methods == "welch"
        if welch.any():
            mt_, mc_ = t.total[welch] / t.n, c.total[welch] / c.n
            vt_ = (t.sum_squares[welch] - t.n * mt_**2) / (t.n - 1) / t.n
            vc_ = (c.sum_squares[welch] - c.n * mc_**2) / (c.n - 1) / c.n
            df = (vt_ + vc_) ** 2 / (vt_**2 / (t.n - 1) + vc_**2 / (c.n - 1))
            qt = sps.t.ppf(1.0 - settings.alpha / 2.0, df)
            se = np.sqrt(vt_ + vc_)
            a_lo[welch], a_hi[welch] = mt_ - mc_ - qt * se, mt_ - mc_ + qt * se
            ratios = [
                fieller_ratio(float(a), float(b), float(cc), float(d), float(e))
                for a, b, cc, d, e in zip(mt_, vt_, mc_, vc_, qt, strict=True)
            ]
            r_lo[welch] = [math.nan if r is None else r.low - 1.0 for r in ratios]
            r_hi[welch] = [math.nan if r is None else r.high - 1.0 for r in ratios]
        used = "/".join(sorted(set(methods[gpq | welch].tolist()))) or "none"
        rows.append(_row(cell, "revenue", used, a_lo, a_hi, cell.true_difference, sims))
        rows.append(_row(cell, "revenue relative", used, r_lo, r_hi, cell.lift, sims))
    return pd.DataFrame(rows)
