"""The planner on small hand-made bases: cascades, policy, holdouts, arbitration, idempotence."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from _bases import make_base, make_config, playbook

from livebase.measure.assignment import bucket_of
from livebase.orchestrate.inspect import explain, overlap

LAST_PAID = datetime(2026, 3, 1, 12)
CROSSING = datetime(2026, 4, 30, 10)  # 60 days after LAST_PAID, at 10:00 local

WINBACK = {
    "name": "winback",
    "steps": [
        {"id": "email", "channel": "email"},
        {"id": "push", "after_days": 4, "channel": "push", "only_if": {"not_opened": "email"}},
        {"id": "sms", "after_days": 2, "channel": "sms",
         "only_if": {"no_reaction": ["email", "push"]}},
    ],
}  # fmt: skip


def _days(base, playbooks, start: datetime, days: int) -> None:  # type: ignore[no-untyped-def]
    for d in range(days):
        base.tick(playbooks, start + timedelta(days=d))


def _steps(base, customer: str, kind: str = "planned") -> list[str]:  # type: ignore[no-untyped-def]
    return [r["step"] for r in base.ledger(customer) if r["type"] == kind]


def test_the_cascade_skips_steps_by_reaction_and_goes_on_without_a_contact() -> None:
    base = make_base(
        [{"customer_id": "a"}, {"customer_id": "b"}, {"customer_id": "c", "email": None}],
        orders=[(c, LAST_PAID, 5000) for c in "abc"],
    )
    pb = playbook(**WINBACK)
    base.tick([pb], CROSSING)
    base.react("a", "winback|1|email", "opened", CROSSING + timedelta(hours=2))
    _days(base, [pb], CROSSING + timedelta(days=1), 10)
    assert _steps(base, "a") == ["email"]  # opened: no push, no SMS
    assert _steps(base, "b") == ["email", "push", "sms"]
    assert _steps(base, "c") == ["push", "sms"]  # no e-mail address: skipped, cascade goes on
    skipped = {r["step"]: r["reason"] for r in base.ledger("a") if r["type"] == "skipped"}
    assert skipped == {"push": "condition:not_opened", "sms": "condition:no_reaction"}
    assert [r["reason"] for r in base.ledger("c") if r["type"] == "skipped"] == ["no_contact"]
    due = {r["step"]: r["due_at"] for r in base.outbox() if r["customer_id"] == "b"}
    assert due == {
        "email": CROSSING,
        "push": CROSSING + timedelta(days=4),
        "sms": CROSSING + timedelta(days=6),
    }
    assert {j["state"] for j in base.journeys()} == {"completed"}


def test_a_purchase_ends_the_journey_and_no_later_step_is_planned() -> None:
    base = make_base(
        [{"customer_id": "a"}],
        orders=[("a", LAST_PAID, 5000), ("a", CROSSING + timedelta(days=2), 900)],
    )
    pb = playbook(**WINBACK)
    _days(base, [pb], CROSSING, 10)
    assert _steps(base, "a") == ["email"]
    (journey,) = base.journeys()
    assert (journey["state"], journey["exit_reason"]) == ("exited", "converted")


def test_the_first_rule_that_holds_names_the_exit_conversion_window_then_exit_events() -> None:
    early, late = CROSSING + timedelta(days=2), CROSSING + timedelta(days=5)
    base = make_base(
        [{"customer_id": c} for c in ("conv", "late", "evt", "both", "stays")],
        orders=[
            *[(c, LAST_PAID, 5000) for c in ("conv", "late", "evt", "both", "stays")],
            ("conv", early, 900),  # within the 3-day conversion window
            ("late", late, 900),  # after it: a plain purchase exit
            ("both", late, 900),
        ],
        events=[("evt", early, "unsubscribed_course"), ("both", early, "unsubscribed_course"),
                ("stays", early, "lesson_missed")],
    )  # fmt: skip
    pb = playbook(
        **{**WINBACK, "conversion": {"event": "purchase", "window_days": 3},
           "exit_when": ["purchase", "unsubscribed_course"]}
    )  # fmt: skip
    _days(base, [pb], CROSSING, 8)
    reasons = {j["customer_id"]: (j["state"], j["exit_reason"]) for j in base.journeys()}
    assert reasons == {
        "conv": ("exited", "converted"),
        "late": ("exited", "purchase"),
        "evt": ("exited", "unsubscribed_course"),
        "both": ("exited", "unsubscribed_course"),  # the event came first and ended it
        "stays": ("completed", None),
    }


def test_suppression_consent_and_stop_rules_are_recorded_with_their_reason() -> None:
    base = make_base(
        [{"customer_id": c} for c in ("ok", "supp", "nocons", "withdrawn", "bought")],
        orders=[(c, LAST_PAID, 5000) for c in ("ok", "supp", "nocons", "withdrawn", "bought")],
        consent_all=False,
        config=make_config({"stop_rules": ["frequency > 1"]}),
    )
    for c in ("ok", "supp", "withdrawn", "bought"):
        base.consent(c)
    base.consent("withdrawn", "email", "withdrawn")
    base.suppress("supp", "email")
    base.store.con.execute(
        "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
        "status, first_load, last_load) VALUES ('x', 'bought', ?, ?, 1, 1, 'paid', 1, 1)",
        [LAST_PAID - timedelta(days=1)] * 2,
    )
    base.tick([playbook(name="w")], CROSSING)
    reasons = {r["customer_id"]: r["reason"] for r in base.ledger() if r["type"] == "skipped"}
    assert reasons == {
        "supp": "suppressed:unsubscribe",
        "nocons": "no_consent",
        "withdrawn": "no_consent",
        "bought": "stop_rule",
    }
    assert [r["customer_id"] for r in base.outbox()] == ["ok"]


def test_a_transactional_playbook_ignores_consent_and_caps_but_not_suppression() -> None:
    base = make_base(
        [{"customer_id": "a"}, {"customer_id": "b"}],
        orders=[("a", LAST_PAID, 5000), ("b", LAST_PAID, 5000)],
        consent_all=False,
        config=make_config({"caps": [{"channel": "any", "max": 0, "per": "7d"}]}),
    )
    base.suppress("b")
    base.tick([playbook(name="t", purpose="transactional")], CROSSING)
    assert [r["customer_id"] for r in base.outbox()] == ["a"]


def test_holdouts_are_the_salted_hash_and_never_messaged() -> None:
    ids = [f"c{i}" for i in range(200)]
    base = make_base(
        [{"customer_id": c} for c in ids],
        orders=[(c, LAST_PAID, 5000) for c in ids],
        config=make_config({"global_holdout": 0.1}),
    )
    pb = playbook(
        name="w", holdout=0.2, steps=[{"id": "e", "channel": "email"},
                                      {"id": "s", "after_days": 1, "channel": "sms",
                                       "holdout": 0.5}],
    )  # fmt: skip
    _days(base, [pb], CROSSING, 3)
    arms = {j["customer_id"]: j["arm"] for j in base.journeys()}
    for c in ids:
        expected = (
            "global_holdout"
            if bucket_of(c, "global") < 0.1
            else ("holdout" if bucket_of(c, "playbook:w") >= 0.8 else "treatment")
        )
        assert arms[c] == expected
    messaged = {r["customer_id"] for r in base.outbox()}
    assert messaged == {c for c in ids if arms[c] == "treatment"}
    step_arms = {
        r["customer_id"]: r["arm"]
        for r in base.rows("SELECT * FROM lb_rp_assignments WHERE unit = 'playbook:w:step:s'")
    }
    assert set(step_arms) == {c for c in ids if arms[c] == "treatment"}
    sms = {r["customer_id"] for r in base.outbox() if r["step"] == "s"}
    assert sms == {c for c, a in step_arms.items() if a == "treatment"}
    assert 0.3 < len(sms) / len(step_arms) < 0.7


@pytest.mark.parametrize(
    ("on_capped", "expected"),
    [("skip", ["first"]), ("defer", ["first", "second"]), ("next_step", ["first", "third"])],
)
def test_on_capped_skip_defer_or_next_step_is_recorded(on_capped: str, expected: list[str]) -> None:
    base = make_base(
        [{"customer_id": "a"}],
        orders=[("a", LAST_PAID, 5000)],
        config=make_config({"caps": [{"channel": "email", "max": 1, "per": "3d"}]}),
    )
    pb = playbook(
        name="w",
        on_capped=on_capped,
        steps=[
            {"id": "first", "channel": "email"},
            {"id": "second", "after_days": 1, "channel": "email"},
            {"id": "third", "after_days": 5, "channel": "sms"},
        ],
    )
    _days(base, [pb], CROSSING, 2)
    (capped,) = [r for r in base.ledger("a") if r["type"] == "capped"]
    assert capped["reason"] == f"cap:email:1/3d:{on_capped.replace('next_step', 'next')}"
    _days(base, [pb], CROSSING + timedelta(days=2), 3)
    assert _steps(base, "a")[:2] == expected
    if on_capped == "defer":
        second = next(r for r in base.outbox() if r["step"] == "second")
        assert second["due_at"] == CROSSING + timedelta(days=3)


def test_arbitration_higher_priority_then_earlier_entry_wins() -> None:
    base = make_base(
        [{"customer_id": "a"}],
        orders=[("a", LAST_PAID, 5000)],
        events=[("a", CROSSING - timedelta(hours=1), "lesson_missed")],
        config=make_config({"caps": [{"channel": "any", "max": 1, "per": "1d"}]}),
    )
    low = playbook(name="low", priority=10, on_capped="skip")
    high = playbook(name="high", priority=90, trigger={"event": "lesson_missed", "within_hours": 2})
    base.tick([low, high], CROSSING)
    assert [r["playbook"] for r in base.outbox()] == ["high"]
    (lost,) = [r for r in base.ledger() if r["type"] == "capped"]
    assert (lost["playbook"], lost["reason"]) == ("low", "arbitration:high:cap:any:1/1d:skip")


@pytest.mark.parametrize(("on_conflict", "action"), [("defer", "defer"), ("skip", "skip")])
def test_the_arbitration_window_gives_the_customer_to_one_playbook(
    on_conflict: str, action: str
) -> None:
    base = make_base(
        [{"customer_id": "a"}],
        orders=[("a", LAST_PAID, 5000)],
        events=[("a", CROSSING - timedelta(hours=1), "lesson_missed")],
        config=make_config({"arbitration_window": "2d"}),  # no cap at all
    )
    low = playbook(name="low", priority=10, on_conflict=on_conflict)
    high = playbook(name="high", priority=90, trigger={"event": "lesson_missed", "within_hours": 2})
    base.tick([low, high], CROSSING)
    assert [r["playbook"] for r in base.outbox()] == ["high"]
    (lost,) = [r for r in base.ledger() if r["type"] == "capped"]
    assert (lost["playbook"], lost["reason"]) == ("low", f"arbitration:high:window:2d:{action}")
    assert base.tick([low, high], CROSSING).counts["low"].arbitrated == 0  # rerun: nothing new
    why = explain(base.store, base.config, low, "a", CROSSING, state=base.state)
    assert ("arbitration window 2d", "taken", "planned by high") in why.checks
    _days(base, [low, high], CROSSING + timedelta(days=1), 3)
    planned = {r["playbook"]: r["due_at"] for r in base.outbox()}
    if on_conflict == "defer":  # to when the window frees: two days after high's message
        assert planned == {"high": CROSSING, "low": CROSSING + timedelta(days=2)}
    else:
        assert planned == {"high": CROSSING}
        assert [r["reason"] for r in base.ledger("a") if r["type"] == "capped"] == [
            "arbitration:high:window:2d:skip"
        ]


def test_a_message_planned_earlier_keeps_its_place_against_a_higher_priority() -> None:
    base = make_base(
        [{"customer_id": "a"}],
        orders=[("a", LAST_PAID, 5000)],
        events=[("a", CROSSING + timedelta(hours=20), "lesson_missed")],
        config=make_config({"arbitration_window": "1d", "on_conflict": "skip"}),
    )
    low = playbook(name="low", priority=10)
    high = playbook(name="high", priority=90, trigger={"event": "lesson_missed", "within_hours": 2})
    base.tick([low, high], CROSSING)
    plan = base.tick([low, high], CROSSING + timedelta(hours=21))
    assert plan.counts["high"].arbitrated == 1
    assert [r["playbook"] for r in base.outbox()] == ["low"]
    (lost,) = [r for r in base.ledger() if r["type"] == "capped"]
    assert (lost["playbook"], lost["reason"]) == ("high", "arbitration:low:window:1d:skip")
    plan = base.tick([low, high], CROSSING + timedelta(days=1, hours=2))
    assert plan.outbox.num_rows == 0  # skipped is final: the journey went on without it


def test_overlap_counts_the_customers_several_playbooks_compete_for() -> None:
    base = make_base(
        [{"customer_id": "a"}, {"customer_id": "b"}],
        orders=[("a", LAST_PAID, 5000), ("b", LAST_PAID, 5000)],
        events=[("a", CROSSING - timedelta(hours=1), "lesson_missed")],
    )
    low = playbook(name="low", priority=10)
    high = playbook(name="high", priority=90, trigger={"event": "lesson_missed", "within_hours": 2})
    rows = overlap(base.store, base.config, [low, high], CROSSING, state=base.state)
    assert [(r["playbook"], r["other"], r["customers"], r["contested"]) for r in rows] == [
        ("high", "high", 1, 1),
        ("high", "low", 1, 1),
        ("low", "low", 2, 1),
    ]


def test_quiet_hours_move_the_step_to_the_customers_morning_never_drop_it() -> None:
    base = make_base(
        [
            {"customer_id": "msk"},
            {"customer_id": "vlad", "timezone": "Asia/Vladivostok"},
            {"customer_id": "ny", "timezone": "America/New_York"},
        ],
        orders=[(c, LAST_PAID, 5000) for c in ("msk", "vlad", "ny")],
        config=make_config({"quiet_hours": {"from": "21:00", "to": "09:00"}}),
    )
    base.tick([playbook(name="w")], CROSSING.replace(hour=22))  # 22:00 in Moscow
    due = {r["customer_id"]: r["due_at"] for r in base.outbox()}
    assert due["msk"] == datetime(2026, 5, 1, 9)  # next morning in Moscow
    assert due["vlad"] == datetime(2026, 5, 1, 2)  # 09:00 in Vladivostok (UTC+10)
    assert due["ny"] == CROSSING.replace(hour=22)  # 15:00 in New York: allowed
    deferred = {r["customer_id"] for r in base.ledger() if r["type"] == "deferred"}
    assert deferred == {"msk", "vlad"}


def test_variants_by_segment_and_segment_triggers_from_the_history() -> None:
    day = date(2026, 4, 30)
    base = make_base(
        [{"customer_id": "a"}, {"customer_id": "b"}, {"customer_id": "c"}],
        segments=[
            ("a", "named", "Champions", day, None),
            ("b", "named", "Loyal", day, None),
            ("c", "named", "Champions", day - timedelta(days=10), None),
        ],
    )
    pb = playbook(
        name="vip",
        trigger={"segment_entry": {"named": ["Champions", "Loyal"]}},
        steps=[{"id": "e", "channel": "email", "template": "plain",
                "variants": {"scheme": "named", "cases": {"Champions": {"template": "gold"}}}}],
    )  # fmt: skip
    base.tick([pb], CROSSING)
    got = {r["customer_id"]: (r["template"], r["variant"]) for r in base.outbox()}
    assert got == {"a": ("gold", "Champions"), "b": ("plain", None)}  # c entered long ago


def test_rerunning_a_moment_adds_nothing() -> None:
    base = make_base(
        [{"customer_id": c} for c in "abcd"],
        orders=[(c, LAST_PAID, 5000) for c in "abcd"],
        config=make_config({"caps": [{"channel": "any", "max": 2, "per": "7d"}]}),
    )
    pb = playbook(**WINBACK)
    for d in range(8):
        first = base.tick([pb], CROSSING + timedelta(days=d))
        again = base.tick([pb], CROSSING + timedelta(days=d))
        assert first.ledger.num_rows > 0 or d not in (0, 4, 6)
        assert again.ledger.num_rows == again.outbox.num_rows == again.journeys.num_rows == 0
        assert again.assignments.num_rows == 0


def test_a_schedule_broadcasts_once_and_cooldown_blocks_reentry() -> None:
    base = make_base([{"customer_id": "a"}, {"customer_id": "b"}])
    pb = playbook(
        name="news",
        trigger={"schedule": {"start": "2026-04-01T09:00:00", "every_days": 7}},
        cooldown_days=10,
        exit_when=[],
    )
    _days(base, [pb], datetime(2026, 4, 1, 10), 21)
    planned = sorted((r["customer_id"], r["due_at"].date()) for r in base.outbox())
    assert planned == [
        ("a", date(2026, 4, 1)), ("a", date(2026, 4, 15)),
        ("b", date(2026, 4, 1)), ("b", date(2026, 4, 15)),
    ]  # fmt: skip


def test_audience_rules_reach_uplift_scores_and_segments() -> None:
    base = make_base(
        [{"customer_id": c} for c in "abc"],
        orders=[(c, LAST_PAID, 5000) for c in "abc"],
        segments=[(c, "named", "At Risk", date(2026, 3, 1), None) for c in "abc"],
    )
    base.store.con.execute(
        "INSERT INTO uplift_scores VALUES ('m', 'a', 'email', 0.04, '{}', TIMESTAMP '2026-04-01'),"
        "('m', 'b', NULL, -0.01, '{}', TIMESTAMP '2026-04-01'),"
        "('m', 'c', 'email', 0.09, '{}', TIMESTAMP '2026-06-01')"  # scored after the tick
    )
    pb = playbook(name="w", audience={"where": "uplift > 0 and named_segment = 'At Risk'"})
    base.tick([pb], CROSSING)
    assert [r["customer_id"] for r in base.outbox()] == ["a"]
