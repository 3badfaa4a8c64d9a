"""Pushing a segment into a GetCourse group through the user import API (on both ops engines)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from livebase.cli import main
from livebase.connectors.getcourse.client import GetCourseClient
from livebase.connectors.getcourse.push import push_members, segment_members
from livebase.connectors.getcourse.replay import ReplayServer
from livebase.errors import SyncError
from livebase.ops import OpsStore
from livebase.ops.tables import CUSTOMER_STATUS, SEND_LEDGER
from livebase.workspace import Workspace

from ._data import KEY
from .conftest import NOW, Sleeps

RUN_DATE = date(2026, 11, 30)

STATUS = [
    ("501", "anna@example.ru", "Анна", "At Risk"),
    ("502", "boris@example.ru", "Борис", "Champions"),
    ("503", "vera@example.ru", None, "At Risk"),
    ("504", None, "Глеб", "At Risk"),
    ("505", "not-an-email@", "Дина", "At Risk"),
]


def _publish(ops: OpsStore) -> None:
    """What a segmentation run publishes to customer_status (the parts the push reads)."""
    rows = [
        {
            "customer_id": cid,
            "email": email,
            "name": name,
            "features": {"recency": 40},
            "segments": {"named": segment, "rfm": "311"},
            "since": {"named": "2026-11-01"},
            "thresholds_version": "v1",
            "as_of": RUN_DATE,
            "updated_at": NOW,
            "source": "batch",
        }
        for cid, email, name, segment in STATUS
    ]
    with ops.begin() as con:
        con.execute(CUSTOMER_STATUS.insert(), rows)


def _ledger(ops: OpsStore) -> list[tuple[str, str, str, str | None]]:
    with ops.read() as con:
        return [
            (r.event_id, r.customer_id, r.type, r.reason)
            for r in con.execute(sa.select(SEND_LEDGER).order_by(SEND_LEDGER.c.event_id)).all()
        ]


@pytest.fixture
def replay() -> Any:
    with ReplayServer(api_key=KEY) as server:
        yield server


def test_push_creates_the_group_membership_and_records_the_ledger(
    ops_store: OpsStore, replay: ReplayServer, sleeps: Sleeps
) -> None:
    _publish(ops_store)
    members = segment_members(ops_store, "At Risk")
    assert [m.customer_id for m in members] == ["501", "503", "504", "505"]
    with GetCourseClient(replay.url, KEY) as client:
        report = push_members(
            ops_store, client, members, group="lb: At Risk", run_date=RUN_DATE, now=NOW,
            sleep=sleeps, rate_per_second=4, batch=2,
        )  # fmt: skip

    assert replay.state.groups == {
        "lb: At Risk": {"anna@example.ru", "vera@example.ru"},
        "lb: At Risk 2026-11-30": {"anna@example.ru", "vera@example.ru"},
    }
    assert (report.pushed, report.skipped, report.already) == (2, 1, 0)
    assert report.failed == (("505", "Неверный email"),)
    first = replay.state.imported[0]
    assert first == {
        "user": {
            "email": "anna@example.ru",
            "first_name": "Анна",
            "group_name": ["lb: At Risk", "lb: At Risk 2026-11-30"],
        },
        "system": {"refresh_if_exists": 1},
    }
    assert all((m, p) == ("POST", "/pl/api/users") for m, p, _ in replay.state.requests)
    assert all(r[2].get("action") == "add" for r in replay.state.requests)
    assert sleeps.calls == [0.25, 0.25]  # 3 calls at 4 per second
    assert _ledger(ops_store) == [
        ("sync:getcourse_group:lb: At Risk:501:2026-11-30", "501", "sent", None),
        ("sync:getcourse_group:lb: At Risk:503:2026-11-30", "503", "sent", None),
        ("sync:getcourse_group:lb: At Risk:504:2026-11-30:skipped", "504", "skipped", "no e-mail address"),
        ("sync:getcourse_group:lb: At Risk:505:2026-11-30:failed", "505", "failed", "Неверный email"),
    ]  # fmt: skip


def test_a_second_push_the_same_day_adds_nobody_twice(
    ops_store: OpsStore, replay: ReplayServer, sleeps: Sleeps
) -> None:
    _publish(ops_store)
    members = segment_members(ops_store, "At Risk")
    with GetCourseClient(replay.url, KEY) as client:
        push_members(
            ops_store, client, members, group="G", run_date=RUN_DATE, now=NOW, sleep=sleeps
        )
    calls = len(replay.state.imported)
    with GetCourseClient(replay.url, KEY) as client:
        again = push_members(
            ops_store, client, members, group="G", run_date=RUN_DATE, now=NOW, sleep=sleeps
        )
    assert again.already == 2 and again.pushed == 0
    # only the refused address is tried again; the skipped one has no address to try
    assert len(replay.state.imported) == calls + 1
    # the next day is a new run: a new dated group with the segment of that day
    with GetCourseClient(replay.url, KEY) as client:
        push_members(
            ops_store, client, members, group="G", run_date=RUN_DATE + timedelta(days=1),
            now=NOW + timedelta(days=1), sleep=sleeps, dated=True,
        )  # fmt: skip
    assert replay.state.groups["G 2026-12-01"] == {"anna@example.ru", "vera@example.ru"}


def test_a_refused_key_stops_the_push_and_records_nothing(
    ops_store: OpsStore, replay: ReplayServer, sleeps: Sleeps
) -> None:
    _publish(ops_store)
    members = segment_members(ops_store, "At Risk")
    with GetCourseClient(replay.url, "wrong") as client, pytest.raises(SyncError) as caught:
        push_members(
            ops_store, client, members, group="G", run_date=RUN_DATE, now=NOW, sleep=sleeps
        )
    assert caught.value.reason == "wrong_key"
    assert "wrong" not in str(caught.value).replace("wrong_key", "")
    assert [e[2] for e in _ledger(ops_store)] == []
    assert replay.state.groups == {}


def test_an_unknown_segment_suggests_the_nearest(ops_store: OpsStore) -> None:
    _publish(ops_store)
    with pytest.raises(SyncError, match="did you mean 'At Risk'"):
        segment_members(ops_store, "At Rsk")


def test_push_through_the_cli(
    workspace: Workspace, server: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with workspace.open_ops() as ops:
        _publish(ops)
    code = main(
        ["--workspace", str(workspace.root), "sync", "getcourse", "--push-segment", "At Risk",
         "--group", "lb: At Risk", "--format", "json"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out)["pushed"] == 2
    assert server.state.groups["lb: At Risk"] == {"anna@example.ru", "vera@example.ru"}


def test_push_without_sync_section_says_how_to_add_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["init", str(tmp_path / "ws")])
    capsys.readouterr()
    code = main(["--workspace", str(tmp_path / "ws"), "sync", "getcourse", "--push-segment", "X"])
    err = capsys.readouterr().err
    assert code == 1 and "no sync.getcourse section" in err
