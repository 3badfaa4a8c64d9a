"""Invariants of the planner over random bases, playbooks and policies (Hypothesis).

Caps never exceeded in any rolling window; nobody suppressed, non-consenting or held out in
the outbox; no step twice per occurrence; quiet hours hold in every zone across DST changes;
no step after a purchase ended the journey; rerunning a moment changes nothing; no customer
gets marketing steps of two playbooks within the arbitration window, and of two steps due
together the better (priority, then entry) wins.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from _bases import make_base, make_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.settings import parse_window

ZONES = [None, "Europe/Moscow", "America/New_York", "Europe/London", "Asia/Kathmandu"]
STARTS = [datetime(2026, 3, 5), datetime(2026, 3, 25), datetime(2026, 10, 21), datetime(2026, 6, 1)]
CHANNELS = ["email", "sms", "push"]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.sampled_from(STARTS))
    customers = []
    for i in range(draw(st.integers(3, 10))):
        customers.append(
            {
                "customer_id": f"c{i}",
                "timezone": draw(st.sampled_from(ZONES)),
                "email": draw(st.sampled_from([None, f"c{i}@x.ru"])),
                "last_paid_days": draw(st.integers(54, 62)),
                "consent": draw(st.booleans()) or draw(st.booleans()),
                "suppressed": draw(st.sampled_from([None, "email", "any"])),
                "buys_on_day": draw(st.sampled_from([None, 2, 5])),
                "event_on_day": draw(st.sampled_from([None, 0, 3])),
            }
        )
    caps = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "channel": st.sampled_from([*CHANNELS, "any"]),
                    "max": st.integers(0, 3),
                    "per": st.sampled_from(["12h", "1d", "2d", "3d", "7d"]),
                }
            ),
            max_size=3,
        )
    )
    quiet = draw(
        st.sampled_from([None, {"from": "21:00", "to": "09:00"}, {"from": "01:30", "to": "03:30"}])
    )
    policy = {
        "caps": caps,
        "quiet_hours": quiet,
        "global_holdout": draw(st.sampled_from([0.0, 0.2])),
        "on_capped": draw(st.sampled_from(["skip", "defer", "next_step"])),
        "arbitration_window": draw(st.sampled_from([None, "12h", "1d", "3d"])),
        "on_conflict": draw(st.sampled_from([None, "skip", "defer", "next_step"])),
    }
    playbooks = []
    for p in range(draw(st.integers(1, 3))):
        steps = [
            {
                "id": f"s{k}",
                "channel": draw(st.sampled_from(CHANNELS)),
                "after_days": 0 if k == 0 else draw(st.sampled_from([0, 0.5, 1, 2])),
                "holdout": draw(st.sampled_from([0.0, 0.5])),
            }
            for k in range(draw(st.integers(1, 3)))
        ]
        trigger = draw(
            st.sampled_from(
                [{"inactivity_days": 60}, {"event": "lesson_missed", "within_hours": 24}]
            )
        )
        playbooks.append(
            Playbook.model_validate(
                {
                    "name": f"p{p}",
                    "trigger": trigger,
                    "priority": draw(st.integers(0, 100)),
                    "holdout": draw(st.sampled_from([0.0, 0.3])),
                    "on_capped": draw(st.sampled_from([None, "skip", "defer", "next_step"])),
                    "on_conflict": draw(st.sampled_from([None, "skip", "defer"])),
                    "cooldown_days": draw(st.sampled_from([0, 3])),
                    "steps": steps,
                }
            )
        )
    hours = draw(st.lists(st.integers(0, 23), min_size=6, max_size=6))
    return {"start": start, "customers": customers, "policy": policy,
            "playbooks": playbooks, "hours": hours}  # fmt: skip


def _inside(local: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _check_same_tick_arbitration(
    ledger: list[dict[str, Any]],
    before: dict[tuple[str, str, int], dict[str, Any]],
    base: Any,
    playbooks: list[Playbook],
    moment: datetime,
    window: timedelta | None = None,
) -> None:
    """Of two steps due at the start of the tick, an arbitration goes to the better one:
    higher priority, then earlier entry, then playbook name (a step that only came due after
    a skip in the same tick meets the others' messages already planned). With ``window``: a
    playbook that already holds the customer's window by a message planned at an earlier tick
    keeps it, whatever its priority (that rule is checked, not the ranking)."""
    by_name = {pb.name: pb for pb in playbooks}
    this_tick = {row["event_id"] for row in ledger}
    earlier = [
        r
        for r in base.rows(
            "SELECT event_id, customer_id, playbook, ts FROM lb_rp_ledger WHERE type = 'planned'"
        )
        if r["event_id"] not in this_tick
    ]

    def holds_window(playbook: str, customer: str) -> bool:
        return window is not None and any(
            r["playbook"] == playbook and r["customer_id"] == customer
            and r["ts"] > moment - window
            for r in earlier
        )  # fmt: skip

    after = {(j["customer_id"], j["playbook"], j["occurrence"]): j for j in base.journeys()}

    def due_at_start(row: dict[str, Any]) -> bool:
        key = (row["customer_id"], row["playbook"], row["occurrence"])
        j = before.get(key)
        if j is None:
            return row["step"] == by_name[row["playbook"]].steps[0].id
        return (
            j["state"] == "active"
            and j["next_step"] == row["step"]
            and (j["next_due_at"] <= moment)
        )

    def rank(row: dict[str, Any]) -> tuple[Any, ...]:
        entered = after[(row["customer_id"], row["playbook"], row["occurrence"])]["entered_at"]
        return (-by_name[row["playbook"]].priority, entered, row["playbook"])

    for lost in ledger:
        if lost["type"] != "capped" or not lost["reason"].startswith("arbitration:"):
            continue
        winner = lost["reason"].split(":")[1]
        if holds_window(winner, lost["customer_id"]):
            continue
        for won in ledger:
            if (won["type"], won["playbook"], won["customer_id"]) != (
                "planned",
                winner,
                lost["customer_id"],
            ):
                continue
            if due_at_start(won) and due_at_start(lost):
                assert rank(won) < rank(lost), f"{lost} lost to a worse {won}"


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip
@pytest.mark.slow
@given(scenarios())
def test_planner_invariants(s: dict[str, Any]) -> None:
    start: datetime = s["start"]
    custs = s["customers"]
    orders = [
        (c["customer_id"], start - timedelta(days=c["last_paid_days"], hours=-3), 5000.0)
        for c in custs
    ]
    orders += [
        (c["customer_id"], start + timedelta(days=c["buys_on_day"], hours=1), 700.0)
        for c in custs
        if c["buys_on_day"] is not None
    ]
    events = [
        (c["customer_id"], start + timedelta(days=c["event_on_day"], hours=-2), "lesson_missed")
        for c in custs
        if c["event_on_day"] is not None
    ]
    config = make_config(s["policy"])
    base = make_base(
        [{k: c[k] for k in ("customer_id", "timezone", "email")} for c in custs],
        orders=orders,
        events=events,
        config=config,
        consent_all=False,
    )
    for c in custs:
        if c["consent"]:
            base.consent(c["customer_id"])
        if c["suppressed"]:
            base.suppress(c["customer_id"], c["suppressed"])
    playbooks = s["playbooks"]
    ticks = []
    for day, hour in enumerate(s["hours"]):
        moment = datetime.combine((start + timedelta(days=day)).date(), time(hour))
        before = {(j["customer_id"], j["playbook"], j["occurrence"]): j for j in base.journeys()}
        plan = base.tick(playbooks, moment)
        _check_same_tick_arbitration(plan.ledger.to_pylist(), before, base, playbooks, moment)
        ticks.extend((moment, row) for row in plan.outbox.to_pylist())
        again = base.tick(playbooks, moment)
        assert again.outbox.num_rows == again.ledger.num_rows == again.journeys.num_rows == 0

    by_id = {c["customer_id"]: c for c in custs}
    keys = [row["key"] for _, row in ticks]
    assert len(keys) == len(set(keys)), "a step was planned twice for one occurrence"
    journeys = {(j["customer_id"], j["playbook"], j["occurrence"]): j for j in base.journeys()}
    step_arms = {
        (a["unit"], a["customer_id"], a["occurrence"]): a["arm"]
        for a in base.rows("SELECT * FROM lb_rp_assignments")
    }
    quiet = config.policy.quiet_hours
    ws = ZoneInfo(config.timezone)
    for moment, row in ticks:
        c = by_id[row["customer_id"]]
        assert c["consent"], "a customer without consent is in the outbox"
        assert c["suppressed"] not in ("any", row["channel"]), "a suppressed customer"
        if row["channel"] == "email":
            assert c["email"] is not None, "no contact, yet planned"
        journey = journeys[(row["customer_id"], row["playbook"], row["occurrence"])]
        assert journey["arm"] == "treatment", "a held-out customer is in the outbox"
        unit = f"playbook:{row['playbook']}:step:{row['step']}"
        assert step_arms.get((unit, row["customer_id"], row["occurrence"]), "treatment") == (
            "treatment"
        )
        if c["buys_on_day"] is not None:
            bought = start + timedelta(days=c["buys_on_day"], hours=1)
            assert not (journey["entered_at"] < bought <= moment), "a step after the purchase"
        if quiet is not None:
            zone = ZoneInfo(c["timezone"] or config.timezone)
            local = row["due_at"].replace(tzinfo=ws).astimezone(zone).time()
            assert not _inside(local, quiet.start, quiet.end), "inside quiet hours"
    planned = base.rows(
        "SELECT customer_id, playbook, channel, ts FROM lb_rp_ledger WHERE type = 'planned' "
        "ORDER BY ts"
    )
    window = config.policy.arbitration
    if window is not None:
        for cid in by_id:
            mine = [p for p in planned if p["customer_id"] == cid]
            for p in mine:
                for q in mine:
                    if p["playbook"] != q["playbook"]:
                        assert abs(p["ts"] - q["ts"]) >= window, f"two playbooks for {cid}"
    for rule in config.policy.caps:
        window = parse_window(rule.per)
        for cid in by_id:
            times = [
                p["ts"]
                for p in planned
                if p["customer_id"] == cid and rule.channel in ("any", p["channel"])
            ]
            for t in times:
                n = sum(1 for u in times if t <= u < t + window)
                assert n <= rule.max, f"cap {rule} exceeded for {cid} from {t}: {n}"
