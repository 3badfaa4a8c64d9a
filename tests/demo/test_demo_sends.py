"""A small demo, built once: its messages go through the real worker to the local receivers,
customers react through the signed links and delivery reports, each playbook gets a readout,
and the dashboard shows the demo's numbers."""

from __future__ import annotations

import email
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from livebase.cli import main
from livebase.demo.reactions import parse_email
from livebase.measure.playbook_workflow import load_specs
from livebase.ops.tables import OUTBOX, SEND_LEDGER
from livebase.report.snapshot import snapshot_path
from livebase.workspace import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    out = tmp_path_factory.mktemp("demo") / "school"
    args = ["demo", "--out", str(out), "--seed", "3", "--customers", "2000", "--weeks", "3"]
    assert main([*args, "--months", "2"]) == 0
    yield Workspace.load(out)


def _ledger(ws: Workspace) -> list[dict[str, object]]:
    with ws.open_ops() as ops, ops.read() as con:
        return [dict(r) for r in con.execute(sa.select(SEND_LEDGER)).mappings()]


def test_every_sent_message_has_exactly_one_sent_row(demo: Workspace) -> None:
    with demo.open_ops() as ops, ops.read() as con:
        sent = [
            r.key
            for r in con.execute(sa.select(OUTBOX.c.key, OUTBOX.c.status))
            if r.status == "sent"
        ]
    rows = [r["message_key"] for r in _ledger(demo) if r["type"] == "sent"]
    assert sent and sorted(rows) == sorted(sent)


def test_messages_landed_where_the_user_can_open_them(demo: Workspace) -> None:
    sent: dict[str, int] = {}
    for r in _ledger(demo):
        if r["type"] == "sent":
            sent[str(r["channel"])] = sent.get(str(r["channel"]), 0) + 1
    emails = sorted((demo.root / "sent" / "email").glob("*.eml"))
    assert len(emails) == sent["email"] > 0
    raw = emails[0].read_bytes()
    assert email.message_from_bytes(raw)["List-Unsubscribe"]  # real headers
    parsed = parse_email(raw)
    assert parsed is not None and parsed.open_sig and parsed.clicks  # signed links
    for channel in ("push", "sms"):
        path = demo.root / "sent" / f"{channel}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        assert len(lines) == sent.get(channel, 0)
        assert all(json.loads(line)["playbook"] for line in lines)


def test_reactions_came_back_through_the_links_and_reports(demo: Workspace) -> None:
    rows = _ledger(demo)
    by_type: dict[str, set[str]] = {}
    for r in rows:
        by_type.setdefault(str(r["type"]), set()).add(str(r["channel"]))
    assert "email" in by_type["opened"] and "email" in by_type["clicked"]
    assert "push" in by_type["delivered"]
    opened = [r for r in rows if r["type"] == "opened"]
    sent_at = {r["message_key"]: r["ts"] for r in rows if r["type"] == "sent"}
    assert all(r["message_key"] in sent_at and r["ts"] > sent_at[r["message_key"]] for r in opened)


def test_every_playbook_is_read_out_with_an_interval_when_it_can_be(demo: Workspace) -> None:
    snap = json.loads(snapshot_path(demo.root).read_text(encoding="utf-8"))
    specs, _ = load_specs(demo.root)
    readouts = {b["name"]: b for b in snap["playbooks"]}
    assert set(readouts) == {s.name for s in specs}
    read = [b["readout"] for b in readouts.values() if b["readout"]["reason"] is None]
    assert read, {n: b["readout"]["reason"] for n, b in readouts.items()}
    for r in read:
        low, high = r["incremental_conversions_low"], r["incremental_conversions_high"]
        assert low <= r["incremental_conversions"] <= high


def test_the_dashboard_shows_the_demo(demo: Workspace) -> None:
    from fastapi.testclient import TestClient

    from livebase.ops.users import add_user
    from web._dashboard_app import make_app
    from web.test_dashboard import login

    with demo.open_ops() as ops:
        for role in ("owner", "marketer", "analyst"):
            add_user(ops, role, "correct horse battery", role, now=datetime.now(UTC))
    snap = json.loads(snapshot_path(demo.root).read_text(encoding="utf-8"))
    with TestClient(make_app(demo), base_url="http://127.0.0.1") as client:
        for role in ("owner", "marketer", "analyst"):
            login(client, role)
            page = client.get(f"/dashboard/{role}")
            assert page.status_code == 200 and 'data-chart="' in page.text
        marketer = (login(client, "marketer"), client.get("/dashboard/marketer").text)[1]
    plain = re.sub(r"(?<=\d)[\u00a0\u202f ,](?=\d{3})", "", marketer)  # 1 234 → 1234
    for block in snap["playbooks"]:
        entered = (block["entered"].get("treatment") or 0) + (block["entered"].get("holdout") or 0)
        assert block["name"] in marketer or block["title"] in marketer
        assert re.search(rf"<td>{entered}</td>", plain), (block["name"], entered)


def test_the_last_step_of_a_journey_is_sent_not_cancelled(demo: Workspace) -> None:
    cancelled = [
        r
        for r in _ledger(demo)
        if r["type"] == "cancelled" and str(r["reason"]).startswith("journey_completed")
    ]
    assert cancelled == []
