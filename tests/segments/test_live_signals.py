"""Signals moved live equal the batch run including the event: every measure, windows, item
filters, first occurrences; and through the service, a second occurrence the same day adds no
day to a distinct-days signal."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.features import FeaturesSettings, features_sql
from livebase.ingest.inbound import parse_batch
from livebase.ops.tables import CUSTOMER_STATUS, STATUS_THRESHOLDS
from livebase.orchestrate.live import LiveRules, accept_events
from livebase.segments.live import advance_days, apply_payment
from livebase.segments.live_signals import (
    move_event_signals,
    move_order_signals,
    signal_defaults,
)
from livebase.segments.settings import QuantileScheme, SegmentsSettings
from livebase.store import Store

AS_OF = date(2026, 6, 30)
SIGNALS = FeaturesSettings.model_validate(
    {
        "signals": {
            "logins_30d": {"events": ["login"], "window_days": 30},
            "login_days_30d": {"events": ["login"], "measure": "distinct_days", "window_days": 30},
            "days_since_login": {"events": ["login"], "measure": "days_since"},
            "logins_per_month": {"events": ["login"], "measure": "per_month", "window_days": 60},
            "lessons": {"events": ["lesson_completed"]},
            "paid_modules_90d": {"source": "orders", "window_days": 90},
            "subscriptions_90d": {"source": "orders", "items_like": "%подписк%", "window_days": 90},
            "subscription_spend": {"source": "orders", "items_like": "%подписк%", "measure": "amount"},
            "subscription_days": {"source": "orders", "items_like": "%подписк%",
                                  "measure": "distinct_days"},
            "days_since_subscription": {"source": "orders", "items_like": "%подписк%",
                                        "measure": "days_since"},
            "course_per_month": {"source": "orders", "items_like": "курс%", "measure": "per_month",
                                 "window_days": 30},
        }
    }
)  # fmt: skip
ITEMS = ["Подписка на месяц", "Курс Python", "курс SQL", "Консультация", None]


def _base(seed: int) -> Store:
    rng = random.Random(seed)
    store = Store.in_memory()
    for c in range(4):
        store.con.execute(
            "INSERT INTO customers (customer_id, created_at, first_load, last_load) "
            "VALUES (?, '2025-01-01', 1, 1)",
            [f"c{c}"],
        )
        for k in range(rng.choice([0, 1, 3, 6])):
            day = AS_OF - timedelta(days=rng.randint(0, 120))
            amount = rng.choice([490, 990, 4990])
            store.con.execute(
                "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, "
                "paid_amount, status, items, first_load, last_load) "
                "VALUES (?, ?, ?, ?, ?, ?, 'paid', ?, 1, 1)",
                [f"o{c}-{k}", f"c{c}", day, day, amount, amount, rng.choice(ITEMS)],
            )
        for k in range(rng.choice([0, 2, 5])):
            ts = datetime.combine(AS_OF - timedelta(days=rng.randint(0, 70)), datetime.min.time())
            store.con.execute(
                "INSERT INTO events (event_id, customer_id, ts, name, first_load) "
                "VALUES (?, ?, ?, ?, 1)",
                [f"e{c}-{k}", f"c{c}", ts + timedelta(hours=10), rng.choice(["login", "lesson_completed"])],
            )  # fmt: skip
    return store


def _features(store: Store, as_of: date) -> dict[str, dict[str, Any]]:
    relation = store.con.sql(features_sql(SIGNALS, as_of))
    names = relation.columns
    return {str(row[0]): dict(zip(names, row, strict=True)) for row in relation.fetchall()}


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for name in SIGNALS.signals:
        value, expected = got.get(name), want.get(name)
        if expected is None:
            assert value is None, name
        else:
            assert value == pytest.approx(float(expected)), name


def _occurred(store: Store, customer: str, day: date, source: str, name: str) -> bool:
    """The truth a distinct-days signal needs: an occurrence of the signal that day already."""
    signal = SIGNALS.signals[name]
    if source == "orders":
        like = signal.items_like or "%"
        sql = (
            "SELECT count(*) FROM orders WHERE customer_id = ? AND CAST(paid_at AS DATE) = ? "
            "AND paid_amount > 0 AND LOWER(COALESCE(items, '')) LIKE LOWER(?)"
        )
        if signal.items_like is not None:
            sql += " AND items IS NOT NULL"
        found = store.con.execute(sql, [customer, day, like]).fetchone()
    else:
        names = list(signal.events)
        found = store.con.execute(
            "SELECT count(*) FROM events WHERE customer_id = ? AND CAST(ts AS DATE) = ? "
            "AND list_contains(?, name)",
            [customer, day, names],
        ).fetchone()
    return bool(found and found[0])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    customer=st.sampled_from(["c0", "c1", "c2", "c3", "new"]),
    days_later=st.sampled_from([0, 20]),
    items=st.sampled_from(ITEMS),
)
def test_a_payment_moves_order_signals_as_the_batch_run_including_it(
    seed: int, customer: str, days_later: int, items: str | None
) -> None:
    store = _base(seed)
    before = _features(store, AS_OF).get(customer, signal_defaults(SIGNALS))
    paid_day = AS_OF + timedelta(days=days_later)
    truth = {
        name: _occurred(store, customer, paid_day, "orders", name)
        for name, s in SIGNALS.signals.items()
        if s.source == "orders"
    }
    if customer == "new":
        store.con.execute(
            "INSERT INTO customers (customer_id, first_load, last_load) VALUES ('new', 2, 2)"
        )
    store.con.execute(
        "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
        "status, items, first_load, last_load) VALUES ('live', ?, ?, ?, 1990, 1990, 'paid', ?, 2, 2)",
        [customer, paid_day, paid_day, items],
    )
    after = _features(store, paid_day)[customer]
    moved, new_as_of = apply_payment(
        before, as_of=AS_OF, paid_day=paid_day, paid_amount=1990.0, new_order=True
    )
    moved = move_order_signals(
        moved, SIGNALS, as_of=AS_OF, new_as_of=new_as_of, paid_day=paid_day,
        paid_amount=1990.0, new_order=True, items=items, day_counted=truth.__getitem__,
    )  # fmt: skip
    if days_later:  # windowed counts lose what left their window only at the next run
        windowed = [n for n, s in SIGNALS.signals.items() if s.window_days is not None]
        after = {**after, **{n: moved[n] for n in windowed}}
    _same(moved, after)
    assert moved["recency_days"] == after["recency_days"]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    customer=st.sampled_from(["c0", "c1", "c2", "c3"]),
    days_later=st.sampled_from([0, 40]),
    name=st.sampled_from(["login", "lesson_completed", "page_view"]),
)
def test_an_event_moves_event_signals_as_the_batch_run_including_it(
    seed: int, customer: str, days_later: int, name: str
) -> None:
    store = _base(seed)
    before = _features(store, AS_OF)[customer]
    day = AS_OF + timedelta(days=days_later)
    truth = {
        n: _occurred(store, customer, day, "events", n)
        for n, s in SIGNALS.signals.items()
        if s.source == "events"
    }
    store.con.execute(
        "INSERT INTO events (event_id, customer_id, ts, name, first_load) VALUES ('live', ?, ?, ?, 2)",
        [customer, datetime.combine(day, datetime.min.time()) + timedelta(hours=12), name],
    )
    after = _features(store, day)[customer]
    moved, counted_in = move_event_signals(
        advance_days(before, days_later), SIGNALS, as_of=AS_OF, new_as_of=day, name=name,
        day=day, day_counted=truth.__getitem__,
    )  # fmt: skip
    assert bool(counted_in) == (name != "page_view")
    if days_later:  # windowed counts lose what left their window only at the next run
        windowed = [n for n, s in SIGNALS.signals.items() if s.window_days is not None]
        after = {**after, **{n: moved[n] for n in windowed}}
    _same(moved, after)
    assert moved.get("recency_days") == after.get("recency_days")


DOC = {
    "schemes": {
        "rfm": {
            "kind": "quantile",
            "dimensions": {
                "R": {"feature": "recency_days", "scores": [{"score": 1, "min": 0, "max": 999}]},
                "F": {"feature": "frequency", "scores": [{"score": 1, "min": 1, "max": 999}]},
                "M": {"feature": "monetary", "scores": [{"score": 1, "min": 0, "max": 1e9}]},
            },
        }
    }
}


def test_through_the_service_a_second_login_the_same_day_adds_no_day(ops_store: Any) -> None:
    now = datetime(2026, 7, 2, 18, tzinfo=UTC)
    features = {"recency_days": 10, "frequency": 1, "monetary": 100.0, "orders_total": 1,
                "logins_30d": 4, "login_days_30d": 3, "days_since_login": 6,
                "subscription_days": 1, "subscriptions_90d": 1, "subscription_spend": 990.0}  # fmt: skip
    with ops_store.begin() as con:
        con.execute(
            STATUS_THRESHOLDS.insert().values(
                version="t1", as_of=date(2026, 7, 1), thresholds=DOC, created_at=now
            )
        )
        con.execute(
            CUSTOMER_STATUS.insert().values(
                customer_id="c1", features=features, segments={"rfm": "111"},
                since={"rfm": "2026-06-21"}, thresholds_version="t1", as_of=date(2026, 7, 1),
                updated_at=now, source="batch",
            )
        )  # fmt: skip
    rules = LiveRules(
        segments=SegmentsSettings(schemes={"rfm": QuantileScheme()}),
        features=SIGNALS,
        timezone="Europe/Moscow",
    )
    items = [
        {"event_id": "l1", "customer_id": "c1", "name": "login", "ts": "2026-07-02T07:00:00Z"},
        {"event_id": "l2", "customer_id": "c1", "name": "login", "ts": "2026-07-02T15:00:00Z"},
        {"event_id": "p1", "customer_id": "c1", "ts": "2026-07-02T16:00:00Z",
         "order": {"order_id": "s1", "amount": 990, "status": "paid",
                   "items": "Подписка, июль"}},
        {"event_id": "p2", "customer_id": "c1", "ts": "2026-07-02T16:30:00Z",
         "order": {"order_id": "s2", "amount": 490, "status": "paid", "items": "Подписка+"}},
    ]  # fmt: skip
    for item in items:  # one event per request, as a webhook sends them
        batch = parse_batch([item], max_batch=10, timezone="Europe/Moscow")
        accept_events(ops_store, batch, rules, source="api", now=now)
    with ops_store.read() as con:
        row = con.execute(
            sa.select(CUSTOMER_STATUS.c.features, CUSTOMER_STATUS.c.as_of).where(
                CUSTOMER_STATUS.c.customer_id == "c1"
            )
        ).one()
    moved, as_of = row
    assert as_of == date(2026, 7, 2)
    assert moved["logins_30d"] == 6
    assert moved["login_days_30d"] == 4  # two logins, one new day
    assert moved["days_since_login"] == 0
    assert moved["subscriptions_90d"] == 3
    assert moved["subscription_days"] == 2  # two subscription orders, one new day
    assert moved["subscription_spend"] == pytest.approx(990.0 + 990 + 490)
    assert moved["recency_days"] == 0
