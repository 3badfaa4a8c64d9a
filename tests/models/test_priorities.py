from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.errors import ModelError
from livebase.models import PRIORITY_COLUMNS, PRIORITY_FORMULA, Scenario, prioritise, segment_value

TARGETS = pd.DataFrame(
    {
        "segment": ["at_risk", "new", "vip"],
        "customers": [1000, 4000, 100],
        "mean_clv": [120.0, 40.0, 900.0],
    }
)


def test_value_follows_the_printed_formula_and_ranks_best_first() -> None:
    sc = [
        Scenario("winback", "at_risk", 0.10, 4, 2),
        Scenario("welcome", "new", 0.05, 5, 1),
        Scenario("vip_care", "vip", 0.08, 3, 3),
    ]
    out = prioritise(sc, TARGETS)
    assert list(out.columns) == list(PRIORITY_COLUMNS)
    assert out["scenario"].tolist() == ["welcome", "winback", "vip_care"]
    assert out["rank"].tolist() == [1, 2, 3]
    assert out.loc[1, "expected_incremental_value"] == pytest.approx(1000 * 120 * 0.10 * 4 / 5 / 2)
    assert "trigger_strength / 5" in PRIORITY_FORMULA and "/ effort" in PRIORITY_FORMULA


def test_measured_uplift_replaces_the_guess() -> None:
    sc = [Scenario("winback", "at_risk", 0.10, 5, 1)]
    out = prioritise(sc, TARGETS, measured_uplift={"winback": -0.01})
    assert out.loc[0, "uplift"] == -0.01 and out.loc[0, "uplift_source"] == "measured"
    assert out.loc[0, "expected_incremental_value"] == pytest.approx(-1200.0)


def test_bad_scenarios_and_unknown_targets_are_clear_errors() -> None:
    with pytest.raises(ModelError, match=r"effort must be 1\.\.5"):
        Scenario("x", "new", 0.1, 3, 0)
    with pytest.raises(ModelError, match="relative lift"):
        Scenario("x", "new", 5.0 * 10, 3, 3)
    with pytest.raises(ModelError, match="known targets are at_risk, new, vip"):
        prioritise([Scenario("x", "lost", 0.1, 3, 3)], TARGETS)
    with pytest.raises(ModelError, match="unknown scenario"):
        prioritise([Scenario("x", "new", 0.1, 3, 3)], TARGETS, measured_uplift={"y": 0.1})


def test_segment_value_counts_unpredicted_customers_with_zero_clv() -> None:
    p = pd.DataFrame({"customer_id": [1, 2], "clv_365d": [10.0, 30.0]})
    s = pd.DataFrame({"customer_id": [1, 2, 3], "segment": ["a", "a", "a"]})
    out = segment_value(p, s)
    assert out.to_dict("records") == [
        {"segment": "a", "customers": 3, "mean_clv": pytest.approx(40 / 3), "total_clv": 40.0}
    ]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["at_risk", "new", "vip"]),
            st.floats(0.0, 1.0),
            st.integers(1, 5),
            st.integers(1, 5),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_more_effort_never_raises_a_scenarios_value(
    specs: list[tuple[str, float, int, int]],
) -> None:
    sc = [Scenario(f"s{i}", t, u, ts, e) for i, (t, u, ts, e) in enumerate(specs)]
    out = prioritise(sc, TARGETS)
    assert out["expected_incremental_value"].is_monotonic_decreasing
    harder = [Scenario(s.name, s.target, s.expected_uplift, s.trigger_strength, 5) for s in sc]
    before = out.set_index("scenario")["expected_incremental_value"]
    after = prioritise(harder, TARGETS).set_index("scenario")["expected_incremental_value"]
    assert (after <= before.loc[after.index] + 1e-9).all()
