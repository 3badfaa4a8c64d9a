"""Shared by the benchmarks: run a step in a fresh process, report wall time and peak memory.

Each measured step runs in its own Python process and reports its peak resident memory as
``VmHWM`` of /proc/self/status: the high-water mark of the process's own address space.
(``ru_maxrss`` is not used: Linux carries the parent's peak into it across fork and exec, so
every step would report at least the driver's peak.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

DATA = Path(__file__).resolve().parent / ".data"


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    detail: str = ""


PEAK_MB = (
    "next(int(line.split()[1]) for line in open('/proc/self/status') "
    "if line.startswith('VmHWM')) / 1024"
)
"""A Python expression: this process's own peak resident memory in MiB (see above)."""

_CHILD = """
import json, sys, time
sys.path.insert(0, {bench_dir!r})
import {module} as m
started = time.perf_counter()
detail = m.{function}(*{args!r})
elapsed = time.perf_counter() - started
peak = {peak_mb}
print(json.dumps({{"seconds": elapsed, "peak_mb": peak, "detail": detail or ""}}))
"""


def run_step(name: str, module: str, function: str, *args: object) -> Measurement:
    """Run ``module.function(*args)`` in a fresh interpreter; time only the call."""
    code = _CHILD.format(
        bench_dir=str(Path(__file__).resolve().parent),
        module=module,
        function=function,
        args=tuple(args),
        peak_mb=PEAK_MB,
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(name, result["seconds"], result["peak_mb"], str(result["detail"]))


def print_table(title: str, rows: list[Measurement], reference: str) -> None:
    base = next(r for r in rows if r.name == reference)
    table = Table(title=title)
    for col in ("step", "seconds", f"× {reference}", "peak MB", "detail"):
        table.add_column(col, justify="left" if col in {"step", "detail"} else "right")
    for r in rows:
        table.add_row(
            r.name,
            f"{r.seconds:.2f}",
            f"{r.seconds / base.seconds:.2f}",
            f"{r.peak_mb:,.0f}",
            r.detail,
        )
    Console().print(table)
