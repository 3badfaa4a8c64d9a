"""Bridges between the stores: ops → DuckDB copies by watermark, DuckDB → customer_status."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from livebase.ops import (
    ASSIGNMENTS,
    CONSENTS,
    CUSTOMER_STATUS,
    JOURNEYS,
    SEND_LEDGER,
    STATUS_THRESHOLDS,
    OpsStore,
)
from livebase.ops.bridges import pull_operational
from livebase.segments.publish import publish_status
from livebase.segments.run import run_segmentation
from livebase.segments.settings import FeaturesSettings, SegmentsSettings
from livebase.store import Store

T0 = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def _ledger(n: int, ts: datetime, kind: str = "sent", cost: float = 0.05) -> dict[str, object]:
    return {
        "event_id": f"c{n}|wb|1|email:{kind}",
        "message_key": f"c{n}|wb|1|email",
        "customer_id": f"c{n}",
        "playbook": "wb",
        "occurrence": 1,
        "step": "email",
        "channel": "email",
        "type": kind,
        "cost": cost,
        "ts": ts,
    }


def test_pull_copies_each_row_once_in_local_time_and_follows_updates(ops_store: OpsStore) -> None:
    store = Store.in_memory()
    with ops_store.begin() as con:
        con.execute(SEND_LEDGER.insert(), [_ledger(i, T0, cost=i % 2 * 4.5) for i in range(300)])
        con.execute(
            JOURNEYS.insert().values(
                customer_id="c1",
                playbook="wb",
                occurrence=1,
                entered_at=T0,
                arm="treatment",
                state="active",
                updated_at=T0,
            )
        )
        con.execute(
            ASSIGNMENTS.insert().values(
                unit="playbook:wb",
                customer_id="c1",
                occurrence=1,
                arm="holdout",
                holdout_share=0.1,
                salt="wb",
                ts=T0,
            )
        )
        con.execute(
            CONSENTS.insert().values(
                customer_id="c1",
                channel="email",
                purpose="marketing",
                status="granted",
                source="form",
                ts=T0,
            )
        )
    first = pull_operational(store, ops_store, timezone="Europe/Moscow", now=T0)
    assert first.copied == {"send_ledger": 300, "journeys": 1, "assignments": 1, "consents": 1}
    row = store.con.execute(
        "SELECT ts, cost FROM ops_send_ledger WHERE event_id = 'c1|wb|1|email:sent'"
    ).fetchone()
    assert row == (datetime(2026, 6, 30, 12, 0), 4.5)
    assert store.fetch_value("SELECT sum(cost) FROM ops_send_ledger") == 150 * 4.5

    # a journey ends and two more messages go out: the next pull brings exactly that
    with ops_store.begin() as con:
        con.execute(
            JOURNEYS.update()
            .where(JOURNEYS.c.customer_id == "c1")
            .values(state="exited", exit_reason="purchase", exited_at=T0 + timedelta(hours=1))
        )
        con.execute(SEND_LEDGER.insert(), [_ledger(i, T0, "opened") for i in (1, 2)])
    pull_operational(store, ops_store, timezone="Europe/Moscow", now=T0 + timedelta(hours=2))
    assert store.fetch_value("SELECT count(*) FROM ops_send_ledger") == 302
    assert store.con.execute(
        "SELECT state, exit_reason, exited_at FROM ops_journeys"
    ).fetchall() == [("exited", "purchase", datetime(2026, 6, 30, 13, 0))]

    # rows recorded long ago (before the watermark's overlap) are not re-read
    third = pull_operational(store, ops_store, timezone="Europe/Moscow", now=T0 + timedelta(days=1))
    assert third.copied["send_ledger"] <= 302  # only the overlap window, never a duplicate
    assert store.fetch_value("SELECT count(*) FROM ops_send_ledger") == 302


def test_a_row_committed_late_inside_the_overlap_is_still_copied(ops_store: OpsStore) -> None:
    store = Store.in_memory()
    with ops_store.begin() as con:
        con.execute(SEND_LEDGER.insert(), [_ledger(1, T0)])
    pull_operational(store, ops_store, timezone="UTC", now=T0)
    # a transaction that began before the pull commits after it, stamped 5 minutes earlier
    late = _ledger(2, T0) | {"recorded_at": datetime.now(UTC) - timedelta(minutes=5)}
    with ops_store.begin() as con:
        con.execute(SEND_LEDGER.insert(), [late])
    pull_operational(store, ops_store, timezone="UTC", now=T0)
    assert store.fetch_value("SELECT count(*) FROM ops_send_ledger") == 2


def _small_store() -> Store:
    store = Store.in_memory()
    store.con.execute(
        "INSERT INTO customers (customer_id, email, phone, timezone, first_load, last_load) VALUES "
        "('a', 'a@x.ru', '+79120000001', 'Asia/Yekaterinburg', 1, 1), "
        "('b', 'b@x.ru', NULL, NULL, 1, 1), ('c', NULL, NULL, NULL, 1, 1)"
    )
    values = []
    for i, (customer, day) in enumerate(
        [("a", "2026-01-05"), ("a", "2026-03-01"), ("a", "2026-06-20"), ("b", "2026-02-10")]
    ):
        values.append(
            f"('o{i}', '{customer}', '{day} 10:00', '{day} 10:00', 100, 100, 'paid', 1, 1)"
        )
    store.con.execute(
        "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
        "status, first_load, last_load) VALUES " + ", ".join(values)
    )
    return store


def test_publish_writes_every_customers_segments_features_and_thresholds(
    ops_store: OpsStore,
) -> None:
    store = _small_store()
    features, segments = FeaturesSettings(), SegmentsSettings()
    as_of = date(2026, 6, 30)
    run = run_segmentation(store, features, segments, as_of, ran_at=T0)
    published = publish_status(
        store, ops_store, features, segments, run, timezone="Europe/Moscow", now=T0
    )
    assert published.customers == run.customers == 3
    with ops_store.read() as con:
        rows = {
            r["customer_id"]: r for r in con.execute(sa.select(CUSTOMER_STATUS)).mappings().all()
        }
        thresholds = con.execute(sa.select(STATUS_THRESHOLDS)).mappings().one()
    expected = {(r.customer_id, r.scheme): r.segment for r in run.assignments.itertuples()}
    for customer, row in rows.items():
        for scheme in segments.schemes:
            assert row["segments"][scheme] == expected[(customer, scheme)]
    a = rows["a"]
    assert a["email"] == "a@x.ru" and a["timezone"] == "Asia/Yekaterinburg"
    assert a["features"]["frequency"] == 3
    assert a["last_paid_at"] == datetime(2026, 6, 20, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
    assert a["thresholds_version"] == thresholds["version"] == published.thresholds_version
    assert set(thresholds["thresholds"]["schemes"]) == {"rfm", "abc"}
    # a spent 300 and b 100 of 400: both are within the first 80 % of revenue, class A
    assert thresholds["thresholds"]["schemes"]["abc"] == {
        "kind": "abc",
        "monetary_a_min": 100.0,
        "monetary_b_min": None,
    }
    assert json.dumps(thresholds["thresholds"])  # plain JSON, readable by the service

    # a later run replaces the rows (upsert), it does not add any
    later = run_segmentation(store, features, segments, date(2026, 9, 30), ran_at=T0)
    publish_status(store, ops_store, features, segments, later, timezone="Europe/Moscow", now=T0)
    with ops_store.read() as con:
        assert con.execute(sa.select(sa.func.count()).select_from(CUSTOMER_STATUS)).scalar() == 3
        assert con.execute(
            sa.select(CUSTOMER_STATUS.c.as_of).where(CUSTOMER_STATUS.c.customer_id == "a")
        ).scalar() == date(2026, 9, 30)


def test_publish_streams_a_base_in_batches_and_writes_every_row_once(
    ops_store: OpsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base larger than one batch is streamed batch by batch (10M customers never sit in
    memory whole): every customer is written once, with the same row as one batch gives."""
    import livebase.segments.publish as publish

    store = Store.in_memory()
    store.con.execute(
        "INSERT INTO customers (customer_id, email, first_load, last_load) "
        "SELECT 'c' || i, 'c' || i || '@x.ru', 1, 1 FROM range(23) t(i)"
    )
    store.con.execute(
        "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
        "status, first_load, last_load) SELECT 'o' || i, 'c' || (i % 17), "
        "DATE '2026-01-01' + CAST(i * 3 AS INTEGER), DATE '2026-01-01' + CAST(i * 3 AS INTEGER), "
        "100 + i, 100 + i, 'paid', 1, 1 FROM range(40) t(i)"
    )
    features, segments = FeaturesSettings(), SegmentsSettings()
    run = run_segmentation(store, features, segments, date(2026, 6, 30), ran_at=T0)
    whole = publish_status(store, ops_store, features, segments, run, timezone="UTC", now=T0)
    with ops_store.read() as con:
        once = {
            r["customer_id"]: dict(r) for r in con.execute(sa.select(CUSTOMER_STATUS)).mappings()
        }
    with ops_store.begin() as con:
        con.execute(CUSTOMER_STATUS.delete())
    monkeypatch.setattr(publish, "_BATCH_ROWS", 5)
    batched = publish_status(store, ops_store, features, segments, run, timezone="UTC", now=T0)
    with ops_store.read() as con:
        rows = {
            r["customer_id"]: dict(r) for r in con.execute(sa.select(CUSTOMER_STATUS)).mappings()
        }
    assert whole.customers == batched.customers == len(rows) == 23
    assert whole.thresholds_version == batched.thresholds_version
    assert rows == once
    assert store.con.sql(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'lb_publish_features'"
    ).fetchall() == [(0,)]


def test_publishing_the_same_run_again_rewrites_no_row(ops_store: OpsStore) -> None:
    """A re-run (or a retry after a failure) of a publish leaves unchanged statuses alone:
    their ``updated_at`` stays that of the publish that wrote them."""
    store = _small_store()
    features, segments = FeaturesSettings(), SegmentsSettings()
    run = run_segmentation(store, features, segments, date(2026, 6, 30), ran_at=T0)
    publish_status(store, ops_store, features, segments, run, timezone="UTC", now=T0)
    later = T0 + timedelta(hours=5)
    publish_status(store, ops_store, features, segments, run, timezone="UTC", now=later)
    with ops_store.read() as con:
        stamps = set(con.execute(sa.select(CUSTOMER_STATUS.c.updated_at)).scalars())
    assert stamps == {T0}
