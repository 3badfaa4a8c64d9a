"""``livebase playbook …`` and ``livebase run`` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livebase.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_run_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEBASE_LANG", "en")  # the school workspace speaks Russian otherwise
    ws = tmp_path / "school"
    assert _run(capsys, "init", str(ws), "--template", "school")[0] == 0
    assert len(list((ws / "playbooks").glob("*.yaml"))) == 6
    code, out, err = _run(capsys, "--workspace", str(ws), "playbook", "check")
    assert code == 0, err
    assert "6 playbooks OK" in out and "winback-60" in out
    args = ("--workspace", str(ws), "run", "--as-of", "2026-06-30 10:00", "--format", "json")
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    assert json.loads(out)["written"] == {"journeys": 0, "assignments": 0, "outbox": 0, "ledger": 0}

    path = ws / "playbooks" / "winback-60.yaml"
    path.write_text(path.read_text("utf-8").replace("channel: sms", "channel: smss"), "utf-8")
    code, _, err = _run(capsys, "--workspace", str(ws), "playbook", "check")
    assert code == 1 and "Traceback" not in err
    assert "winback-60.yaml: steps.2.channel (line" in err and "did you mean 'sms'?" in err
    code, _, err = _run(capsys, "--workspace", str(ws), "playbook", "preview", "winback-6")
    assert code == 1 and "did you mean" in err
