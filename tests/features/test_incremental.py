"""Incremental refresh: features from customer_state plus the recent orders equal a full scan.

Random sequences of loads (new orders, repeated orders with a new status: refunds,
cancellations, late payments, partial payments) go through ``load_file`` as small CSVs; after
each load the features and the segments from ``customer_state`` must equal those from the
whole order log, to the cent.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.features import FeaturesSettings, SignalSettings, compute_features, features_sql
from livebase.features.state import state_ready
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments import SegmentsSettings, run_segmentation
from livebase.store import Store

AS_OF = date(2026, 6, 30)
START = date(2025, 6, 1)
STATUSES = ("paid", "paid", "paid", "partially_paid", "pending", "cancelled", "refunded")
SETTINGS = FeaturesSettings(
    window_days=120,
    signals={
        "courses_90d": SignalSettings(source="orders", items_like="%course%", window_days=90),
        "spend_30d": SignalSettings(source="orders", measure="amount", window_days=30),
        "days_since_course": SignalSettings(
            source="orders", items_like="%course%", measure="days_since", window_days=150
        ),
    },
)
order_rows = st.lists(
    st.tuples(
        st.integers(0, 40),  # order number (a repeat updates the order, maybe moving it)
        st.integers(0, 12),  # customer
        st.integers(0, (AS_OF - START).days),  # day
        st.sampled_from(STATUSES),
        st.integers(1, 50_000),  # amount in cents
        st.booleans(),  # a course?
        st.booleans(),  # paid a few days after it was created
    ),
    min_size=1,
    max_size=25,
)


def _write(path: Path, rows: list[tuple[int, int, int, str, int, bool, bool]]) -> None:
    seen: dict[int, tuple[int, int, int, str, int, bool, bool]] = {}
    for row in rows:
        seen[row[0]] = row  # one row per order id in a file
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "order_id",
                "customer_id",
                "created_at",
                "paid_at",
                "amount",
                "paid_amount",
                "status",
                "items",
            ]
        )
        for number, customer, day, status, cents, course, late in seen.values():
            created = START + timedelta(days=day)
            paid = min(created + timedelta(days=3 if late else 0), AS_OF)
            amount = cents / 100
            paid_amount = round(amount / 2, 2) if status == "partially_paid" else ""
            out.writerow(
                [
                    f"o{number}",
                    f"c{customer}",
                    f"{created} 10:00:00",
                    f"{paid} 12:30:00" if status in ("paid", "partially_paid") else "",
                    f"{amount:.2f}",
                    paid_amount,
                    status,
                    "Python course" if course else "book",
                ]
            )


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
    )


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(loads=st.lists(order_rows, min_size=1, max_size=4))
def test_features_from_state_equal_a_full_scan_after_every_load(
    loads: list[list[tuple[int, int, int, str, int, bool, bool]]],
    tmp_path: Path,
) -> None:
    store = Store.in_memory()
    for i, rows in enumerate(loads):
        path = tmp_path / f"load{i}.csv"
        _write(path, rows)
        load_file(store, str(path), LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 7, 1)))
        ready, why = state_ready(store.con, SETTINGS, AS_OF)
        assert ready, why
        full = compute_features(store.con, SETTINGS, AS_OF, source="log")
        incremental = compute_features(store.con, SETTINGS, AS_OF, source="state")
        _assert_same(full, incremental)


def test_segments_and_kpis_from_state_equal_a_full_rebuild(tmp_path: Path) -> None:
    store = Store.in_memory()
    rows = [
        (
            n,
            n % 13,
            (n * 37) % 390,
            STATUSES[n % len(STATUSES)],
            1000 + 97 * n,
            n % 3 == 0,
            n % 2 == 0,
        )
        for n in range(60)
    ]
    _write(tmp_path / "a.csv", rows[:40])
    _write(tmp_path / "b.csv", [*rows[30:], (3, 3, 380, "refunded", 1291, False, False)])
    for name in ("a.csv", "b.csv"):
        load_file(
            store,
            str(tmp_path / name),
            LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 7, 1)),
        )
    runs = {
        source: run_segmentation(
            store, SETTINGS, SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1), source=source
        )
        for source in ("log", "state")
    }
    assert runs["state"].source == "state"
    _assert_same(runs["log"].features, runs["state"].features)
    _assert_same(runs["log"].assignments, runs["state"].assignments)
    _assert_same(runs["log"].kpis, runs["state"].kpis)
    auto = run_segmentation(store, SETTINGS, SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1))
    assert auto.source == "state"


def test_a_past_date_or_an_unbounded_order_signal_falls_back_to_the_log(tmp_path: Path) -> None:
    store = Store.in_memory()
    _write(tmp_path / "a.csv", [(1, 1, 300, "paid", 1000, False, False)])
    load_file(
        store,
        str(tmp_path / "a.csv"),
        LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 7, 1)),
    )
    assert state_ready(store.con, SETTINGS, AS_OF)[0]
    ready, why = state_ready(store.con, SETTINGS, START + timedelta(days=100))
    assert not ready and "dated after" in why
    unbounded = FeaturesSettings(signals={"courses": SignalSettings(source="orders")})
    assert not state_ready(store.con, unbounded, AS_OF)[0]
    with pytest.raises(ValueError, match="whole order log"):
        features_sql(unbounded, AS_OF, source="state")


def test_customers_without_state_rows_fall_back_to_the_log() -> None:
    store = Store.in_memory()
    store.con.execute(
        "INSERT INTO customers (customer_id, first_load, last_load) VALUES ('raw', 1, 1)"
    )
    ready, why = state_ready(store.con, FeaturesSettings(), AS_OF)
    assert not ready and ("no customer_state row" in why or "migration 006" in why)
