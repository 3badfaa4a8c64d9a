"""Intervals against independent computations, published values and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from livebase.measure import (
    RegressionStats,
    SampleStats,
    benjamini_hochberg,
    bootstrap_difference,
    cuped_difference,
    holm,
    newcombe_difference,
    proportion_difference,
    relative_lift_delta,
    sample_ratio_mismatch,
    welch_difference,
    wilson_interval,
)

Z = stats.norm.ppf(0.975)


def wilson_by_roots(x: int, n: int) -> tuple[float, float]:
    """Independent Wilson: the p solving (x/n − p)² = z² p (1 − p) / n."""
    ph = x / n
    a = 1 + Z * Z / n
    b = -(2 * ph + Z * Z / n)
    c = ph * ph
    lo, hi = sorted(np.roots([a, b, c]).real)
    return float(lo), float(hi)


@pytest.mark.parametrize(
    ("x", "n"), [(0, 10), (1, 29), (81, 263), (15, 148), (29, 29), (500, 1000)]
)
def test_wilson_matches_the_quadratic_roots(x: int, n: int) -> None:
    w = wilson_interval(x, n)
    lo, hi = wilson_by_roots(x, n)
    assert w.low == pytest.approx(max(lo, 0.0), abs=1e-9)
    assert w.high == pytest.approx(min(hi, 1.0), abs=1e-9)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # Newcombe (1998), Table II, method 10
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((10, 10, 0, 20), (0.6791, 1.0)),
        ((10, 10, 0, 10), (0.6075, 1.0)),
    ],
)
def test_newcombe_reproduces_the_published_table(
    case: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    i = newcombe_difference(*case)
    assert (round(i.low, 4), round(i.high, 4)) == expected


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.lognormal(1.0, 1.0, 300)
    b = rng.lognormal(0.9, 1.2, 450)
    d = welch_difference(SampleStats.from_values(a), SampleStats.from_values(b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert d.estimate == pytest.approx(a.mean() - b.mean())
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert (d.ci.low, d.ci.high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_proportion_p_value_is_close_to_chi_square_without_correction() -> None:
    d = proportion_difference(SampleStats(1200, 150, 150), SampleStats(1100, 110, 110))
    table = np.array([[150, 1050], [110, 990]])
    chi2 = stats.chi2_contingency(table, correction=False)
    assert d.p_value == pytest.approx(chi2.pvalue, rel=0.15)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 60), st.integers(20, 400), st.integers(0, 60), st.integers(20, 400),
    st.sampled_from([0.01, 0.05, 0.1]),
)  # fmt: skip
def test_newcombe_p_value_rejects_exactly_when_the_interval_excludes_zero(
    a: int, n_t: int, b: int, n_c: int, alpha: float
) -> None:
    a, b = min(a, n_t), min(b, n_c)
    d = proportion_difference(SampleStats(n_t, a, a), SampleStats(n_c, b, b), alpha)
    excludes = d.ci.low > 0 or d.ci.high < 0
    if abs(d.p_value - alpha) > 1e-9:
        assert (d.p_value < alpha) == excludes


def test_relative_delta_interval_matches_simulated_ratio_spread() -> None:
    rng = np.random.default_rng(5)
    t, c = SampleStats(20_000, 2_400, 2_400), SampleStats(20_000, 2_000, 2_000)
    r = relative_lift_delta(t, c)
    sims = rng.binomial(20_000, 0.12, 20_000) / rng.binomial(20_000, 0.10, 20_000) - 1
    assert r.se == pytest.approx(sims.std(), rel=0.05)


def test_zero_inflated_bootstrap_matches_the_naive_bootstrap() -> None:
    rng = np.random.default_rng(11)
    t = rng.exponential(50, 3000) * (rng.random(3000) < 0.03)
    c = rng.exponential(50, 3000) * (rng.random(3000) < 0.02)
    fast, _ = bootstrap_difference(t, c, n_resamples=4000, seed=1)
    naive = [rng.choice(t, t.size).mean() - rng.choice(c, c.size).mean() for _ in range(4000)]
    lo, hi = np.percentile(naive, [2.5, 97.5])
    width = hi - lo
    assert fast.low == pytest.approx(lo, abs=0.06 * width)
    assert fast.high == pytest.approx(hi, abs=0.06 * width)


def test_bootstrap_is_reproducible_with_its_seed() -> None:
    t = np.array([0, 0, 5, 0, 7.5, 0, 0, 1.0] * 20)
    c = np.array([0, 0, 0, 2, 0, 0, 0, 0.5] * 20)
    assert bootstrap_difference(t, c, seed=3) == bootstrap_difference(t, c, seed=3)


def test_cuped_equals_regression_adjusted_difference() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    x = rng.gamma(2.0, 10.0, n)
    w = rng.random(n) < 0.5
    y = 0.8 * x + rng.normal(0, 5, n) + 2.0 * w
    t = RegressionStats.from_values(x[w], y[w])
    c = RegressionStats.from_values(x[~w], y[~w])
    d, theta = cuped_difference(t, c)
    theta_ref = np.cov(x, y)[0, 1] / np.var(x, ddof=1)
    adj = y - theta_ref * (x - x.mean())
    ref = adj[w].mean() - adj[~w].mean()
    assert theta == pytest.approx(theta_ref, rel=1e-9)
    assert d.estimate == pytest.approx(ref, rel=1e-9)
    plain = welch_difference(t.y, c.y)
    assert d.se < 0.5 * plain.se  # x explains most of y's variance


def test_srm_matches_scipy_chisquare() -> None:
    stat, p = sample_ratio_mismatch({"t": 9100, "h": 900}, {"t": 0.9, "h": 0.1})
    ref = stats.chisquare([9100, 900], [9000, 1000])
    assert (stat, p) == pytest.approx((ref.statistic, ref.pvalue))


def test_holm_and_bh_match_direct_formulas() -> None:
    p = [0.001, 0.02, 0.04, 0.3, 0.012]
    m = len(p)
    order = np.argsort(p)
    holm_ref = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        holm_ref[i] = running
    assert holm(p) == pytest.approx(list(holm_ref))
    sorted_p = np.array(p)[order]
    bh_sorted = np.minimum.accumulate((sorted_p * m / np.arange(1, m + 1))[::-1])[::-1]
    bh_ref = np.empty(m)
    bh_ref[order] = np.minimum(bh_sorted, 1.0)
    assert benjamini_hochberg(p) == pytest.approx(list(bh_ref))
    assert math.isnan(holm([0.1, math.nan])[1])


def _simulate_proportions(
    effect: float, sims: int, seed: int
) -> tuple[float, float]:  # coverage, rejection rate
    rng = np.random.default_rng(seed)
    n_t, n_c, base = 2000, 600, 0.08
    xt = rng.binomial(n_t, base + effect, sims)
    xc = rng.binomial(n_c, base, sims)
    covered = rejected = 0
    for a, b in zip(xt, xc, strict=True):
        d = proportion_difference(SampleStats(n_t, a, a), SampleStats(n_c, b, b))
        covered += d.ci.contains(effect)
        rejected += d.p_value < 0.05
    return covered / sims, rejected / sims


def test_newcombe_intervals_cover_a_known_effect_at_the_nominal_rate() -> None:
    coverage, _ = _simulate_proportions(0.02, 600, seed=20240501)
    # 600 draws: binomial sd of a 95% coverage is 0.9 points
    assert 0.925 <= coverage <= 0.975


def test_no_effect_gives_about_five_percent_false_positives() -> None:
    coverage, fpr = _simulate_proportions(0.0, 600, seed=7)
    assert 0.025 <= fpr <= 0.075
    assert coverage >= 0.925


def test_welch_and_bootstrap_cover_a_known_revenue_effect() -> None:
    rng = np.random.default_rng(99)
    sims, n = 300, 1500
    # zero-inflated revenue: 10% buy, exponential basket; treatment +2 points buyers
    true = (0.12 - 0.10) * 40.0
    welch_cov = boot_cov = 0
    for s in range(sims):
        t = rng.exponential(40.0, n) * (rng.random(n) < 0.12)
        c = rng.exponential(40.0, n) * (rng.random(n) < 0.10)
        welch_cov += welch_difference(
            SampleStats.from_values(t), SampleStats.from_values(c)
        ).ci.contains(true)
        ab, _ = bootstrap_difference(t, c, n_resamples=400, seed=s)
        boot_cov += ab.contains(true)
    assert 0.91 <= welch_cov / sims <= 0.985
    assert 0.91 <= boot_cov / sims <= 0.985
