"""Publishing live statuses into SQLite at scale: wall time, WAL peak and peak memory.

``segments.publish.publish_status`` upserts one status row per customer into the operational
store's ``customer_status``. At 10M customers the one-transaction publish grew the SQLite WAL
past 20 GB (BENCHMARKS.md, the service section). This benchmark measures, on the seeded base
of ``benchmarks/bridges.py`` (``--customers`` customers, ~3 orders each, segmented):

* ``first``: a publish into an empty operational store;
* ``same``: the same run published again (nothing changed: no row should be rewritten);
* ``next``: the next day's run (every customer's recency moved: every row changes).

The three run in that order in one fresh process per repeat (so ``next`` updates the rows
``first`` wrote with the same code). Reported per phase: wall time, the WAL file's peak size
(sampled every 20 ms) and its size after the phase, and the process's peak resident memory
(VmHWM, so after ``next`` it is the peak of all three). ``--old-src`` runs another source tree
(e.g. ``git archive <commit> src | tar -x -C /tmp/old``) interleaved with this one, repeat by
repeat, and the load average is printed before and after every run.

    .venv/bin/python benchmarks/publish.py --customers 100000,1000000 --repeats 3 \\
        --old-src /tmp/pub_old/src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import PEAK_MB

SRC = Path(__file__).resolve().parent.parent / "src"
PHASES = ("first", "same", "next")


class WalWatch:
    """Samples the size of ``path`` + ``-wal`` in a thread; ``peak`` is the largest seen."""

    def __init__(self, database: Path) -> None:
        self.wal = Path(str(database) + "-wal")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _size(self) -> int:
        try:
            return self.wal.stat().st_size
        except FileNotFoundError:
            return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._size())
            time.sleep(0.02)

    def __enter__(self) -> WalWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._size())


def _peak_mb() -> float:
    return float(eval(PEAK_MB))


def run_phases(customers: int) -> dict[str, dict[str, float]]:
    """In this process: publish ``first``, ``same``, ``next`` into a fresh operational store."""
    from bridges import AS_OF, NOW, _fresh_ops, _paths, _run
    from livebase.ops import OpsStore, sqlite_url
    from livebase.segments.publish import publish_status
    from livebase.segments.settings import FeaturesSettings, SegmentsSettings
    from livebase.store import Store

    path = _fresh_ops("publish_bench", customers)
    ops = OpsStore.open(sqlite_url(path))
    results: dict[str, dict[str, float]] = {}
    with Store.open(_paths(customers)[0], read_only=True) as store:
        for phase in PHASES:
            as_of, now = AS_OF, NOW
            if phase == "next":
                as_of, now = AS_OF + timedelta(days=1), NOW + timedelta(days=1)
            run = _run(store, as_of)
            started = time.perf_counter()
            with WalWatch(path) as watch:
                done = publish_status(
                    store,
                    ops,
                    FeaturesSettings(),
                    SegmentsSettings(),
                    run,  # type: ignore[arg-type]
                    timezone="Europe/Moscow",
                    now=now,
                )
            results[phase] = {
                "seconds": time.perf_counter() - started,
                "wal_peak_mb": watch.peak / 2**20,
                "wal_after_mb": watch._size() / 2**20,
                "peak_rss_mb": _peak_mb(),
                "rows": done.customers,
            }
    ops.close()
    results["file"] = {"ops_mb": path.stat().st_size / 2**20}
    return results


def _child(src: Path, customers: int) -> dict[str, dict[str, float]]:
    code = (
        f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import publish; print(json.dumps(publish.run_phases({customers})))"
    )
    env = dict(os.environ, PYTHONPATH=str(src))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"publish with {src} failed:\n{done.stderr[-3000:]}")
    result: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="100000,1000000", help="comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--old-src", type=Path, help="another src tree, run interleaved")
    args = parser.parse_args()
    from bridges import prepare_store

    trees = {"new": SRC} | ({"old": args.old_src} if args.old_src else {})
    cores = os.cpu_count() or 1
    for customers in (int(c) for c in args.customers.split(",")):
        prepare_store(customers)
        runs: dict[str, list[dict[str, dict[str, float]]]] = {t: [] for t in trees}
        for repeat in range(args.repeats):
            for tag, src in reversed(trees.items()) if repeat % 2 else trees.items():
                before = os.getloadavg()
                runs[tag].append(_child(src, customers))
                after = os.getloadavg()
                print(
                    f"{customers:,} {tag} run {repeat + 1}: load {before[0]:.2f} → {after[0]:.2f}"
                    f" ({cores} cores) "
                    + ", ".join(f"{p} {runs[tag][-1][p]['seconds']:.1f} s" for p in PHASES),
                    flush=True,
                )
        print(
            f"\n{customers:,} customers, {args.repeats} runs per tree, {datetime.now(UTC):%F %R} UTC"
        )
        print(f"{'tree':<5}{'phase':<7}{'median s':>10}{'min … max s':>18}"
              f"{'WAL peak MB':>13}{'WAL after MB':>14}{'peak RSS MB':>13}{'ops MB':>9}")  # fmt: skip
        for tag, results in runs.items():
            for phase in PHASES:
                seconds = [r[phase]["seconds"] for r in results]
                print(
                    f"{tag:<5}{phase:<7}{statistics.median(seconds):>10.2f}"
                    f"{min(seconds):>9.2f} … {max(seconds):<6.2f}"
                    f"{max(r[phase]['wal_peak_mb'] for r in results):>13,.0f}"
                    f"{max(r[phase]['wal_after_mb'] for r in results):>14,.0f}"
                    f"{max(r[phase]['peak_rss_mb'] for r in results):>13,.0f}"
                    f"{max(r['file']['ops_mb'] for r in results):>9,.0f}"
                )


if __name__ == "__main__":
    main()
