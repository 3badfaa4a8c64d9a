"""The README's Playbooks section works as written, on the demo school (``make demo``)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from test_readme import tour_commands


@pytest.mark.slow
def test_playbooks_section_runs_on_the_demo(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120"}
    demo = subprocess.run(
        ["livebase", "demo", "--out", "demo-school"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "winback-60" in demo.stdout  # the demo ends with one tick
    cwd, outputs = tmp_path, []
    for command in tour_commands("On the demo school (`make demo`"):
        if command.startswith("cd "):
            cwd = (cwd / shlex.split(command)[1]).resolve()
            continue
        done = subprocess.run(
            command, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
            timeout=1800, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    joined = "\n".join(outputs)
    assert "6 playbooks OK" in joined
    assert "winback-60" in joined  # every command ran (exit 0 above) and spoke of the cascade
    assert (cwd / "winback.png").exists()
