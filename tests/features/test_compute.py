"""Distinct paid days counted as orders less same-day repeats, range by range, equal the
portable ``COUNT(DISTINCT paid_day)`` features on seeded random logs, whatever the bounds."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.features import FeaturesSettings, SignalSettings, features_sql
from livebase.features.compute import MAX_RANGES, paid_day_bounds
from livebase.store import Store

AS_OF = date(2026, 6, 30)
START = date(2026, 5, 1)
STATUSES = ("paid", "paid", "partially_paid", "pending", "refunded")
SETTINGS = FeaturesSettings(
    window_days=20,
    frequency="days",
    signals={"buy_days": SignalSettings(source="orders", measure="distinct_days")},
)

orders = st.lists(
    st.tuples(
        st.integers(0, 6),  # customer
        st.integers(0, (AS_OF - START).days + 5),  # day (a few after as_of)
        st.integers(0, 86_399),  # second of the day
        st.sampled_from(STATUSES),
        st.integers(0, 3_000),  # paid cents (0: not counted)
    ),
    max_size=40,
)
bounds = st.lists(st.integers(-5, (AS_OF - START).days + 5), max_size=6)


def _store(rows: list[tuple[int, int, int, str, int]]) -> Store:
    store = Store.in_memory()
    store.con.execute(
        "INSERT INTO customers (customer_id, first_load, last_load) "
        "SELECT 'c' || i, 1, 1 FROM range(7) t(i)"
    )
    for i, (who, day, second, status, cents) in enumerate(rows):
        paid = None if status == "pending" else START + timedelta(days=day)
        store.con.execute(
            "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, "
            "paid_amount, status, first_load, last_load) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1)",
            [
                f"o{i}",
                f"c{who}",
                START + timedelta(days=day, seconds=second),
                None if paid is None else paid + timedelta(seconds=second),
                cents / 100,
                0 if status in ("pending", "refunded") else cents / 100,
                status,
            ],
        )
    return store


def _features(store: Store, bounds: list[date] | None) -> pd.DataFrame:
    sql = features_sql(SETTINGS, AS_OF, paid_day_bounds=bounds)
    frame: pd.DataFrame = store.con.execute(f"SELECT * FROM ({sql}) f ORDER BY customer_id").df()
    return frame


@settings(max_examples=40, deadline=None)
@given(orders, bounds)
def test_repeats_by_range_equal_count_distinct(
    rows: list[tuple[int, int, int, str, int]], offsets: list[int]
) -> None:
    store = _store(rows)
    reference = _features(store, None)
    given_bounds = [START + timedelta(days=k) for k in offsets]
    pd.testing.assert_frame_equal(_features(store, given_bounds), reference)
    pd.testing.assert_frame_equal(_features(store, paid_day_bounds(store.con, AS_OF)), reference)
    chosen = paid_day_bounds(store.con, AS_OF, orders_per_range=1)  # one range per order
    assert chosen == sorted(chosen) and all(START < d <= AS_OF for d in chosen)
    assert len(chosen) < MAX_RANGES
    pd.testing.assert_frame_equal(_features(store, chosen), reference)


def test_same_day_orders_are_one_paid_day() -> None:
    day = (AS_OF - START).days
    store = _store(
        [(1, day, 10, "paid", 100), (1, day, 20, "paid", 200), (1, day - 3, 5, "paid", 50)]
    )
    row = _features(store, [AS_OF - timedelta(days=1)]).set_index("customer_id").loc["c1"]
    assert (row["orders_total"], row["paid_days_total"], row["buy_days"]) == (3, 2, 2)
    assert row["mean_interpurchase_days"] == 3.0
