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


def test_the_tick_summary_never_cuts_a_number_on_a_narrow_terminal() -> None:
    from datetime import datetime
    from types import SimpleNamespace

    from rich.console import Console

    from livebase.cli.playbooks import run_summary

    def counts(**given: object) -> SimpleNamespace:
        zero = dict.fromkeys(
            ("entered", "held_out", "capped", "deferred", "suppressed", "no_consent",
             "no_contact", "exited"), 0,
        )  # fmt: skip
        return SimpleNamespace(**{**zero, "planned": {}, "cost": 0.0, **given})

    result = SimpleNamespace(
        plan=SimpleNamespace(
            as_of=datetime(2026, 9, 23, 10, 0),
            counts={
                "champions-early-access": counts(),
                "winback-60": counts(
                    entered=1234,
                    held_out=130,
                    planned={"email": 1179, "push": 40},
                    no_consent=5,
                    exited=2,
                    cost=58.95,
                ),
            },
        )
    )
    wide = Console(width=200, record=True)
    wide.print(run_summary(result, "RUB", on=wide))
    table = wide.export_text()
    row = next(line for line in table.splitlines() if "winback-60" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["winback-60", "1,234", "130", "email 1,179, push 40", "0", "0", "0", "5",
                     "0", "2", "58.95"]  # fmt: skip
    assert "…" not in table
    for width in (60, 80, 100):
        narrow = Console(width=width, record=True)
        narrow.print(run_summary(result, "RUB", on=narrow))
        text = narrow.export_text()
        assert "…" not in text and "┃" not in text, text  # lines, not a squeezed table
        assert text.startswith("Tick as of 2026-09-23 10:00\n")
        flat = " ".join(text.split())
        assert "champions-early-access: nothing this tick" in flat
        assert (
            "winback-60: entered 1,234, held out 130, planned email 1,179, push 40, "
            "no consent 5, exited 2, cost 58.95 RUB"
        ) in flat


def test_check_folds_long_playbook_names_instead_of_cutting_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from livebase.cli._common import console

    monkeypatch.setenv("LIVEBASE_LANG", "en")
    ws = tmp_path / "school"
    assert _run(capsys, "init", str(ws), "--template", "school")[0] == 0
    monkeypatch.setattr(console, "width", 60)
    code, out, err = _run(capsys, "--workspace", str(ws), "playbook", "check")
    assert code == 0, err
    assert "…" not in out, out
    assert "champions-early-access" not in out  # folded at 60 columns: the name is split…
    rows = [line.split("│") for line in out.splitlines() if line.startswith("│")]
    names, name = [], ""
    for cells in rows:  # …and the folded pieces of the first column join up again
        piece = cells[1].strip()
        if cells[4].strip():  # a row's first line carries the priority
            if name:
                names.append(name)
            name = piece
        else:
            name += piece
    names.append(name)
    assert "champions-early-access" in names and "winback-60" in names, names
