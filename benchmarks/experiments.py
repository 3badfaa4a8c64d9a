"""Benchmark: holdout assignment for 10M customers and a readout over 10M rows.

Each step runs next to a plain reference computing the same numbers in the same run:
* assignment — livebase ``assign_arms`` (Python md5) and ``assignment_sql`` run in DuckDB,
  against a plain pandas/hashlib loop; the arms must agree;
* readout — ``experiment_stats_sql`` in DuckDB + ``readout_from_stats`` (and the pandas
  ``readout`` path) against a plain pandas groupby computing means, Welch and z statistics.

Run: ``.venv/bin/python benchmarks/experiments.py [--n 10000000]``. Prints times, ratios and
the process's peak RSS after each step (ru_maxrss, monotonic).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import time
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from livebase.measure import (
    ReadoutSettings,
    assign_arms,
    assignment_sql,
    experiment_stats_sql,
    readout,
    readout_from_stats,
    stats_from_aggregates,
)

SHARES = {"treatment": 0.9, "holdout": 0.1}


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, seconds, and the process's peak RSS (MiB) after the step (it never decreases)."""
    t0 = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t0
    return out, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_assignment(ids: list[str]) -> np.ndarray:
    out = np.empty(len(ids), dtype=object)
    for i, c in enumerate(ids):
        h = int(hashlib.md5(f"bench:{c}".encode()).hexdigest()[:8], 16) / 2**32
        out[i] = "treatment" if h < 0.9 else "holdout"
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000_000)
    n = parser.parse_args().n
    rows: list[tuple[str, float, float]] = []
    ids = [str(i) for i in range(n)]

    lb, t_lb, m_lb = timed(lambda: assign_arms(ids, "bench", "bench", SHARES))
    rows.append(("assignment: livebase assign_arms (python md5)", t_lb, m_lb))
    con = duckdb.connect()
    sql = assignment_sql("CAST(i AS VARCHAR)", "bench", SHARES)
    db, t_db, m_db = timed(
        lambda: con.execute(f"SELECT {sql} AS arm FROM range({n}) t(i) ORDER BY i").df()
    )
    rows.append(("assignment: livebase assignment_sql in DuckDB", t_db, m_db))
    ref, t_ref, m_ref = timed(lambda: plain_assignment(ids))
    rows.append(("assignment: plain hashlib loop (reference)", t_ref, m_ref))
    assert (lb["arm"].to_numpy() == ref).all()
    assert (db["arm"].to_numpy() == ref).all()
    del lb, db, ref

    rng = np.random.default_rng(0)
    arm = np.where(rng.random(n) < 0.9, "treatment", "holdout")
    buy = (rng.random(n) < np.where(arm == "treatment", 0.052, 0.05)).astype(np.int8)
    spend = buy * rng.exponential(80.0, n)
    units = pd.DataFrame({"arm": arm, "buy": buy, "spend": spend})

    def via_sql() -> Any:
        c = duckdb.connect()
        c.register("units", units)
        agg = c.execute(
            experiment_stats_sql("units", "arm", ["buy", "spend"], None, "buy", "spend")
        ).df()
        st = stats_from_aggregates(agg, ["buy", "spend"], {"buy": "binary", "spend": "continuous"})
        return readout_from_stats(
            st, control="holdout", planned_shares=SHARES, conversion="buy", revenue="spend"
        )

    r_sql, t_rs, m_rs = timed(via_sql)
    rows.append(("readout: DuckDB sums + readout_from_stats", t_rs, m_rs))
    r_pd, t_rp, m_rp = timed(
        lambda: readout(
            units, control="holdout", outcomes=["buy", "spend"], planned_shares=SHARES,
            conversion="buy", revenue="spend", settings=ReadoutSettings(revenue_interval="welch"),
        )
    )  # fmt: skip
    rows.append(("readout: livebase readout() on the DataFrame", t_rp, m_rp))

    def plain() -> pd.DataFrame:
        g = units.groupby("arm")[["buy", "spend"]].agg(["mean", "var", "count"])
        t, h = g.loc["treatment"], g.loc["holdout"]
        out = {}
        for col in ("buy", "spend"):
            d = t[(col, "mean")] - h[(col, "mean")]
            se = np.sqrt(t[(col, "var")] / t[(col, "count")] + h[(col, "var")] / h[(col, "count")])
            out[col] = (d, d - 1.96 * se, d + 1.96 * se)
        return pd.DataFrame(out, index=["lift", "low", "high"])

    ref_r, t_pl, m_pl = timed(plain)
    rows.append(("readout: plain pandas groupby + Welch (reference)", t_pl, m_pl))
    for r in (r_sql, r_pd):
        by = {c.outcome: c for c in r.comparisons}
        for col in ("buy", "spend"):
            assert abs(by[col].lift - ref_r.loc["lift", col]) < 1e-9

    print(f"n = {n:,}")
    print(f"{'step':55s} {'seconds':>9s} {'peak RSS MiB':>12s}")
    for name, t, m in rows:
        print(f"{name:55s} {t:9.2f} {m:12.1f}")
    print(
        f"ratio assignment python/reference: {t_lb / t_ref:.2f}; duckdb/reference: {t_db / t_ref:.2f}"
    )
    print(
        f"ratio readout duckdb/reference: {t_rs / t_pl:.2f}; readout()/reference: {t_rp / t_pl:.2f}"
    )
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    c = {x.outcome: x for x in r_sql.comparisons}
    print(f"buy lift {c['buy'].lift:.5f} [{c['buy'].ci_low:.5f}, {c['buy'].ci_high:.5f}]")


if __name__ == "__main__":
    main()
