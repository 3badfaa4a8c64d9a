"""Start-up time of the ``livebase`` command against a bare ``python -c pass``, same run.

Both are started as fresh processes, interleaved (so that a busy moment of the machine hits
both), several times each; the table gives the median, the spread (min … max) and the ratio
of medians, with the load average before and after. The target (issue 13): ``livebase
--help`` and light commands start in under 0.5 s.

    .venv/bin/python benchmarks/startup.py --repeats 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "livebase --help": [str(BIN / "livebase"), "--help"],
    "livebase --version": [str(BIN / "livebase"), "--version"],
    "livebase segment --help": [str(BIN / "livebase"), "segment", "--help"],
    # in Russian: the catalogue is read and every help text of the command tree translated
    "LIVEBASE_LANG=ru … --help": [str(BIN / "livebase"), "--help"],
}
ENV: dict[str, dict[str, str]] = {"LIVEBASE_LANG=ru … --help": {"LIVEBASE_LANG": "ru"}}


def _time(name: str, argv: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "LIVEBASE_LANG"} | ENV.get(name, {})
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each command (>= 5)")
    args = parser.parse_args()
    repeats = max(5, args.repeats)
    load_before = os.getloadavg()
    for name, argv in COMMANDS.items():  # warm the file cache once
        _time(name, argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, argv in COMMANDS.items():
            times[name].append(_time(name, argv))
    load_after = os.getloadavg()
    base = statistics.median(times["python -c pass"])
    print(
        f"{repeats} interleaved runs each; load average {load_before[0]:.2f} → {load_after[0]:.2f}"
    )
    print(f"{'command':<26}{'median s':>10}{'min … max s':>18}{'× python':>10}")
    for name, values in times.items():
        median = statistics.median(values)
        spread = f"{min(values):.3f} … {max(values):.3f}"
        print(f"{name:<26}{median:>10.3f}{spread:>18}{median / base:>10.1f}")


if __name__ == "__main__":
    main()
