"""Every failure of a sync: a clear message with a stable reason, and nothing written.

Each case runs after a first successful sync, so "unchanged" is checked against real rows and
real watermarks, not an empty store.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from livebase.cli import main
from livebase.connectors.getcourse.replay import ReplayServer
from livebase.connectors.getcourse.run import sync_getcourse
from livebase.errors import QuotaError, SyncError
from livebase.ops.tables import WATERMARKS
from livebase.workspace import Workspace

from ._data import DEAL_FIELDS, DEALS, KEY
from .conftest import NOW, Sleeps, make_workspace

LATER = NOW + timedelta(days=1)


def _snapshot(ws: Workspace) -> tuple[Any, ...]:
    with ws.open_store(read_only=True) as store:
        tables = tuple(
            store.fetch_value(f"SELECT count(*) FROM {t}") for t in ("orders", "customers", "loads")
        )
        orders = store.con.execute("SELECT * FROM orders ORDER BY order_id").fetchall()
    with ws.open_ops() as ops, ops.read() as con:
        marks = con.execute(
            sa.select(WATERMARKS).where(
                WATERMARKS.c.source.not_in(["getcourse:quota", "getcourse:pending"])
            )
        ).all()
    return tables, orders, sorted(marks)


def _break(server: ReplayServer, how: str) -> None:
    state = server.state
    if how == "no_api_access":
        state.api_access = False
    elif how == "quota":
        state.quota = 0
    elif how == "quota_on_poll":
        state.quota_on_poll = True
    elif how == "never_ready":
        state.never_ready = True
    elif how == "busy":
        state.busy_requests = 10_000
    elif how == "short_row":
        server.add_export("deals", DEAL_FIELDS, [*DEALS, DEALS[-1][:-2]])
    elif how == "no_fields":
        state.malformed["deals"] = {"items": [["1"]]}
    elif how == "nested_value":
        state.malformed["deals"] = {"fields": DEAL_FIELDS, "items": [[{"a": 1}] * len(DEAL_FIELDS)]}
    elif how == "bad_amount":
        row = list(DEALS[-1])
        row[10] = "дорого"
        server.add_export("deals", DEAL_FIELDS, [*DEALS[:-1], row])
    elif how == "timeout":
        state.delay_seconds = 1.5
    else:
        raise AssertionError(how)


CASES: list[tuple[str, str, str]] = [
    ("no_api_access", "no_api_access", "no API access"),
    ("quota", "quota", "next sync possible at 2026-12-01 11:00 UTC"),
    ("quota_on_poll", "quota", "GetCourse says its export quota is spent"),
    ("never_ready", "not_ready", "still not ready after 66 s (5 polls)"),
    ("busy", "busy", "one export at a time"),
    ("short_row", "malformed", "item 5 has 13 values where the header has 15 fields"),
    ("no_fields", "malformed", "no list of field names"),
    ("nested_value", "malformed", "item 1 holds a nested dict"),
    ("bad_amount", "malformed", "row 5, column 'Стоимость, RUB': 'дорого'"),
    ("timeout", "timeout", "did not answer within 0.5 s"),
]


@pytest.mark.parametrize(("how", "reason", "says"), CASES, ids=[c[0] for c in CASES])
def test_a_failed_sync_says_why_and_changes_nothing(
    tmp_path: Path,
    server: ReplayServer,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
    how: str,
    reason: str,
    says: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = make_workspace(tmp_path / "ws", server.url, "    objects: [deals, users]\n")
    sync_getcourse(ws, now=NOW, sleep=sleeps)
    before = _snapshot(ws)
    if how == "timeout":
        text = ws.config_path.read_text(encoding="utf-8").replace(
            "timeout_seconds: 5", "timeout_seconds: 0.5"
        )
        ws.config_path.write_text(text, encoding="utf-8")
        ws = Workspace.load(ws.root)
    _break(server, how)
    requests_before = len(server.state.requests)

    with pytest.raises(SyncError) as caught:
        sync_getcourse(ws, now=LATER, sleep=sleeps)

    error = caught.value
    assert error.reason == reason
    assert says in str(error)
    assert KEY not in str(error)
    assert _snapshot(ws) == before
    assert all(KEY not in r.getMessage() for r in caplog.records)
    # bounded: never more than the waits allow (max_wait 60 s at 5 s × 1.5 up to 120 s)
    assert len(server.state.requests) - requests_before <= 12


def test_wrong_key_is_named_without_showing_it(
    tmp_path: Path, server: ReplayServer, sleeps: Sleeps
) -> None:
    wrong = "wrong-key-0000000000"
    ws = make_workspace(tmp_path / "ws", server.url, key=wrong)
    with pytest.raises(SyncError) as caught:
        sync_getcourse(ws, now=NOW, sleep=sleeps)
    assert caught.value.reason == "wrong_key"
    message = str(caught.value)
    assert "refused the API key" in message and "Неверный ключ" in message
    assert wrong not in message and "api_key_env" in message
    with ws.open_store(read_only=True) as store:
        assert store.fetch_value("SELECT count(*) FROM orders") == 0
    with ws.open_ops() as ops, ops.read() as con:
        sources = set(con.execute(sa.select(WATERMARKS.c.source)).scalars())
    assert sources == {"getcourse:quota"}  # the request was spent; no object moved


def test_the_budget_refuses_up_front_and_says_when(
    tmp_path: Path, server: ReplayServer, sleeps: Sleeps
) -> None:
    ws = make_workspace(tmp_path / "ws", server.url, "    request_budget: 3\n")
    sync_getcourse(ws, now=NOW, sleep=sleeps)  # 2 of 3 spent
    seen = len(server.state.requests)
    with pytest.raises(QuotaError) as caught:
        sync_getcourse(ws, now=NOW + timedelta(minutes=30), sleep=sleeps)
    assert len(server.state.requests) == seen  # not a single request was sent
    assert caught.value.retry_at == NOW + timedelta(hours=2)
    assert "2 of 3 export requests used in the last 120 minutes" in str(caught.value)
    assert "next sync possible at 2026-11-30 11:00 UTC" in str(caught.value)
    # once the window has passed, the sync runs again
    report = sync_getcourse(ws, now=NOW + timedelta(hours=2, minutes=1), sleep=sleeps)
    assert len(report.objects) == 2


def test_getcourse_quota_answer_blocks_further_syncs_for_a_window(
    tmp_path: Path, server: ReplayServer, sleeps: Sleeps
) -> None:
    ws = make_workspace(tmp_path / "ws", server.url)
    server.state.quota = 0
    with pytest.raises(QuotaError):
        sync_getcourse(ws, now=NOW, sleep=sleeps)
    server.state.quota = None
    seen = len(server.state.requests)
    with pytest.raises(QuotaError) as caught:
        sync_getcourse(ws, now=NOW + timedelta(minutes=10), sleep=sleeps)
    assert len(server.state.requests) == seen
    assert "GetCourse refused the last request" in str(caught.value)


def test_a_busy_account_is_waited_for(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.state.busy_requests = 2
    report = sync_getcourse(workspace, now=NOW, sleep=sleeps, objects=["deals"])
    assert report.objects[0].inserted == 6
    assert report.export_requests == 3  # every attempt counts against the budget


def test_deals_and_payments_together_are_refused(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    with pytest.raises(SyncError, match="revenue would count twice"):
        sync_getcourse(workspace, now=NOW, sleep=sleeps, objects=["deals", "payments"])
    assert server.state.requests == []


def test_the_cli_exits_non_zero_with_the_message(
    workspace: Workspace, server: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.state.api_access = False
    code = main(["--workspace", str(workspace.root), "sync", "getcourse"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no API access" in err and "paid GetCourse plan" in err
    assert KEY not in err


def test_an_export_never_ready_is_resumed_without_a_new_request(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.state.never_ready = True
    with pytest.raises(SyncError, match="still not ready"):
        sync_getcourse(workspace, now=NOW, sleep=sleeps, objects=["deals"])
    asked = [p for _, p, _ in server.state.requests if p == "/pl/api/account/deals"]
    assert len(asked) == 1
    server.state.never_ready = False
    report = sync_getcourse(
        workspace, now=NOW + timedelta(minutes=20), sleep=sleeps, objects=["deals"]
    )
    assert report.export_requests == 0 and report.objects[0].export_id == "1"
    assert report.objects[0].inserted == 6
    asked = [p for _, p, _ in server.state.requests if p == "/pl/api/account/deals"]
    assert len(asked) == 1
    # loaded: the next sync asks for a new export (with the overlap window)
    sync_getcourse(workspace, now=NOW + timedelta(minutes=40), sleep=sleeps, objects=["deals"])
    asked = [p for _, p, _ in server.state.requests if p == "/pl/api/account/deals"]
    assert len(asked) == 2
