"""The README's Playbooks section works as written, on a demo school built here, and its
figures are what the commands print (so the section cannot go stale silently).

The figures checked: the number of playbooks of ``check``; the entrants of ``preview``; the
verdict of ``explain`` for the README's customer; every row of the replay's weekly table;
the replay's totals sentence (messages and cost per channel, customers, mean, median, max,
steps without consent, conversions, overlaps); the entrants of ``winback-60`` in ``run``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from test_readme import README, tour_commands

HEADING = "On the demo school (`make demo`"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Playbooks that act")
    return text[start : text.index("\n## ", start + 1)]


def _rows(output: str) -> list[list[str]]:
    """The cells of every row of the Rich tables in ``output``."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.count("│") >= 3
    ]


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("\u202f", ""))


def _figure(pattern: str, text: str) -> tuple[str, ...]:
    found = re.search(pattern, text, re.S)
    assert found, f"the README's Playbooks section no longer says {pattern!r}"
    return found.groups()


def _readme_figures() -> dict[str, object]:
    """What the README states, parsed from its prose and its weekly table."""
    section = _section()
    prose = re.sub(r"\s+", " ", section)  # a sentence may wrap anywhere
    figures: dict[str, object] = {}
    (figures["entrants"],) = _figure(r"\*\*([\d,]+)\*\* customers enter winback-60", prose)
    figures["explained"], figures["verdict"] = _figure(
        r"`explain` for customer (\d+) says \*\*(\w+)\*\*", prose
    )
    figures["weekly"] = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if re.match(r"\| \d{4}-\d\d-\d\d \|", line)
    ]
    (
        figures["email"], figures["email_cost"], figures["push"], figures["sms"],
        figures["sms_cost"], figures["customers"], figures["mean"], figures["median"],
        figures["max"], figures["no_consent"], figures["converted"], overlaps,
    ) = _figure(
        r"([\d,]+) e-mails \(([\d.,]+) RUB\), ([\d,]+) pushes \(free\) and ([\d,]+) SMS "
        r"\(([\d.,]+) RUB\) to ([\d,]+) customers \(mean ([\d.]+) messages, median ([\d.]+), "
        r"max (\d+)\); ([\d,]+) steps skipped for want of consent, ([\d,]+) journeys ended by a "
        r"purchase within the 14-day goal; winback-60 shares customers with (.*?)\. ",
        prose,
    )  # fmt: skip
    figures["overlaps"] = dict(
        (name, count) for name, count in re.findall(r"([a-z0-9-]+) \(([\d,]+)\)", overlaps)
    )
    (figures["run_entered"],) = _figure(r"the tick enters \*\*([\d,]+)\*\* into winback-60", prose)
    return figures


def _check_figures(outputs: dict[str, str], readme: dict[str, object]) -> None:
    assert "6 playbooks OK" in outputs["check"]
    preview = {r[0]: r[1] for r in _rows(outputs["preview"]) if len(r) >= 2}
    assert preview.get("enters", "0") == readme["entrants"]
    assert str(readme["explained"]) in outputs["explain"]
    entry = next(r for r in _rows(outputs["explain"]) if r and r[0] == "entry")
    assert entry[1] == readme["verdict"]
    replay = outputs["replay"]
    rows = _rows(replay)
    for week in readme["weekly"]:  # type: ignore[attr-defined]
        assert [week[0], "winback-60", *week[1:]] in rows, f"replay week {week} not printed"
    channel = {r[1]: r for r in rows if len(r) == 4 and r[0] == "winback-60"}
    assert channel["email"][2:] == [readme["email"], readme["email_cost"]]
    assert channel["push"][2] == readme["push"]
    assert channel["sms"][2:] == [readme["sms"], readme["sms_cost"]]
    per = _figure(r"messages per customer: ([\d,]+) customers, mean ([\d.]+), median (\d+), "
                  r"p90 \d+, max (\d+)", replay)  # fmt: skip
    assert per == (readme["customers"], readme["mean"], readme["median"], readme["max"])
    hits = next(r for r in rows if len(r) == 7 and r[0] == "winback-60")
    assert (hits[4], hits[6]) == (readme["no_consent"], readme["converted"])
    overlaps = {r[1]: r[2] for r in rows if len(r) == 3 and r[0] == "winback-60"}
    assert overlaps == readme["overlaps"]
    # the tick's table, or its lines on a terminal too narrow for the table
    tick = next((r for r in _rows(outputs["run"]) if r and r[0] == "winback-60"), None)
    if tick is not None:
        entered = tick[1]
    else:
        (entered,) = _figure(r"winback-60: entered ([\d,]+)", " ".join(outputs["run"].split()))
    assert _number(entered) == _number(str(readme["run_entered"]))


def test_the_readme_states_every_figure_the_test_checks() -> None:
    figures = _readme_figures()
    assert figures["weekly"], "no weekly replay table in the README"
    assert figures["overlaps"], "no overlaps in the README's replay sentence"


@pytest.mark.slow
def test_playbooks_section_runs_on_the_demo_and_prints_its_figures(tmp_path: Path) -> None:
    readme = _readme_figures()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120"}
    demo = subprocess.run(
        ["livebase", "demo", "--out", "demo-school"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    cwd, outputs = tmp_path, {}
    for command in tour_commands(HEADING):
        if command.startswith("cd "):
            cwd = (cwd / shlex.split(command)[1]).resolve()
            continue
        done = subprocess.run(
            command, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
            timeout=1800, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        words = shlex.split(command)
        outputs[words[2] if words[1] == "playbook" else words[1]] = done.stdout
    assert (cwd / "winback.png").exists()
    _check_figures(outputs, readme)
