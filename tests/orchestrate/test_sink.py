"""The live tick against the operational store (SQLite and PostgreSQL): one transaction, UTC,
rerun adds nothing, and replay gives the same plan as live planning for the same days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from _bases import make_base, make_config, playbook

from livebase.measure.assignment import bucket_of
from livebase.ops.store import OpsStore
from livebase.ops.tables import ASSIGNMENTS, CONSENTS, JOURNEYS, OUTBOX, SEND_LEDGER, SUPPRESSIONS
from livebase.orchestrate.replay import replay
from livebase.orchestrate.run import run_tick
from livebase.orchestrate.send_check import address_hash

MSK = ZoneInfo("Europe/Moscow")
START = datetime(2026, 3, 27, 23)  # late evening, two days before the European DST change
CHANNELS = {"email": {"cost": 0.05}, "sms": {"cost": 4.5}}


def _base():  # type: ignore[no-untyped-def]
    ids = [f"c{i}" for i in range(12)]
    zones = [None, "Europe/London", "Asia/Novosibirsk"]
    customers = [{"customer_id": c, "timezone": zones[i % 3]} for i, c in enumerate(ids)]
    orders = [(c, START - timedelta(days=60 + i % 3), 4000.0) for i, c in enumerate(ids)]
    orders.append(("c4", START + timedelta(days=2), 500.0))
    config = make_config(
        {
            "caps": [{"channel": "any", "max": 2, "per": "2d"}],
            "quiet_hours": {"from": "21:00", "to": "09:00"},
            "global_holdout": 0.1,
        },
        channels=CHANNELS,
    )
    base = make_base(customers, orders=orders, config=config, consent_all=False)
    playbooks = [
        playbook(
            name="winback",
            holdout=0.2,
            steps=[
                {"id": "mail", "channel": "email"},
                {"id": "text", "after_days": 1, "channel": "sms", "holdout": 0.3},
            ],
        ),
        playbook(
            name="second",
            priority=10,
            trigger={"inactivity_days": 61},
            steps=[{"id": "mail", "channel": "email"}, {"id": "again", "channel": "email"}],
        ),
    ]
    return base, ids, playbooks


def _treated(ids: list[str]) -> str:
    """A customer in the treatment arm of winback (not held out globally or by the playbook)."""
    return next(
        c
        for c in ids
        if c != "c7" and bucket_of(c, "global") >= 0.1 and bucket_of(c, "playbook:winback") < 0.8
    )


def _seed_ops(ops: OpsStore, ids: list[str]) -> None:
    with ops.begin() as con:
        con.execute(
            CONSENTS.insert(),
            [
                {"customer_id": c, "channel": "any", "purpose": "marketing",
                 "status": "granted", "source": "test", "ts": datetime(2025, 1, 1, tzinfo=UTC)}
                for c in ids if c != "c7"
            ],
        )  # fmt: skip
        con.execute(
            SUPPRESSIONS.insert(),
            [{"address_hash": address_hash(f"{_treated(ids)}@example.ru"), "channel": "any",
              "reason": "complaint", "ts": datetime(2025, 1, 1, tzinfo=UTC)}],
        )  # fmt: skip


def test_live_ticks_write_once_in_utc_and_replay_plans_the_same(ops_store: OpsStore) -> None:
    base, ids, playbooks = _base()
    _seed_ops(ops_store, ids)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    days = [START + timedelta(days=d) for d in range(5)]
    for moment in days:
        aware = moment.replace(tzinfo=MSK)
        first = run_tick(base.store, ops_store, base.config, playbooks, aware, now=now)
        again = run_tick(base.store, ops_store, base.config, playbooks, aware, now=now)
        assert first.written.ledger > 0
        assert (again.written.journeys, again.written.assignments) == (0, 0)
        assert (again.written.outbox, again.written.ledger) == (0, 0)
    with ops_store.read() as con:
        outbox = con.execute(sa.select(OUTBOX.c.key, OUTBOX.c.due_at)).all()
        ledger = con.execute(sa.select(SEND_LEDGER.c.customer_id, SEND_LEDGER.c.type,
                                       SEND_LEDGER.c.reason)).all()  # fmt: skip
        journeys = con.execute(sa.select(JOURNEYS.c.customer_id, JOURNEYS.c.arm)).all()
        units = {r[0] for r in con.execute(sa.select(ASSIGNMENTS.c.unit)).all()}
    assert outbox and all(r.due_at.tzinfo is not None for r in outbox)
    assert {"global", "playbook:winback", "playbook:winback:step:text"} <= units
    skipped = {(r.customer_id, r.reason) for r in ledger if r.type == "skipped"}
    assert ("c7", "no_consent") in skipped
    assert (_treated(ids), "suppressed:complaint") in skipped
    assert any(arm != "treatment" for _, arm in journeys)
    live = sorted((k, d.astimezone(MSK).replace(tzinfo=None)) for k, d in outbox)

    base.store.con.execute("DROP TABLE IF EXISTS lb_pb_w")
    result = replay(
        base.store,
        base.config,
        playbooks,
        days[0].date(),
        days[-1].date(),
        at=START.time(),
        suppressions="lb_pb_suppressions",
    )
    assert result.outbox is not None
    replayed = sorted((r["key"], r["due_at"]) for r in result.outbox.to_pylist())
    assert replayed == live


def test_a_journey_that_changes_is_stamped_for_the_bridge(ops_store: OpsStore) -> None:
    """ON CONFLICT DO UPDATE skips the column's onupdate: the sink stamps recorded_at itself,
    or the bridge (which copies by recorded_at) would never see a journey advance."""
    import pyarrow as pa

    from livebase.orchestrate.planner import TickPlan
    from livebase.orchestrate.sink import write_plan

    def plan(state: str) -> TickPlan:
        journeys = pa.Table.from_pylist([{
            "customer_id": "a", "playbook": "p", "occurrence": 1,
            "entered_at": datetime(2026, 6, 1, 10), "arm": "treatment", "state": state,
            "current_step": None, "next_step": None, "next_due_at": None,
            "exit_reason": None, "exited_at": None}])  # fmt: skip
        empty = pa.table({})
        return TickPlan(datetime(2026, 6, 1, 10), journeys, empty, empty, empty, {})

    now = datetime(2026, 6, 1, 7, tzinfo=UTC)
    write_plan(ops_store, plan("active"), timezone="Europe/Moscow", now=now)
    old = datetime.now(UTC) - timedelta(days=2)
    with ops_store.begin() as con:
        con.execute(JOURNEYS.update().values(recorded_at=old))
    written = write_plan(ops_store, plan("completed"), timezone="Europe/Moscow", now=now)
    with ops_store.read() as con:
        state, recorded = con.execute(sa.select(JOURNEYS.c.state, JOURNEYS.c.recorded_at)).one()
    assert (written.journeys, state) == (1, "completed")
    assert recorded > old + timedelta(days=1)
