"""The service's inbox reaches the analytics store through the same load as files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from livebase.config import IngestConfig
from livebase.ingest.inbox import pull_inbox
from livebase.ops import INBOX, OpsStore
from livebase.store import Store

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _order(event_id: str, order_id: str, status: str, amount: str, paid: str | None, ts: datetime):
    payload = {"order_id": order_id, "amount": amount, "status": status, "currency": "RUB"}
    if paid is not None:
        payload["paid_amount"] = paid
    return {
        "event_id": event_id,
        "kind": "order",
        "customer_id": "90001",
        "name": "payment",
        "ts": ts,
        "payload": payload,
        "source": "api",
    }


def _pull(store: Store, ops: OpsStore, now: datetime = NOW):
    return pull_inbox(
        store, ops, timezone="Europe/Moscow", ingest=IngestConfig(), currency="RUB", now=now
    )


def test_orders_and_events_load_once_in_local_time(ops_store: OpsStore) -> None:
    store = Store.in_memory()
    paid_at = datetime(2026, 6, 29, 21, 30, tzinfo=UTC)  # 00:30 on the 30th in Moscow
    with ops_store.begin() as con:
        con.execute(
            INBOX.insert(),
            [
                _order("e1", "D-1", "paid", "4990", None, paid_at),
                _order("e2", "D-2", "partially_paid", "12000", "3000", paid_at),
                {
                    "event_id": "e3",
                    "kind": "event",
                    "customer_id": "90001",
                    "name": "lesson_completed",
                    "ts": paid_at,
                    "payload": {"lesson": 3, "note": "<b>'; DROP TABLE x;--"},
                    "source": "api",
                },
            ],
        )
    report = _pull(store, ops_store)
    assert report.orders is not None and report.orders.rows_inserted == 2
    assert report.events is not None and report.events.rows_inserted == 1
    assert store.con.execute(
        "SELECT order_id, paid_at, paid_amount, status FROM orders ORDER BY order_id"
    ).fetchall() == [
        ("D-1", datetime(2026, 6, 30, 0, 30), Decimal("4990.00"), "paid"),
        ("D-2", datetime(2026, 6, 30, 0, 30), Decimal("3000.00"), "partially_paid"),
    ]
    name, properties = store.con.execute("SELECT name, properties FROM events").fetchone()
    assert name == "lesson_completed" and "DROP TABLE" in properties  # stored verbatim

    # nothing new: the overlap is re-read but nothing is added twice
    again = _pull(store, ops_store, NOW + timedelta(minutes=1))
    assert again.orders is not None and again.orders.rows_inserted == 0
    assert store.fetch_value("SELECT count(*) FROM orders") == 2

    # a refund of D-1 arrives later: the order is updated, not duplicated
    with ops_store.begin() as con:
        con.execute(INBOX.insert(), [_order("e4", "D-1", "refunded", "4990", "0", NOW)])
    later = _pull(store, ops_store, NOW + timedelta(hours=1))
    assert later.orders is not None and later.orders.rows_updated == 1
    assert store.con.execute("SELECT status FROM orders WHERE order_id = 'D-1'").fetchone() == (
        "refunded",
    )


def test_an_empty_inbox_loads_nothing(ops_store: OpsStore) -> None:
    store = Store.in_memory()
    report = _pull(store, ops_store)
    assert (report.events, report.orders) == (None, None)
    assert store.fetch_value("SELECT count(*) FROM loads") == 0
