"""Pooling occurrences: stratified (Mantel–Haenszel) lifts that Simpson's paradox cannot
reverse, refusals with a reason, heterogeneity flagged, coverage in simulation."""

from __future__ import annotations

import numpy as np
import pytest

from livebase.errors import ExperimentError
from livebase.measure import ArmStats, ExperimentStats, SampleStats, pool, readout_from_stats
from livebase.measure.pooling import pooled_readout


def occ(n_t: int, x_t: int, n_c: int, x_c: int) -> ExperimentStats:
    return ExperimentStats(
        {
            "treatment": ArmStats.from_counts(n_t, conversions=x_t),
            "holdout": ArmStats.from_counts(n_c, conversions=x_c),
        },
        {"conversion": "binary"},
    )


TWO_OCCURRENCES = {"week 1": occ(5000, 510, 5000, 500), "week 2": occ(9000, 180, 1000, 20)}
"""No effect in either (10.2% vs 10.0% at 50/50; 2% vs 2% at 90/10)."""


def test_adding_sums_reverses_the_answer_and_the_stratified_lift_does_not() -> None:
    naive = readout_from_stats(pool(list(TWO_OCCURRENCES.values())), control="holdout")
    assert naive.comparisons[0].lift == pytest.approx(690 / 14000 - 520 / 6000)
    assert naive.comparisons[0].significant and naive.comparisons[0].ci_high < -0.025
    r = pooled_readout(TWO_OCCURRENCES, control="holdout")
    p = r.pooled[0]
    # MH weights 5000·5000/10000 = 2500 and 9000·1000/10000 = 900
    assert p.lift == pytest.approx((2500 * 0.002 + 900 * 0.0) / 3400)
    assert p.ci_low < 0 < p.ci_high and not p.significant
    assert p.naive_lift == pytest.approx(naive.comparisons[0].lift)
    assert any("Simpson" in w for w in r.warnings)
    assert [c.segment for c in r.strata] == ["week 1", "week 2"]


def test_one_stratum_gives_the_plain_difference_and_wald_variance() -> None:
    r = pooled_readout({"only": occ(300, 45, 200, 20)}, control="holdout")
    p = r.pooled[0]
    se = np.sqrt(0.15 * 0.85 / 300 + 0.1 * 0.9 / 200)
    assert p.lift == pytest.approx(0.05)
    assert (p.ci_low, p.ci_high) == pytest.approx((0.05 - 1.959964 * se, 0.05 + 1.959964 * se))


def test_revenue_pools_with_the_same_weights_over_welch_variances() -> None:
    def arm(n: int, buyers: list[float]) -> ArmStats:
        return ArmStats.from_counts(n, conversions=len(buyers), revenue=buyers)

    a = ExperimentStats(
        {"treatment": arm(100, [10.0, 20.0, 30.0]), "holdout": arm(100, [10.0, 10.0])},
        {"conversion": "binary", "revenue": "continuous"},
    )
    b = ExperimentStats(
        {"treatment": arm(300, [5.0] * 9), "holdout": arm(100, [5.0, 7.0])},
        {"conversion": "binary", "revenue": "continuous"},
    )
    r = pooled_readout({"a": a, "b": b}, control="holdout")
    rev = next(p for p in r.pooled if p.outcome == "revenue")
    w = [50.0, 75.0]
    d = [0.6 - 0.2, 0.15 - 0.12]
    assert rev.lift == pytest.approx((w[0] * d[0] + w[1] * d[1]) / sum(w))
    assert rev.method == "mh-welch"


def test_occurrences_with_different_outcomes_are_refused_with_the_reason() -> None:
    other = ExperimentStats(
        {"treatment": ArmStats(10, {"visit": SampleStats(10, 1, 1)}),
         "holdout": ArmStats(10, {"visit": SampleStats(10, 1, 1)})},
        {"visit": "binary"},
    )  # fmt: skip
    with pytest.raises(ExperimentError, match="outcomes differ"):
        pooled_readout({"w1": occ(100, 5, 100, 4), "w2": other}, control="holdout")


def test_an_occurrence_without_holdout_is_refused() -> None:
    with pytest.raises(ExperimentError, match="no 'holdout' customers"):
        pooled_readout({"w1": occ(100, 5, 100, 4), "w2": occ(100, 5, 0, 0)}, control="holdout")


def test_different_effects_are_flagged_as_heterogeneous() -> None:
    r = pooled_readout(
        {"w1": occ(5000, 750, 5000, 500), "w2": occ(5000, 400, 5000, 500)}, control="holdout"
    )
    assert r.pooled[0].reason == "HETEROGENEOUS_OCCURRENCES"
    assert r.pooled[0].heterogeneity_p < 0.001


def test_stratified_interval_covers_a_common_lift_across_unequal_occurrences() -> None:
    rng = np.random.default_rng(2026)
    sims, covered = 400, 0
    for _ in range(sims):
        occs = {}
        for i, (n_t, n_c, base) in enumerate(
            [(1800, 200, 0.05), (1000, 1000, 0.02), (900, 100, 0.1)]
        ):
            x_t = int(rng.binomial(n_t, base + 0.01))
            x_c = int(rng.binomial(n_c, base))
            occs[f"o{i}"] = occ(n_t, x_t, n_c, x_c)
        p = pooled_readout(occs, control="holdout").pooled[0]
        covered += p.ci_low <= 0.01 <= p.ci_high
    assert 0.92 <= covered / sims <= 0.98
