"""Planning: sample sizes against the textbook formula and against simulated power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from livebase.errors import ExperimentError
from livebase.measure import SampleStats, plan_sample_size, proportion_difference


def test_sample_size_matches_fleiss_formula() -> None:
    p0, p1 = 0.12, 0.14
    za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    pbar = (p0 + p1) / 2
    n = (
        za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    ) ** 2 / 0.02**2
    plan = plan_sample_size(0.12, 0.02)
    assert plan.n_per_arm == math.ceil(n) == 4438
    assert plan.relative_mde == pytest.approx(0.02 / 0.12)


def test_planned_size_reaches_the_promised_power_in_simulation() -> None:
    plan = plan_sample_size(0.12, 0.02)
    n = plan.n_per_arm
    rng = np.random.default_rng(12)
    xt = rng.binomial(n, 0.14, 400)
    xc = rng.binomial(n, 0.12, 400)
    power = np.mean(
        [
            proportion_difference(SampleStats(n, a, a), SampleStats(n, b, b)).p_value < 0.05
            for a, b in zip(xt, xc, strict=True)
        ]
    )
    assert 0.74 <= power <= 0.86


def test_holdout_share_for_a_base_is_the_smallest_that_is_powered() -> None:
    plan = plan_sample_size(0.12, 0.02, base_size=50_000)
    assert plan.feasible and plan.holdout_share is not None
    assert plan.detectable_mde is not None and plan.detectable_mde <= 0.02 + 1e-9
    smaller = plan_sample_size(
        0.12, 0.02, holdout_share=plan.holdout_share - 0.002, base_size=50_000
    )
    assert not smaller.feasible


def test_a_base_too_small_says_what_it_can_detect() -> None:
    plan = plan_sample_size(0.12, 0.02, base_size=3000)
    assert not plan.feasible
    assert plan.detectable_mde is not None and plan.detectable_mde > 0.02
    assert "cannot detect" in plan.message


@pytest.mark.parametrize(("baseline", "mde"), [(0.0, 0.02), (0.5, 0.6), (0.1, 0.0)])
def test_impossible_plans_are_refused(baseline: float, mde: float) -> None:
    with pytest.raises(ExperimentError):
        plan_sample_size(baseline, mde)


@pytest.mark.parametrize(
    ("baseline", "mde", "base"), [(0.05, 0.01, 60_000), (0.02, 0.01, 20_000), (0.12, 0.02, 50_000)]
)
def test_an_unequal_split_delivers_the_promised_power_within_one_point(
    baseline: float, mde: float, base: int
) -> None:
    """Simulate the readout's own verdict (Newcombe's interval excludes 0) at the planned split."""
    from livebase.measure.intervals import newcombe_bounds

    plan = plan_sample_size(baseline, mde, base_size=base)
    assert plan.n_treatment is not None and plan.n_holdout is not None
    assert plan.n_holdout < plan.n_treatment  # a holdout, not a 50/50 split
    rng = np.random.default_rng(2026)
    sims = 40_000  # binomial sd of the power: 0.2 points
    xt = rng.binomial(plan.n_treatment, baseline + mde, sims)
    xc = rng.binomial(plan.n_holdout, baseline, sims)
    lo, hi = newcombe_bounds(xt, plan.n_treatment, xc, plan.n_holdout, 1.959964)
    power = float(((lo > 0) | (hi < 0)).mean())
    assert abs(power - 0.8) <= 0.01
