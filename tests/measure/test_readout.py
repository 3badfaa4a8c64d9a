"""Readouts: Hillstrom arm-level results against independent computations, degenerate data,
SRM, CUPED, segments, pooling, economics, JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from livebase.errors import ExperimentError
from livebase.measure import (
    Costs,
    ReadoutSettings,
    experiment_stats,
    experiment_stats_sql,
    holm,
    pool,
    readout,
    readout_from_stats,
    stats_from_aggregates,
)

CONTROL = "No E-Mail"
THIRDS = {"Mens E-Mail": 1 / 3, "Womens E-Mail": 1 / 3, CONTROL: 1 / 3}
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def hill(hillstrom: Path) -> pd.DataFrame:
    return pd.read_csv(hillstrom)


@pytest.fixture(scope="module")
def hill_readout(hill: pd.DataFrame):  # type: ignore[no-untyped-def]
    return readout(
        hill,
        control=CONTROL,
        outcomes=["visit", "conversion", "spend"],
        arm_column="segment",
        experiment="hillstrom",
        planned_shares=THIRDS,
        conversion="conversion",
        revenue="spend",
        segment_column="channel",
        costs=Costs(per_message=0.05),
    )


def newcombe_reference(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    def wilson(x: int, n: int) -> tuple[float, float]:
        p = x / n
        centre = (2 * x + Z * Z) / (2 * (n + Z * Z))
        half = Z * math.sqrt(Z * Z + 4 * x * (1 - p)) / (2 * (n + Z * Z))
        return centre - half, centre + half

    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1)
    l0, u0 = wilson(x0, n0)
    d = p1 - p0
    return d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)


def test_hillstrom_arm_sizes_and_means_match_the_data(hill: pd.DataFrame, hill_readout) -> None:  # type: ignore[no-untyped-def]
    arms = {a.arm: a for a in hill_readout.arms}
    assert {a: arms[a].n for a in arms} == {
        "Mens E-Mail": 21307,
        "Womens E-Mail": 21387,
        CONTROL: 21306,
    }
    for arm, part in hill.groupby("segment"):
        assert arms[arm].conversion_rate == pytest.approx(part["conversion"].mean())
        assert arms[arm].revenue_per_customer == pytest.approx(part["spend"].mean())
        buyers = part[part["conversion"] == 1]
        assert arms[arm].aov == pytest.approx(buyers["spend"].mean())
        assert arms[arm].means["visit"] == pytest.approx(part["visit"].mean())


@pytest.mark.parametrize("outcome", ["visit", "conversion"])
def test_hillstrom_proportion_lifts_match_independent_newcombe(
    hill: pd.DataFrame,
    hill_readout,
    outcome: str,  # type: ignore[no-untyped-def]
) -> None:
    ctrl = hill.loc[hill["segment"] == CONTROL, outcome]
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        trt = hill.loc[hill["segment"] == arm, outcome]
        c = next(x for x in hill_readout.comparisons if x.arm == arm and x.outcome == outcome)
        assert c.method == "newcombe"
        assert (c.n_treatment, c.n_control) == (len(trt), len(ctrl))
        assert c.lift == pytest.approx(trt.mean() - ctrl.mean())
        lo, hi = newcombe_reference(int(trt.sum()), len(trt), int(ctrl.sum()), len(ctrl))
        assert (c.ci_low, c.ci_high) == pytest.approx((lo, hi), abs=1e-12)
        table = [[trt.sum(), len(trt) - trt.sum()], [ctrl.sum(), len(ctrl) - ctrl.sum()]]
        ref_p = stats.chi2_contingency(np.array(table), correction=False).pvalue
        # the p-value inverts Newcombe's interval: the same order as the chi-square's
        assert math.log10(c.p_value) == pytest.approx(math.log10(ref_p), rel=0.1)
        assert c.significant and c.p_value < 0.05


def test_hillstrom_spend_lift_is_welch_interval_and_p_value_exactly(
    hill: pd.DataFrame, hill_readout
) -> None:  # type: ignore[no-untyped-def]
    """Balanced thirds with 122+ buyers per arm: the difference of means is nearly symmetric,
    so "auto" keeps Welch, interval and p-value both."""
    ctrl = hill.loc[hill["segment"] == CONTROL, "spend"].to_numpy()
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        trt = hill.loc[hill["segment"] == arm, "spend"].to_numpy()
        c = next(x for x in hill_readout.comparisons if x.arm == arm and x.outcome == "spend")
        ref = stats.ttest_ind(trt, ctrl, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert c.method == "welch"
        assert c.lift == pytest.approx(trt.mean() - ctrl.mean())
        assert c.p_value == pytest.approx(ref.pvalue, rel=1e-9)
        assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    welch = readout(
        hill,
        control=CONTROL,
        outcomes=["spend"],
        arm_column="segment",
        settings=ReadoutSettings(revenue_interval="welch"),
    )
    for c in welch.comparisons:
        trt = hill.loc[hill["segment"] == c.arm, "spend"].to_numpy()
        ci = stats.ttest_ind(trt, ctrl, equal_var=False).confidence_interval(0.95)
        assert c.method == "welch"
        assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_hillstrom_relative_lift_and_srm(hill_readout) -> None:  # type: ignore[no-untyped-def]
    c = next(x for x in hill_readout.comparisons if x.arm == "Mens E-Mail" and x.outcome == "visit")
    assert c.relative_lift == pytest.approx(c.treatment_mean / c.control_mean - 1)
    assert c.relative_ci_low < c.relative_lift < c.relative_ci_high
    assert hill_readout.srm is not None and not hill_readout.srm.mismatch
    assert hill_readout.srm.p_value > 0.5


def test_hillstrom_json_has_the_fields_the_cli_prints(hill_readout) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(hill_readout.to_dict()))
    row = data["comparisons"][0]
    for key in (
        "treatment_mean", "control_mean", "lift", "ci_low", "ci_high", "p_value",
        "n_treatment", "n_control", "relative_lift", "relative_ci_low", "relative_ci_high",
    ):  # fmt: skip
        assert row[key] is not None, key


def test_segment_breakdown_is_holm_corrected_per_arm_and_outcome(hill_readout) -> None:  # type: ignore[no-untyped-def]
    assert hill_readout.segment_column == "channel"
    fam = [s for s in hill_readout.segments if s.arm == "Womens E-Mail" and s.outcome == "spend"]
    assert sorted(s.segment for s in fam) == ["Multichannel", "Phone", "Web"]
    assert [s.p_value_adjusted for s in fam] == pytest.approx(holm([s.p_value for s in fam]))


def test_economics_scale_the_lift_by_treated_customers(hill_readout) -> None:  # type: ignore[no-untyped-def]
    eco = {e.arm: e for e in hill_readout.economics}["Mens E-Mail"]
    spend = next(
        x for x in hill_readout.comparisons if x.arm == "Mens E-Mail" and x.outcome == "spend"
    )
    assert eco.incremental_revenue == pytest.approx(spend.lift * 21307)
    assert eco.cost == pytest.approx(0.05 * 21307)
    assert eco.roi == pytest.approx((eco.incremental_revenue - eco.cost) / eco.cost)
    assert eco.incremental_revenue_low == pytest.approx(spend.ci_low * 21307)


def test_cuped_on_hillstrom_history_keeps_the_lift_and_never_widens_it(
    hill: pd.DataFrame,
) -> None:
    r = readout(
        hill, control=CONTROL, outcomes=["spend"], arm_column="segment",
        covariates={"spend": "history"},
    )  # fmt: skip
    for c in r.comparisons:
        assert c.method == "cuped"
        assert c.variance_reduction is not None and c.variance_reduction >= 0.0
        raw = (
            hill.loc[hill["segment"] == c.arm, "spend"].mean()
            - hill.loc[hill["segment"] == CONTROL, "spend"].mean()
        )
        assert c.lift == pytest.approx(raw, abs=0.02)


def test_cuped_cuts_variance_on_synthetic_pre_period_data() -> None:
    rng = np.random.default_rng(4)
    n = 5000
    pre = rng.gamma(2.0, 20.0, n)
    arm = np.where(rng.random(n) < 0.5, "t", "c")
    post = 0.9 * pre + rng.normal(0, 10, n) + 3.0 * (arm == "t")
    units = pd.DataFrame({"arm": arm, "rev": post, "pre": pre})
    plain = readout(
        units, control="c", outcomes=["rev"], settings=ReadoutSettings(revenue_interval="welch")
    )
    cuped = readout(units, control="c", outcomes=["rev"], covariates={"rev": "pre"})
    p, c = plain.comparisons[0], cuped.comparisons[0]
    assert c.variance_reduction is not None and c.variance_reduction > 0.8
    assert (c.ci_high - c.ci_low) < 0.5 * (p.ci_high - p.ci_low)
    assert c.ci_low < 3.0 < c.ci_high


def test_sample_ratio_mismatch_is_flagged_loudly() -> None:
    units = pd.DataFrame({"arm": ["t"] * 9300 + ["h"] * 700, "y": [0, 1] * 5000})
    r = readout(units, control="h", outcomes=["y"], planned_shares={"t": 0.9, "h": 0.1})
    assert r.srm is not None and r.srm.mismatch
    assert "SAMPLE RATIO MISMATCH" in r.warnings[0]


def test_an_empty_treatment_arm_gives_a_result_with_a_reason_code() -> None:
    units = pd.DataFrame({"arm": ["h"] * 50, "y": [0, 1] * 25})
    r = readout(units, control="h", outcomes=["y"], planned_shares={"t": 0.9, "h": 0.1})
    c = r.comparisons[0]
    assert (c.arm, c.reason, c.n_treatment, c.n_control) == ("t", "NO_UNITS_IN_ARM", 0, 50)
    assert math.isnan(c.ci_low) and math.isnan(c.p_value)
    assert json.loads(json.dumps(r.to_dict()))["comparisons"][0]["ci_low"] is None


def test_constant_outcomes_give_zero_variance_and_zero_control_mean_codes() -> None:
    units = pd.DataFrame({"arm": ["t"] * 10 + ["c"] * 10, "rev": [5.0] * 20, "buy": [0] * 20})
    r = readout(units, control="c", outcomes=["rev", "buy"])
    by = {c.outcome: c for c in r.comparisons}
    assert by["rev"].reason == "ZERO_VARIANCE"
    assert by["buy"].reason == "ZERO_VARIANCE"
    assert by["buy"].p_value == 1.0  # no conversions anywhere: no evidence of a difference
    assert by["buy"].ci_low < 0 < by["buy"].ci_high  # Newcombe still bounds the difference


def test_single_unit_arm_is_too_few_units() -> None:
    units = pd.DataFrame({"arm": ["t", "c", "c"], "buy": [1, 0, 1]})
    assert readout(units, control="c", outcomes=["buy"]).comparisons[0].reason == "TOO_FEW_UNITS"


def test_unknown_control_names_the_arms() -> None:
    units = pd.DataFrame({"arm": ["t", "c"], "buy": [1, 0]})
    with pytest.raises(ExperimentError, match="did you mean 'c'"):
        readout(units, control="cc", outcomes=["buy"])


def test_small_base_is_flagged_underpowered_with_its_mde() -> None:
    rng = np.random.default_rng(8)
    units = pd.DataFrame(
        {"arm": ["t"] * 900 + ["h"] * 100, "buy": (rng.random(1000) < 0.1).astype(int)}
    )
    c = readout(units, control="h", outcomes=["buy"]).comparisons[0]
    if not c.significant:
        assert c.underpowered
    p = c.control_mean
    ref = (Z + stats.norm.ppf(0.8)) * math.sqrt(
        c.treatment_mean * (1 - c.treatment_mean) / 900 + p * (1 - p) / 100
    )
    assert c.mde == pytest.approx(ref)


def test_pooled_occurrences_equal_one_concatenated_readout() -> None:
    rng = np.random.default_rng(1)
    parts = []
    for _ in range(3):
        n = 400
        parts.append(
            pd.DataFrame(
                {
                    "arm": np.where(rng.random(n) < 0.8, "t", "h"),
                    "buy": (rng.random(n) < 0.15).astype(int),
                    "rev": rng.exponential(30, n) * (rng.random(n) < 0.15),
                }
            )
        )
    kw = {"arm_column": "arm", "outcomes": ["buy", "rev"]}
    pooled = pool([experiment_stats(p, **kw) for p in parts])  # type: ignore[arg-type]
    joint = experiment_stats(pd.concat(parts), **kw)  # type: ignore[arg-type]
    a = readout_from_stats(pooled, control="h").table()
    b = readout_from_stats(joint, control="h").table()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


def test_sql_aggregates_in_duckdb_equal_the_pandas_statistics() -> None:
    rng = np.random.default_rng(2)
    units = pd.DataFrame(
        {
            "arm": np.where(rng.random(3000) < 0.5, "t", "c"),
            "buy": (rng.random(3000) < 0.2).astype(int),
            "pre": rng.gamma(2, 3, 3000),
        }
    )
    units["rev"] = units["buy"] * rng.exponential(20, 3000)
    sql = experiment_stats_sql("units", "arm", ["buy", "rev"], {"rev": "pre"}, "buy", "rev")
    con = duckdb.connect()
    con.register("units", units)
    agg = con.execute(sql).df()
    from_sql = stats_from_aggregates(
        agg, ["buy", "rev"], {"buy": "binary", "rev": "continuous"}, {"rev": "pre"}
    )
    direct = experiment_stats(
        units, arm_column="arm", outcomes=["buy", "rev"], covariates={"rev": "pre"},
        conversion="buy", revenue="rev",
    )  # fmt: skip
    for arm in ("t", "c"):
        a, b = from_sql.arms[arm], direct.arms[arm]
        assert a.n == b.n
        for o in ("buy", "rev"):
            assert a.outcomes[o].total == pytest.approx(b.outcomes[o].total)
            assert a.outcomes[o].sum_squares == pytest.approx(b.outcomes[o].sum_squares)
        assert a.adjusted["rev"].sum_xy == pytest.approx(b.adjusted["rev"].sum_xy)
        assert a.converter_revenue is not None and b.converter_revenue is not None
        assert a.converter_revenue.total == pytest.approx(b.converter_revenue.total)
