"""The closed-loop demo, seeded: the planner runs daily, the readout's interval covers the
simulated truth for every playbook with enough entrants to read, the main playbooks show a
positive effect, and the SMS step (true effect nil) is never recommended "keep"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from livebase.cli import main
from livebase.report.snapshot import snapshot_path

MAIN = ("winback-60", "free-lesson-sleepers")


@pytest.mark.slow
def test_the_closed_loop_measures_the_simulated_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from livebase.demo import closed_loop

    captured: dict[str, closed_loop.LoopResult] = {}
    real = closed_loop.run_closed_loop

    def spy(*args: object, **kwargs: object) -> closed_loop.LoopResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        captured["loop"] = result
        return result

    monkeypatch.setattr(closed_loop, "run_closed_loop", spy)
    from livebase.cli._common import console

    monkeypatch.setattr(console, "width", 80)  # the classic terminal a newcomer may have
    out = tmp_path / "demo-school"
    assert main(["demo", "--out", str(out), "--seed", "7"]) == 0
    text = capsys.readouterr().out
    assert "What each playbook added" in text and "/dashboard" in text
    # 80 columns are too few for the tick's and the loop's tables: lines, no cell cut short
    assert not re.search(r"\S…", text), re.findall(r".{0,30}\S….{0,10}", text)
    flat = " ".join(text.split())
    assert re.search(r"winback-60: entered [\d,]+, held out [\d,]+, planned email", flat)
    assert re.search(
        r"winback-60: [\d,]+ entrants, \+[\d.]+ incremental purchases, 95% interval "
        r"\[[-+][\d.]+, \+[\d.]+\] \(covers the simulated truth \d+\)",
        flat,
    )
    loop = captured["loop"]
    assert loop.ticks == 84  # the planner ran every simulated day
    rows = {r.playbook: r for r in loop.rows}
    for name in MAIN:
        r = rows[name]
        assert r.reason is None and r.low is not None and r.low > 0, r  # they work, and it shows
    read = [r for r in loop.rows if r.reason is None]
    assert {r.playbook for r in read} >= {*MAIN, "champions-early-access"}
    for r in read:  # every playbook with enough entrants to read: its interval covers the truth
        assert r.covered, r
    (sms,) = rows["winback-60"].steps
    # the SMS step's true effect is nil: the loop must never say "keep"; with the few SMS the
    # demo sends, its own holdout is too small to say "drop" for sure, so "hold out more" is
    # as honest an answer (and the interval must cover the truth, 0)
    assert sms["step"] == "sms" and sms["recommendation"] in {"drop", "hold_out_more"}, sms
    assert sms["low"] <= 0 <= sms["high"], sms
    snap = json.loads(snapshot_path(out).read_text(encoding="utf-8"))
    assert {b["name"] for b in snap["playbooks"]} >= set(MAIN)
