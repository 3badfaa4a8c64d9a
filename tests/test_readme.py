"""The README's tour works as written (run as a user would, in a shell, on CDNOW)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def tour_commands(heading: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, f"no code block under {heading!r}"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert first_block
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def run_tour(heading: str, tmp_path: Path, shared_data: Path) -> str:
    """Run a README code block in a shell, from a project folder with ../shared beside it."""
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    cwd = project
    outputs = []
    for command in tour_commands(heading):
        if command.startswith("source "):
            continue
        if command.startswith("cd "):
            cwd = (cwd / shlex.split(command)[1]).resolve()
            continue
        done = subprocess.run(
            command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    return "\n".join(outputs)


@pytest.mark.slow
def test_cdnow_tour_runs_as_written(tmp_path: Path, shared_data: Path) -> None:
    joined = run_tour("## A five-minute tour", tmp_path, shared_data)
    flat = " ".join(joined.split())  # the terminal wraps long lines (and long paths)
    assert "69,659 new" in flat and "unchanged since load 1 (same checksum): skipped" in flat
    assert '"orders": 69659' in joined and '"paid_revenue": 2500315.63' in joined


@pytest.mark.slow
def test_clv_section_runs_as_written(tmp_path: Path, shared_data: Path) -> None:
    joined = run_tour("## Customer value (CLV)", tmp_path, shared_data)
    assert '"r": 0.24' in joined and '"alpha": 4.41' in joined
    assert "clv_validation.png" in joined


@pytest.mark.slow
def test_experiments_section_runs_as_written(tmp_path: Path, shared_data: Path) -> None:
    joined = run_tour("## Experiments and uplift", tmp_path, shared_data)
    assert '"n_treatment": 21307' in joined or '"n_treatment": 21387' in joined
    assert "4,438" in joined
    assert (tmp_path / "project" / "hill" / "hillstrom_uplift.csv").exists()


@pytest.mark.slow
def test_segments_section_runs_as_written(tmp_path: Path, shared_data: Path) -> None:
    joined = run_tour("## Segments that live", tmp_path, shared_data)
    assert "Champions" in joined and "largest flows" in joined
    assert (tmp_path / "project" / "cdnow-segments" / "at_risk.csv").exists()


@pytest.mark.slow
def test_priorities_section_runs_as_written(tmp_path: Path, shared_data: Path) -> None:
    joined = run_tour("## Where the money is: priorities", tmp_path, shared_data)
    assert "Early access for Champions" in joined
    assert "value = customers × mean_clv" in joined


@pytest.mark.slow
def test_report_section_runs_as_written(tmp_path: Path, shared_data: Path) -> None:
    run_tour("## The owner's report", tmp_path, shared_data)
    page = tmp_path / "project" / "cdnow-report" / "base.html"
    assert page.exists() and "Champions" in page.read_text(encoding="utf-8")
