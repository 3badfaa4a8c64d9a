"""livebase playbook readout, livebase programme and livebase users through the entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from livebase.cli import main
from livebase.ops.users import authenticate
from livebase.workspace import Workspace, init_workspace
from measure._playbook_data import fill

PLAYBOOK = """name: winback
title: Win-back
trigger: {inactivity_days: 60}
holdout: 0.1
conversion: {event: purchase, window_days: 14}
steps:
  - {id: email, channel: email}
  - {id: sms, channel: sms, after_days: 3, holdout: 0.2}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    w = init_workspace(tmp_path_factory.mktemp("cli") / "school", template="school")
    (w.root / "playbooks").mkdir(exist_ok=True)
    (w.root / "playbooks" / "winback.yaml").write_text(PLAYBOOK, encoding="utf-8")
    with w.open_store() as store:
        fill(store, n=3000)
    return w


def run(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_readout_as_json_and_chart(
    ws: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chart = tmp_path / "lift.png"
    code, out, err = run(
        capsys, ws, "playbook", "readout", "winback", "--format", "json", "--chart", str(chart)
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["reason"] is None and data["incremental_conversions_low"] > 0
    assert data["steps"][0]["step"] == "sms" and data["steps"][0]["recommendation"]
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_readout_table_and_reasons(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, ws, "playbook", "readout", "winback")
    assert code == 0 and "incremental conversions" in out and "escalation" in out
    code, out, _ = run(capsys, ws, "playbook", "readout", "winback", "--as-of", "06.01.2026")
    assert code == 0 and "window_not_over" in out
    code, _, err = run(capsys, ws, "playbook", "readout", "winbak")
    assert code == 1 and "did you mean 'winback'" in err and "Traceback" not in err


def test_programme(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, ws, "programme", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["months"][0]["month"] == "2026-01"


def test_users_add_with_a_hashed_password(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a good long password\n"))
    code, out, err = run(
        capsys, ws, "users", "add", "anna", "--role", "marketer", "--password-stdin"
    )
    assert code == 0, err
    assert "anna" in out
    ops = ws.open_ops()
    try:
        assert authenticate(ops, "anna", "a good long password") is not None
    finally:
        ops.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("a good long password\n"))
    code, _, err = run(capsys, ws, "users", "add", "bob", "--role", "ownr", "--password-stdin")
    assert code == 1 and "did you mean 'owner'" in err
