"""Benchmark: holdout assignment for 10M customers and a readout over 10M rows.

Each step runs next to a plain reference computing the same numbers, interleaved (A B C A B C
…) ``--runs`` times each (default 5), each run in a fresh process (its peak memory is its own):

* assignment — livebase ``assign_arms`` (Python API) and ``assignment_sql`` run in DuckDB,
  against a plain hashlib loop; the arms must agree (the number of held-out ids is printed
  for each, and checked equal);
* readout — ``experiment_stats_sql`` in DuckDB + ``readout_from_stats``, and the pandas
  ``readout`` path, against a plain pandas groupby computing means and Welch intervals; the
  lifts must agree.

Only the computation is timed (building the ids or the simulated table is left out). Run::

    .venv/bin/python benchmarks/experiments.py [--n 10000000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Measurement, Run, interleave, print_interleaved, run_step

SHARES = {"treatment": 0.9, "holdout": 0.1}


# -- assignment ---------------------------------------------------------------------------------


def step_assign_python(n: int) -> tuple[float, str]:
    from livebase.measure import assign_arms

    ids = [str(i) for i in range(n)]
    started = time.perf_counter()
    arms = assign_arms(ids, "bench", "bench", SHARES)
    seconds = time.perf_counter() - started
    return seconds, f"{int((arms['arm'] == 'holdout').sum()):,} held out"


def step_assign_duckdb(n: int) -> tuple[float, str]:
    import duckdb

    from livebase.measure import assignment_sql

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    sql = assignment_sql("CAST(i AS VARCHAR)", "bench", SHARES)
    started = time.perf_counter()
    arms = con.execute(f"SELECT {sql} AS arm FROM range({n}) t(i) ORDER BY i").df()
    seconds = time.perf_counter() - started
    return seconds, f"{int((arms['arm'] == 'holdout').sum()):,} held out"


def step_assign_hashlib(n: int) -> tuple[float, str]:
    ids = [str(i) for i in range(n)]
    started = time.perf_counter()
    arms = np.empty(n, dtype=object)
    for i, c in enumerate(ids):
        h = int(hashlib.md5(f"bench:{c}".encode()).hexdigest()[:8], 16) / 2**32
        arms[i] = "treatment" if h < 0.9 else "holdout"
    seconds = time.perf_counter() - started
    return seconds, f"{int((arms == 'holdout').sum()):,} held out"


# -- readout ------------------------------------------------------------------------------------


def _units(n: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(0)
    arm = np.where(rng.random(n) < 0.9, "treatment", "holdout")
    buy = (rng.random(n) < np.where(arm == "treatment", 0.052, 0.05)).astype(np.int8)
    spend = buy * rng.exponential(80.0, n)
    return pd.DataFrame({"arm": arm, "buy": buy, "spend": spend})


def _lifts(result: Any) -> str:
    by = {c.outcome: c for c in result.comparisons}
    return f"lift buy {by['buy'].lift:.6f}, spend {by['spend'].lift:.4f}"


def step_readout_sql(n: int) -> tuple[float, str]:
    import duckdb

    from livebase.measure import experiment_stats_sql, readout_from_stats, stats_from_aggregates

    units = _units(n)
    started = time.perf_counter()
    con = duckdb.connect()
    con.register("units", units)
    aggregates = con.execute(
        experiment_stats_sql("units", "arm", ["buy", "spend"], None, "buy", "spend")
    ).df()
    stats = stats_from_aggregates(
        aggregates, ["buy", "spend"], {"buy": "binary", "spend": "continuous"}
    )
    result = readout_from_stats(
        stats, control="holdout", planned_shares=SHARES, conversion="buy", revenue="spend"
    )
    seconds = time.perf_counter() - started
    return seconds, _lifts(result)


def step_readout_frame(n: int) -> tuple[float, str]:
    from livebase.measure import ReadoutSettings, readout

    units = _units(n)
    started = time.perf_counter()
    result = readout(
        units, control="holdout", outcomes=["buy", "spend"], planned_shares=SHARES,
        conversion="buy", revenue="spend", settings=ReadoutSettings(revenue_interval="welch"),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return seconds, _lifts(result)


def step_readout_pandas(n: int) -> tuple[float, str]:
    units = _units(n)
    started = time.perf_counter()
    g = units.groupby("arm")[["buy", "spend"]].agg(["mean", "var", "count"])
    t, h = g.loc["treatment"], g.loc["holdout"]
    lifts = {}
    for col in ("buy", "spend"):
        d = t[(col, "mean")] - h[(col, "mean")]
        se = np.sqrt(t[(col, "var")] / t[(col, "count")] + h[(col, "var")] / h[(col, "count")])
        lifts[col] = (d, d - 1.96 * se, d + 1.96 * se)
    seconds = time.perf_counter() - started
    return seconds, f"lift buy {lifts['buy'][0]:.6f}, spend {lifts['spend'][0]:.4f}"


def _same_detail(results: dict[str, list[Run]], what: str) -> None:
    details = {name: runs[-1].measurement.detail for name, runs in results.items()}
    if len(set(details.values())) != 1:
        raise SystemExit(f"the contenders disagree on {what}: {details}")
    print(f"all contenders agree on {what}: {next(iter(details.values()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument(
        "--runs", type=int, default=5, help="interleaved runs per step; the median counts"
    )
    args = parser.parse_args()

    def step(name: str, function: str) -> Callable[[], Measurement]:
        return partial(run_step, name, "experiments", function, args.n, self_timed=True)

    assignment = interleave(
        {
            "hashlib loop (reference)": step("hashlib", "step_assign_hashlib"),
            "assign_arms (Python API)": step("assign_arms", "step_assign_python"),
            "assignment_sql in DuckDB": step("assignment_sql", "step_assign_duckdb"),
        },
        args.runs,
    )
    print_interleaved(
        f"Holdout assignment of {args.n:,} ids: {args.runs} interleaved runs",
        assignment,
        "hashlib loop (reference)",
    )
    _same_detail(assignment, "the arms")

    readouts = interleave(
        {
            "pandas groupby + Welch (ref)": step("pandas", "step_readout_pandas"),
            "DuckDB sums + from_stats": step("sql", "step_readout_sql"),
            "readout() on the DataFrame": step("frame", "step_readout_frame"),
        },
        args.runs,
    )
    print_interleaved(
        f"Readout over {args.n:,} rows: {args.runs} interleaved runs",
        readouts,
        "pandas groupby + Welch (ref)",
    )
    _same_detail(readouts, "the lifts")


if __name__ == "__main__":
    main()
