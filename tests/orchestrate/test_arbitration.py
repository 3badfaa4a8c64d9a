"""Arbitration between playbooks, with Hypothesis: within the policy's arbitration window a
customer gets marketing steps of one playbook only, and of two steps due together the better
one (higher priority, then earlier entry) wins."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from _bases import make_base, make_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_plan_invariants import _check_same_tick_arbitration

from livebase.orchestrate.playbook import Playbook

START = datetime(2026, 6, 1)


@st.composite
def contests(draw: st.DrawFn) -> dict[str, Any]:
    customers = [
        {"customer_id": f"c{i}", "event_day": draw(st.sampled_from([0, 1, 2]))}
        for i in range(draw(st.integers(2, 5)))
    ]
    triggers = [{"inactivity_days": 60}, {"event": "lesson_missed", "within_hours": 24}]
    playbooks = []
    for p in range(draw(st.integers(2, 3))):
        steps = [
            {
                "id": f"s{k}",
                "channel": draw(st.sampled_from(["email", "push"])),
                "after_days": 0 if k == 0 else draw(st.sampled_from([0, 0.5, 1])),
            }
            for k in range(draw(st.integers(1, 2)))
        ]
        playbooks.append(
            Playbook.model_validate(
                {
                    "name": f"p{p}",
                    "trigger": triggers[p % 2] if p < 2 else draw(st.sampled_from(triggers)),
                    "priority": draw(st.sampled_from([10, 50, 90])),
                    "on_conflict": draw(st.sampled_from([None, "skip", "defer", "next_step"])),
                    "steps": steps,
                }
            )
        )
    policy = {
        "arbitration_window": draw(st.sampled_from(["12h", "1d", "3d"])),
        "on_capped": draw(st.sampled_from(["skip", "defer"])),
        "caps": draw(st.sampled_from([[], [{"channel": "push", "max": 1, "per": "1d"}]])),
    }
    hours = draw(st.lists(st.integers(8, 20), min_size=4, max_size=4))
    return {"customers": customers, "playbooks": playbooks, "policy": policy, "hours": hours}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.slow
@given(contests())
def test_one_playbook_per_window_and_the_better_one_wins(s: dict[str, Any]) -> None:
    config = make_config(s["policy"])
    custs = s["customers"]
    base = make_base(
        [{"customer_id": c["customer_id"]} for c in custs],
        orders=[(c["customer_id"], START - timedelta(days=60, hours=-6), 5000.0) for c in custs],
        events=[
            (c["customer_id"], START + timedelta(days=c["event_day"], hours=7), "lesson_missed")
            for c in custs
        ],
        config=config,
    )
    playbooks = s["playbooks"]
    lost = 0
    for day, hour in enumerate(s["hours"]):
        moment = datetime.combine((START + timedelta(days=day)).date(), time(hour))
        before = {(j["customer_id"], j["playbook"], j["occurrence"]): j for j in base.journeys()}
        plan = base.tick(playbooks, moment)
        lost += sum(c.arbitrated for c in plan.counts.values())
        window = config.policy.arbitration
        assert window is not None
        _check_same_tick_arbitration(
            plan.ledger.to_pylist(), before, base, playbooks, moment, window
        )
    planned = base.rows("SELECT customer_id, playbook, ts FROM lb_rp_ledger WHERE type = 'planned'")
    for p in planned:
        for q in planned:
            if p["customer_id"] == q["customer_id"] and p["playbook"] != q["playbook"]:
                assert abs(p["ts"] - q["ts"]) >= window, f"{p} and {q} within {window}"
    capped = base.rows(
        "SELECT count(*) AS n FROM lb_rp_ledger WHERE type = 'capped' "
        "AND starts_with(reason, 'arbitration:')"
    )
    assert capped[0]["n"] == lost  # every loss is recorded with its reason and counted
