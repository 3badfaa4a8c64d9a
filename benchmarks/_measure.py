"""Shared by the benchmarks: run a step in a fresh process, report wall time and peak memory.

Each measured step runs in its own Python process and reports its peak resident memory as
``VmHWM`` of /proc/self/status: the high-water mark of the process's own address space.
(``ru_maxrss`` is not used: Linux carries the parent's peak into it across fork and exec, so
every step would report at least the driver's peak.)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
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
if {self_timed!r}:
    elapsed, detail = detail
peak = {peak_mb}
print()  # a progress bar may have left the line open
print(json.dumps({{"seconds": elapsed, "peak_mb": peak, "detail": detail or ""}}))
"""


def run_step(
    name: str, module: str, function: str, *args: object, self_timed: bool = False
) -> Measurement:
    """Run ``module.function(*args)`` in a fresh interpreter; time only the call.

    With ``self_timed`` the function returns ``(seconds, detail)``: it times the part that
    counts itself (a set-up before it, such as copying a store, is left out of the time)."""
    code = _CHILD.format(
        bench_dir=str(Path(__file__).resolve().parent),
        module=module,
        function=function,
        args=tuple(args),
        peak_mb=PEAK_MB,
        self_timed=self_timed,
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


# -- interleaved runs: contenders in turn (A B C A B C …), the median and the spread -----------


@dataclass(frozen=True)
class Run:
    """One measured run of a contender, with the 1-minute load average around it."""

    measurement: Measurement
    load_before: float
    load_after: float


def load_average() -> float:
    """The 1-minute load average of the machine."""
    return os.getloadavg()[0]


def interleave(
    steps: dict[str, Callable[[], Measurement]], runs: int, *, echo: bool = True
) -> dict[str, list[Run]]:
    """Run every step ``runs`` times in turn (A B C A B C …), each in its own process, so a
    burst of load on the shared machine falls on all contenders alike, not on one of them."""
    results: dict[str, list[Run]] = {name: [] for name in steps}
    for i in range(runs):
        for name, step in steps.items():
            before = load_average()
            measured = step()
            after = load_average()
            results[name].append(Run(measured, before, after))
            if echo:
                print(
                    f"  run {i + 1}/{runs} {name}: {measured.seconds:.2f} s, "
                    f"{measured.peak_mb:,.0f} MB, load {before:.2f} → {after:.2f}",
                    flush=True,
                )
    return results


def median_seconds(runs: list[Run]) -> float:
    return statistics.median(r.measurement.seconds for r in runs)


def print_interleaved(
    title: str, results: dict[str, list[Run]], reference: str, *, min_runs: int = 5
) -> bool:
    """Median, spread (min … max), ratio of medians to ``reference``, peak memory (the highest
    VmHWM of the runs) and the load averages; a WARNING when the load went above one per core
    or a contender ran fewer than ``min_runs`` times. Returns whether the figures may be
    recorded."""
    cores = os.cpu_count() or 1
    floor = median_seconds(results[reference]) if results.get(reference) else float("nan")
    loads = [x for runs in results.values() for r in runs for x in (r.load_before, r.load_after)]
    print(f"\n{title}")
    if loads:
        print(f"load average (1 min) {min(loads):.2f} … {max(loads):.2f} on {cores} cores")
    print(f"× floor: the ratio of medians to '{reference}'")
    print(
        f"{'contender':<28}{'runs':>5}{'median s':>10}{'min … max s':>20}"
        f"{'× floor':>12}{'peak MB':>9}{'load max':>9}  detail"
    )
    for name, runs in results.items():
        if not runs:
            continue
        seconds = [r.measurement.seconds for r in runs]
        median = statistics.median(seconds)
        print(
            f"{name:<28}{len(runs):>5}{median:>10.2f}{min(seconds):>10.2f} … {max(seconds):<7.2f}"
            f"{median / floor:>12.2f}{max(r.measurement.peak_mb for r in runs):>9,.0f}"
            f"{max(max(r.load_before, r.load_after) for r in runs):>9.2f}"
            f"  {runs[-1].measurement.detail}"
        )
    fewest = min((len(runs) for runs in results.values() if runs), default=0)
    ok = True
    if loads and max(loads) > cores:
        print(
            f"WARNING: the load average reached {max(loads):.2f}, above 1 per core ({cores} "
            "cores): these figures are not to be recorded; take them again on a quiet machine"
        )
        ok = False
    if fewest < min_runs:
        print(f"WARNING: {fewest} runs per contender (< {min_runs}): not to be recorded")
        ok = False
    return ok
