"""Anytime-valid intervals: peeking every week keeps the false-positive rate at most 5%,
where the fixed-horizon interval looked at as often does not."""

from __future__ import annotations

import numpy as np
import pytest

from livebase.measure import ArmStats, ExperimentStats, ReadoutSettings, readout_from_stats
from livebase.measure.intervals import z_value
from livebase.measure.sequential import sequential_bounds

LOOKS, PER_LOOK, SIMS = 20, 500, 4000


def _peeking(effect: float, seed: int) -> tuple[float, float]:
    """Share of simulated experiments rejected at any of 20 looks: (sequential, fixed)."""
    rng = np.random.default_rng(seed)
    base = 0.05
    x_t = rng.binomial(PER_LOOK, base + effect, (SIMS, LOOKS)).cumsum(axis=1)
    x_c = rng.binomial(PER_LOOK, base, (SIMS, LOOKS)).cumsum(axis=1)
    n = PER_LOOK * np.arange(1, LOOKS + 1)
    p_t, p_c = x_t / n, x_c / n
    d = p_t - p_c
    var = p_t * (1 - p_t) / n + p_c * (1 - p_c) / n
    lo, hi, _ = sequential_bounds(d, var, 2 * n)
    seq = ((lo > 0) | (hi < 0)).any(axis=1).mean()
    z = z_value(0.05)
    fixed = (np.abs(d) > z * np.sqrt(var)).any(axis=1).mean()
    return float(seq), float(fixed)


def test_peeking_twenty_times_keeps_false_positives_at_most_five_percent() -> None:
    seq, fixed = _peeking(0.0, seed=12)
    assert seq <= 0.05
    assert fixed > 0.15  # the fixed-horizon interval, peeked at as often, fails


def test_a_real_lift_is_still_found_under_peeking() -> None:
    seq, _ = _peeking(0.01, seed=13)  # 5% → 6%, up to 10,000 per arm
    assert seq > 0.5


def test_the_readout_switches_to_the_confidence_sequence_on_request() -> None:
    stats = ExperimentStats(
        {"t": ArmStats.from_counts(5000, conversions=300), "h": ArmStats.from_counts(5000, conversions=250)},
        {"conversion": "binary"},
    )  # fmt: skip
    fixed = readout_from_stats(stats, control="h").comparisons[0]
    seq = readout_from_stats(stats, control="h", settings=ReadoutSettings(sequential=True))
    s = seq.comparisons[0]
    assert s.method == "sequential" and s.lift == pytest.approx(fixed.lift)
    assert s.ci_low < fixed.ci_low and s.ci_high > fixed.ci_high
    assert s.p_value > fixed.p_value
    assert s.significant == (s.ci_low > 0 or s.ci_high < 0)
