"""Merging a load into the store: exactly the new and changed rows are written, and
``customer_state`` is recomputed for exactly the customers whose orders or events changed."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.features.state import STATE_COLUMNS, customer_state_sql
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

Row = tuple[str, str, str, str, str, str]  # order id, customer, email, date, amount, status


def _options(day: int = 1, preset: str = "generic") -> LoadOptions:
    return LoadOptions(PRESETS[preset], loaded_at=datetime(2026, 2, day))


def _write(path: Path, rows: list[Row]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "customer_id", "email", "date", "amount", "status"])
        out.writerows(rows)
    return path


def _order(n: int, customer: int, amount: str = "10.00", status: str = "paid") -> Row:
    day = datetime(2025, 6, 1) + timedelta(days=n % 200)
    return (f"o{n}", f"c{customer}", f"c{customer}@example.ru", f"{day:%Y-%m-%d}", amount, status)


def _state(store: Store) -> dict[str, tuple[object, ...]]:
    columns = ", ".join(STATE_COLUMNS)
    return {
        row[0]: row for row in store.con.execute(f"SELECT {columns} FROM customer_state").fetchall()
    }


def _recomputed(store: Store) -> dict[str, tuple[object, ...]]:
    """Every customer's state computed from the whole order and event log now; updated_load
    taken from the stored row (it says when, not what)."""
    sql = customer_state_sql("(SELECT customer_id FROM customers)", 0)
    stored = _state(store)
    at = STATE_COLUMNS.index("updated_load")
    return {
        row[0]: (*row[:at], stored.get(row[0], (None,) * len(STATE_COLUMNS))[at], *row[at + 1 :])
        for row in store.con.execute(sql).fetchall()
    }


def test_overlapping_export_updates_exactly_the_changed_orders(tmp_path: Path) -> None:
    first = [_order(n, n % 10) for n in range(50)]
    store = Store.in_memory()
    load_file(store, str(_write(tmp_path / "a.csv", first)), _options())
    # orders 20..59: 25 with a new amount, 30 moved from c0 to c11 (a new customer), 33
    # refunded, 50..59 new (for c0, c1, c2); the other 27 exactly as before
    later = [_order(n, n % 10) for n in range(20, 50)] + [_order(n, n % 3) for n in range(50, 60)]
    later[25 - 20] = _order(25, 5, amount="99.00")
    later[30 - 20] = _order(30, 11)
    later[33 - 20] = _order(33, 3, status="refunded")
    result = load_file(store, str(_write(tmp_path / "b.csv", later)), _options(day=2))
    assert (result.rows_inserted, result.rows_updated, result.rows_unchanged) == (10, 3, 27)
    written = store.con.execute(
        "SELECT order_id FROM orders WHERE last_load = 2 ORDER BY order_id"
    ).fetchall()
    assert {r[0] for r in written} == {"o25", "o30", "o33"} | {f"o{n}" for n in range(50, 60)}
    assert store.fetch_value("SELECT customer_id FROM orders WHERE order_id = 'o30'") == "c11"
    assert store.fetch_value("SELECT count(*) FROM orders") == 60
    # every customer's state is what the log gives now ...
    assert _state(store) == _recomputed(store)
    # ... and was rewritten only for the customers whose orders changed: the new orders'
    # (c0, c1, c2), the moved order's old and new customers (c0, c11), the changed ones' (c3, c5)
    refreshed = store.con.execute(
        "SELECT customer_id FROM customer_state WHERE updated_load = 2"
    ).fetchall()
    assert {r[0] for r in refreshed} == {"c0", "c1", "c2", "c3", "c5", "c11"}


def test_unchanged_rows_leave_state_and_customers_untouched(tmp_path: Path) -> None:
    rows = [_order(n, n % 7) for n in range(30)]
    path = _write(tmp_path / "a.csv", rows)
    store = Store.in_memory()
    load_file(store, str(path), _options())
    before = _state(store)
    again = load_file(store, str(path), _options(day=2), force=True)
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 30)
    assert _state(store) == before  # updated_load still 1: nothing rewritten
    assert store.fetch_value("SELECT max(last_load) FROM orders") == 1
    assert store.fetch_value("SELECT max(last_load) FROM customers") == 1


def test_a_reload_fills_a_contact_the_first_file_lacked(tmp_path: Path) -> None:
    """Unchanged orders still bring contacts: a customer without email gets it."""
    store = Store.in_memory()
    order = _order(1, 1, "5")
    load_file(store, str(_write(tmp_path / "a.csv", [(*order[:2], "", *order[3:])])), _options())
    assert store.fetch_value("SELECT email FROM customers WHERE customer_id = 'c1'") is None
    again = load_file(store, str(_write(tmp_path / "b.csv", [order])), _options(2))
    assert again.rows_unchanged == 1
    assert store.fetch_value("SELECT email FROM customers") == "c1@example.ru"


def test_first_load_after_events_keeps_their_dates_in_state(tmp_path: Path) -> None:
    """A first orders load writes the state from one GROUP BY over its rows: the events
    loaded before still count (last_event_at, first_event_at, last_seen_at)."""
    store = Store.in_memory()
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,event\nc1,2026-01-20 08:00:00,login\nc9,2025-01-01 08:00:00,login\n",
        "utf-8",
    )
    load_file(store, str(events), _options(preset="events"))
    rows = [_order(n, n % 4) for n in range(12)] + [_order(12, 1, status="refunded")]
    result = load_file(store, str(_write(tmp_path / "a.csv", rows)), _options())
    assert result.rows_inserted == 13
    state = _state(store)
    assert state == _recomputed(store)
    last_seen = STATE_COLUMNS.index("last_seen_at")
    assert state["c1"][last_seen] == datetime(2026, 1, 20, 8, 0)
    assert state["c9"][STATE_COLUMNS.index("paid_orders")] == 0  # events only, untouched
    assert store.fetch_value("SELECT count(*) FROM customers") == 5


def test_events_reload_refreshes_only_the_new_events_customers(tmp_path: Path) -> None:
    store = Store.in_memory()
    events = tmp_path / "events.csv"
    text = "user_id,timestamp,event\nc1,2026-01-20 08:00:00,login\nc2,2026-01-21 08:00:00,login\n"
    events.write_text(text, "utf-8")
    load_file(store, str(events), _options(preset="events"))
    events.write_text(text + "c2,2026-01-25 09:00:00,lesson\n", "utf-8")
    again = load_file(store, str(events), _options(day=2, preset="events"))
    assert (again.rows_inserted, again.rows_unchanged) == (1, 2)
    state = _state(store)
    updated = STATE_COLUMNS.index("updated_load")
    assert (state["c1"][updated], state["c2"][updated]) == (1, 2)
    assert state["c2"][STATE_COLUMNS.index("last_event_at")] == datetime(2026, 1, 25, 9, 0)
    assert state == _recomputed(store)


def test_customers_export_gives_new_customers_a_state_row(tmp_path: Path) -> None:
    store = Store.in_memory()
    load_file(store, str(_write(tmp_path / "a.csv", [_order(1, 1)])), _options())
    users = tmp_path / "users.csv"
    users.write_text("customer_id,email\nc1,c1@example.ru\nc2,c2@example.ru\n", "utf-8")
    result = load_file(store, str(users), _options(day=2, preset="generic-customers"))
    assert (result.rows_inserted, result.rows_unchanged) == (1, 1)
    state = _state(store)
    assert set(state) == {"c1", "c2"} and state == _recomputed(store)
    updated = STATE_COLUMNS.index("updated_load")
    assert (state["c1"][updated], state["c2"][updated]) == (1, 2)


orders = st.lists(
    st.tuples(
        st.integers(0, 30),  # order number: a repeat in a later file updates or moves it
        st.integers(0, 8),  # customer
        st.sampled_from(["1.00", "10.50", "0", "250.00"]),
        st.sampled_from(["paid", "pending", "cancelled", "refunded"]),
    ),
    min_size=1,
    max_size=20,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=st.lists(orders, min_size=1, max_size=4))
def test_state_after_any_sequence_of_loads_is_a_full_recompute(
    tmp_path: Path, files: list[list[tuple[int, int, str, str]]]
) -> None:
    store = Store.in_memory()
    for i, rows in enumerate(files):
        latest = {n: _order(n, c, amount, status) for n, c, amount, status in rows}
        path = _write(tmp_path / f"f{i}.csv", list(latest.values()))
        result = load_file(store, str(path), _options(day=i + 1), force=True)
        assert result.rows_rejected == 0
        assert _state(store) == _recomputed(store)
        stored = dict(store.con.execute("SELECT order_id, customer_id FROM orders").fetchall())
        assert all(stored[row[0]] == row[1] for row in latest.values())
