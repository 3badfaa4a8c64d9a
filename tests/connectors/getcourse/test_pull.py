"""``livebase sync getcourse`` against a local replay of the export API: the Done-means checks."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from livebase.connectors.getcourse.replay import ReplayServer
from livebase.connectors.getcourse.run import sync_getcourse
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.ops.tables import WATERMARKS
from livebase.store import Store
from livebase.workspace import Workspace

from ._data import (
    DEAL_FIELDS,
    KEY,
    PAID_REVENUE_DEALS,
    PAID_REVENUE_PAYMENTS,
    PAYMENT_FIELDS,
    PAYMENTS,
    USER_FIELDS,
    USERS,
    write_csv,
)
from .conftest import NOW, Sleeps, make_workspace


def _revenue(store: Store) -> Decimal:
    return Decimal(store.fetch_value("SELECT coalesce(sum(paid_amount), 0) FROM orders"))


def _watermarks(ws: Workspace) -> dict[str, tuple[str, object, object]]:
    with ws.open_ops() as ops, ops.read() as con:
        rows = con.execute(
            sa.select(
                WATERMARKS.c.source,
                WATERMARKS.c.position,
                WATERMARKS.c.source_ts,
                WATERMARKS.c.detail,
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _csv_workspace_load(tmp_path: Path, files: list[tuple[str, Path]]) -> Store:
    """The same data loaded as CSV exports into a fresh store, through the same ingest."""
    store = Store.open(tmp_path / "csv.duckdb", create=True)
    for preset, path in files:
        load_file(
            store, str(path), LoadOptions(PRESETS[preset], loaded_at=NOW.replace(tzinfo=None))
        )
    return store


def test_sync_loads_deals_and_users_with_revenue_of_the_csv_export(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    report = sync_getcourse(workspace, now=NOW, sleep=sleeps)

    assert [o.object for o in report.objects] == ["deals", "users"]
    assert [o.rows for o in report.objects] == [6, 5]
    # two steps per object: one export request, then polls until ready (one "not ready yet")
    paths = [(m, p) for m, p, _ in server.state.requests]
    assert paths == [
        ("GET", "/pl/api/account/deals"),
        ("GET", "/pl/api/account/exports/1"),
        ("GET", "/pl/api/account/exports/1"),
        ("GET", "/pl/api/account/users"),
        ("GET", "/pl/api/account/exports/2"),
        ("GET", "/pl/api/account/exports/2"),
    ]
    assert report.export_requests == 2 and report.http_requests == 6
    assert sleeps.calls == [5.0, 7.5, 5.0, 7.5]  # backoff ×1.5 between polls
    assert server.state.requests[0][2] == {"created_at[from]": "2014-01-01"}

    with workspace.open_store(read_only=True) as store:
        api_revenue = _revenue(store)
        api_orders = store.fetch_value("SELECT count(*) FROM orders")
        api_customers = store.fetch_value("SELECT count(*) FROM customers")
        names = store.fetch_value("SELECT name FROM customers WHERE customer_id = '501'")
    csv_store = _csv_workspace_load(
        tmp_path,
        [
            (
                "getcourse",
                write_csv(tmp_path / "deals.csv", DEAL_FIELDS, server.state.tables["deals"][1]),
            ),
            ("getcourse-users", write_csv(tmp_path / "users.csv", USER_FIELDS, USERS)),
        ],
    )
    with csv_store:
        assert api_revenue == _revenue(csv_store) == Decimal(str(PAID_REVENUE_DEALS))
        assert api_orders == csv_store.fetch_value("SELECT count(*) FROM orders") == 6
        assert api_customers == csv_store.fetch_value("SELECT count(*) FROM customers") == 5
        assert names == csv_store.fetch_value(
            "SELECT name FROM customers WHERE customer_id = '501'"
        )

    marks = _watermarks(workspace)
    assert set(marks) == {
        "getcourse:deals",
        "getcourse:users",
        "getcourse:quota",
        "getcourse:pending",
    }
    assert marks["getcourse:pending"][2] == {}  # both exports loaded: nothing left to resume
    position, source_ts, detail = marks["getcourse:deals"]
    assert position == "2026-11-30"  # the window's end, in the shop's time zone
    assert str(source_ts) == "2026-11-25 06:10:00+00:00"  # 09:10 Moscow, the newest deal
    assert isinstance(detail, dict) and detail["export_id"] == "1" and detail["rows"] == 6


def test_payments_as_revenue_source_equal_the_csv_export(
    tmp_path: Path, server: ReplayServer, sleeps: Sleeps
) -> None:
    ws = make_workspace(tmp_path / "ws", server.url, "    objects: [payments, users]\n")
    report = sync_getcourse(ws, now=NOW, sleep=sleeps)
    assert [o.object for o in report.objects] == ["payments", "users"]
    with ws.open_store(read_only=True) as store:
        api_revenue = _revenue(store)
    csv_store = _csv_workspace_load(
        tmp_path,
        [("getcourse-payments", write_csv(tmp_path / "p.csv", PAYMENT_FIELDS, PAYMENTS))],
    )
    with csv_store:
        assert api_revenue == _revenue(csv_store) == Decimal(str(PAID_REVENUE_PAYMENTS))


def test_second_sync_with_one_deal_changed_updates_exactly_that_deal(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    sync_getcourse(workspace, now=NOW, sleep=sleeps, objects=["deals"])
    before = _watermarks(workspace)["getcourse:deals"]
    server.set_cell("deals", "9003", "Статус", "Завершен")
    server.set_cell("deals", "9003", "Дата оплаты", "2026-12-01 10:00:00")
    server.set_cell("deals", "9003", "Оплачено", "14900.00")
    later = NOW + timedelta(days=1)

    report = sync_getcourse(workspace, now=later, sleep=sleeps, objects=["deals"])

    deals = report.objects[0]
    # the overlap window re-reads the last 14 days: 9003..9006 come again, one changed
    assert server.state.requests[-3][2] == {"created_at[from]": "2026-11-16"}
    assert (deals.rows, deals.inserted, deals.updated, deals.unchanged) == (4, 0, 1, 3)
    with workspace.open_store(read_only=True) as store:
        assert store.fetch_value("SELECT status FROM orders WHERE order_id = '9003'") == "paid"
        changed = store.fetch_value(
            "SELECT count(*) FROM orders WHERE last_load = (SELECT max(load_id) FROM loads)"
        )
        assert changed == 1
        assert _revenue(store) == Decimal(str(PAID_REVENUE_DEALS + 14900))
    after = _watermarks(workspace)["getcourse:deals"]
    assert after[0] == "2026-12-01" and before[0] == "2026-11-30"
    assert str(after[1]) == "2026-12-01 07:00:00+00:00"


def test_a_sync_with_nothing_new_still_advances_the_watermark(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    sync_getcourse(workspace, now=NOW + timedelta(days=60), sleep=sleeps, objects=["users"])
    report = sync_getcourse(
        workspace, now=NOW + timedelta(days=61), sleep=sleeps, objects=["users"]
    )
    assert server.state.requests[-3][2] == {"created_at[from]": "2027-01-15"}
    assert report.objects[0].rows == 0 and report.objects[0].load_id is None
    position, source_ts, _ = _watermarks(workspace)["getcourse:users"]
    assert position == "2027-01-30"
    assert str(source_ts) == "2026-11-24 06:00:00+00:00"  # the newest user seen stays


def test_since_overrides_the_watermark(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    sync_getcourse(workspace, now=NOW, sleep=sleeps, objects=["deals"], since=date(2026, 11, 21))
    assert server.state.requests[0][2] == {"created_at[from]": "2026-11-21"}
    with workspace.open_store(read_only=True) as store:
        assert store.fetch_value("SELECT count(*) FROM orders") == 3


def test_a_large_export_loads_in_bounded_requests(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    rows = [
        [str(100_000 + i), "N", str(i % 5000), "", f"u{i % 5000}@example.ru", "", f"2026-0{1 + i % 9}-1{i % 10} 10:00:00",
         f"2026-0{1 + i % 9}-1{i % 10} 11:00:00", "Курс", "Завершен", "1000", "1000", "RUB", "", ""]
        for i in range(30_000)
    ]  # fmt: skip
    server.add_export("deals", DEAL_FIELDS, rows)
    report = sync_getcourse(workspace, now=NOW, sleep=sleeps, objects=["deals"])
    assert report.objects[0].inserted == 30_000
    assert report.http_requests == 3
    with workspace.open_store(read_only=True) as store:
        assert _revenue(store) == Decimal(30_000_000)


def test_the_key_is_in_no_log_line(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sync_getcourse(workspace, now=NOW, sleep=sleeps)
    assert server.state.keys_seen and set(server.state.keys_seen) == {KEY}
    assert any("pl/api/account" in r.getMessage() for r in caplog.records)  # httpx logged
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert KEY not in workspace.config_path.read_text(encoding="utf-8")
