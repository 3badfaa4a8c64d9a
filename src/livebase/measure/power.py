"""Planning: how many customers an experiment needs, and what a given base can detect.

Two-sided test of two proportions with the normal approximation (no continuity correction):
``n = (z_{1-α/2} √(2 p̄ q̄) + z_{1-β} √(p₀q₀ + p₁q₁))² / δ²`` per arm for a 50/50 split
(Fleiss, Levin & Paik 2003, "Statistical Methods for Rates and Proportions", eq. 4.14 without
the continuity correction). For an unequal split (a 10% holdout) the standard error
``√(p₁q₁/n_t + p₀q₀/n_c)`` must be at most ``δ / (z_{1-α/2} + z_{1-β})``.

The minimum detectable effect (MDE) of an observed experiment uses the same relation solved for
``δ`` with the observed sizes and baseline (gbstats' "power" module does the same with a
normal approximation).

An unequal split is planned with the test the readout runs: the power of "Newcombe's interval
excludes zero" is computed exactly (:func:`newcombe_power`, a sum over the binomial outcomes of
both arms), so a plan promising 80% delivers 80% — the normal formula with an unpooled standard
error promised 80% and delivered 69–77% for 10% holdouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from livebase.errors import ExperimentError
from livebase.measure.intervals import newcombe_bounds

__all__ = ["SamplePlan", "minimum_detectable_effect", "newcombe_power", "plan_sample_size"]

_MAX_GRID = 4_000_000


def _z(q: float) -> float:
    return float(sps.norm.ppf(q))


def minimum_detectable_effect(
    variance_control: float,
    n_treatment: int,
    n_control: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    variance_treatment: float | None = None,
) -> float:
    """Smallest absolute difference detectable with the given power: ``(z_α + z_β) · se``.

    For a proportion pass ``p (1 − p)`` as the variance.

    >>> round(minimum_detectable_effect(0.12 * 0.88, 4438, 4438), 4)
    0.0193
    """
    if n_treatment <= 0 or n_control <= 0:
        return math.nan
    vt = variance_control if variance_treatment is None else variance_treatment
    se = math.sqrt(vt / n_treatment + variance_control / n_control)
    return (_z(1.0 - alpha / 2.0) + _z(power)) * se


@dataclass(frozen=True)
class SamplePlan:
    """The answer of :func:`plan_sample_size` (JSON-able with ``dataclasses.asdict``)."""

    baseline: float
    mde: float
    """Absolute difference to detect (0.02 = two percentage points)."""
    relative_mde: float
    alpha: float
    power: float
    n_per_arm: int
    """Customers per arm for a 50/50 split."""
    n_total: int
    """Customers for a 50/50 split, both arms."""
    base_size: int | None
    holdout_share: float | None
    """The holdout share used (given) or needed (with ``base_size``); None without a base."""
    n_treatment: int | None
    n_holdout: int | None
    feasible: bool
    """False when even a 50/50 split of ``base_size`` cannot detect ``mde``."""
    detectable_mde: float | None
    """What the base can detect with ``holdout_share`` (or with 50/50 when infeasible)."""
    message: str


def newcombe_power(
    baseline: float, treated_rate: float, n_treatment: int, n_control: int, alpha: float = 0.05
) -> float:
    """Exact power of the readout's test for proportions: P(Newcombe's interval excludes 0).

    Sums the binomial probabilities of every (treated, control) outcome whose interval excludes
    zero (outcomes beyond 7 sd are left out: < 1e-11). Past 4M outcome pairs the pooled-z normal
    approximation is used, which the interval matches at such sizes.

    >>> round(newcombe_power(0.12, 0.14, 4438, 4438), 3)
    0.8
    """
    n_t, n_c = int(n_treatment), int(n_control)

    def support(n: int, p: float) -> npt.NDArray[np.int64]:
        sd = math.sqrt(n * p * (1 - p))
        lo = max(0, math.floor(n * p - 7 * sd - 1))
        hi = min(n, math.ceil(n * p + 7 * sd + 1))
        return np.arange(lo, hi + 1)

    xt, xc = support(n_t, treated_rate), support(n_c, baseline)
    if xt.size * xc.size > _MAX_GRID:
        pbar = (n_t * treated_rate + n_c * baseline) / (n_t + n_c)
        se0 = math.sqrt(pbar * (1 - pbar) * (1 / n_t + 1 / n_c))
        se1 = math.sqrt(treated_rate * (1 - treated_rate) / n_t + baseline * (1 - baseline) / n_c)
        d = abs(treated_rate - baseline)
        return float(sps.norm.cdf((d - _z(1 - alpha / 2) * se0) / se1))
    pmf_t = sps.binom.pmf(xt, n_t, treated_rate)
    pmf_c = sps.binom.pmf(xc, n_c, baseline)
    lo, hi = newcombe_bounds(xt[None, :], n_t, xc[:, None], n_c, _z(1 - alpha / 2))
    reject = ((lo > 0) | (hi < 0)).astype(np.float64)
    return float(pmf_c @ reject @ pmf_t)


def _se_ok(baseline: float, mde: float, n_t: float, n_c: float, alpha: float, pw: float) -> bool:
    """Is the split powered for the readout's own test (exact Newcombe power)?"""
    return newcombe_power(baseline, baseline + mde, round(n_t), round(n_c), alpha) >= pw


def plan_sample_size(
    baseline: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    holdout_share: float | None = None,
    base_size: int | None = None,
) -> SamplePlan:
    """Sample size per arm for a conversion ``baseline`` and an absolute ``mde``.

    With ``base_size`` the plan also gives the smallest holdout share that detects ``mde``
    (or, with ``holdout_share`` given, whether that split is enough and what it can detect).

    >>> plan = plan_sample_size(0.12, 0.02)
    >>> plan.n_per_arm, plan.n_total
    (4438, 8876)
    >>> plan = plan_sample_size(0.12, 0.02, base_size=50_000)
    >>> plan.holdout_share, plan.n_holdout, plan.feasible
    (0.048, 2400, True)
    """
    if not 0.0 < baseline < 1.0:
        raise ExperimentError(f"baseline must be a rate between 0 and 1, got {baseline}")
    if mde == 0.0 or not 0.0 < baseline + mde < 1.0:
        raise ExperimentError(
            f"mde must be a non-zero absolute difference keeping the rate in (0, 1), got {mde} "
            f"on baseline {baseline}: for +2 points write 0.02"
        )
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ExperimentError(f"alpha and power must be in (0, 1), got {alpha}, {power}")
    delta = abs(mde)
    p1 = baseline + mde
    pbar = (baseline + p1) / 2.0
    za, zb = _z(1.0 - alpha / 2.0), _z(power)
    num = za * math.sqrt(2.0 * pbar * (1 - pbar)) + zb * math.sqrt(
        baseline * (1 - baseline) + p1 * (1 - p1)
    )
    n_arm = math.ceil(num * num / (delta * delta))
    share: float | None = holdout_share
    n_t: int | None = None
    n_h: int | None = None
    feasible = True
    detectable: float | None = None
    message = f"{n_arm} customers per arm ({2 * n_arm} in all) for a 50/50 split"
    if holdout_share is not None and not 0.0 < holdout_share < 1.0:
        raise ExperimentError(f"holdout_share must be in (0, 1), got {holdout_share}")
    if base_size is not None:
        if base_size < 4:
            raise ExperimentError(f"base_size must be at least 4 customers, got {base_size}")
        if share is None:
            if not _se_ok(baseline, mde, base_size / 2, base_size / 2, alpha, power):
                feasible = False
                share = 0.5
            else:
                lo, hi = 1.0 / base_size, 0.5
                for _ in range(60):
                    mid = (lo + hi) / 2.0
                    if _se_ok(baseline, mde, base_size * (1 - mid), base_size * mid, alpha, power):
                        hi = mid
                    else:
                        lo = mid
                share = math.ceil(hi * 1000.0) / 1000.0
        else:
            feasible = _se_ok(
                baseline, mde, base_size * (1 - share), base_size * share, alpha, power
            )
        n_h = round(base_size * share)
        n_t = base_size - n_h
        detectable = minimum_detectable_effect(
            baseline * (1 - baseline), n_t, n_h, alpha=alpha, power=power
        )
        if feasible:
            message = (
                f"a holdout of {share:.1%} ({n_h} of {base_size}) detects {delta:.4g} "
                f"with {power:.0%} power"
            )
        else:
            message = (
                f"a base of {base_size} cannot detect {delta:.4g} even split 50/50: "
                f"it detects {detectable:.4g} at best; pool several occurrences of the "
                f"playbook or aim for a larger effect"
            )
    return SamplePlan(
        baseline=baseline,
        mde=mde,
        relative_mde=mde / baseline,
        alpha=alpha,
        power=power,
        n_per_arm=n_arm,
        n_total=2 * n_arm,
        base_size=base_size,
        holdout_share=share,
        n_treatment=n_t,
        n_holdout=n_h,
        feasible=feasible,
        detectable_mde=detectable,
        message=message,
    )
