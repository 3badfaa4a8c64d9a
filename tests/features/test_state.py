"""``customer_state``: the state written from one GROUP BY's aggregates (a first load) is the
state recomputed from the log (any later load), and both count what the definitions say."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.features.state import (
    STATE_COLUMNS,
    order_aggregates_sql,
    refresh_customer_state,
    write_customer_state,
)
from livebase.store import Store

START = datetime(2025, 1, 1)

order = st.tuples(
    st.integers(0, 5),  # customer
    st.one_of(st.none(), st.integers(0, 400)),  # created, days after START
    st.one_of(st.none(), st.integers(0, 400)),  # paid, days after START
    st.sampled_from(["0.00", "5.00", "12.50"]),  # paid amount
    st.sampled_from(["paid", "pending", "refunded", "cancelled"]),
)
event = st.tuples(st.integers(0, 7), st.integers(0, 400))


def _store(
    orders: list[tuple[int, int | None, int | None, str, str]], events: list[tuple[int, int]]
) -> Store:
    store = Store.in_memory()

    def at(days: int | None) -> datetime | None:
        return None if days is None else START + timedelta(days=days, hours=days % 24)

    for i, (customer, created, paid, paid_amount, status) in enumerate(orders):
        if created is None and paid is None:
            created = 0
        store.con.execute(
            "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
            "currency, status, first_load, last_load) VALUES (?, ?, ?, ?, 20, ?, 'RUB', ?, 1, 1)",
            [f"o{i}", f"c{customer}", at(created), at(paid), Decimal(paid_amount), status],
        )
    for i, (customer, days) in enumerate(events):
        store.con.execute(
            "INSERT INTO events VALUES (?, ?, ?, 'login', NULL, 1)",
            [f"e{i}", f"c{customer}", at(days)],
        )
    return store


def _state(store: Store) -> list[tuple[object, ...]]:
    return store.con.execute(
        f"SELECT {', '.join(STATE_COLUMNS)} FROM customer_state ORDER BY customer_id"
    ).fetchall()


@settings(max_examples=60, deadline=None)
@given(orders=st.lists(order, min_size=1, max_size=30), events=st.lists(event, max_size=10))
def test_state_from_aggregates_equals_the_recomputed_state(
    orders: list[tuple[int, int | None, int | None, str, str]], events: list[tuple[int, int]]
) -> None:
    store = _store(orders, events)
    # customers with events only have a state row from an earlier load: it must stay
    refresh_customer_state(store.con, "SELECT customer_id FROM events", 1)
    refresh_customer_state(store.con, "SELECT customer_id FROM orders", 2)
    recomputed = _state(store)
    store.con.execute("DELETE FROM customer_state")
    refresh_customer_state(store.con, "SELECT customer_id FROM events", 1)
    store.con.execute(
        f"CREATE TEMP TABLE agg AS SELECT customer_id, {order_aggregates_sql()} "
        "FROM orders GROUP BY customer_id"
    )
    write_customer_state(store.con, "agg", 2)
    assert _state(store) == recomputed

    # and the rows count what the definitions say (a counted order: paid_amount > 0, paid_at)
    # and a paid day is a calendar day with counted orders, however many)
    by_customer: dict[str, tuple[int, Decimal, int, int]] = {}
    days: dict[str, set[int]] = {}
    for customer, _created, paid, paid_amount, status in orders:
        key = f"c{customer}"
        n, revenue, refunded, _ = by_customer.get(key, (0, Decimal(0), 0, 0))
        counted = Decimal(paid_amount) > 0 and paid is not None
        if counted:
            days.setdefault(key, set()).add(paid)  # the day number: its hours stay in that day
        by_customer[key] = (
            n + counted,
            revenue + (Decimal(paid_amount) if counted else 0),
            refunded + (status == "refunded"),
            len(days.get(key, ())),
        )
    got = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in store.con.execute(
            "SELECT customer_id, paid_orders, paid_revenue, refunded_orders, paid_days "
            "FROM customer_state"
        ).fetchall()
    }
    assert {k: got[k] for k in by_customer} == by_customer
    only_events = {f"c{c}" for c, _ in events} - set(by_customer)
    assert all(got[k] == (0, Decimal("0.00"), 0, 0) for k in only_events)
