"""Benchmark: full segmentation vs the bare DuckDB aggregation vs pandas groupby + qcut.

A seeded synthetic log (default 10M orders, 1M customers) is written to Parquet under
benchmarks/.data/ and loaded into a file store. Three contenders, each in a fresh process so
peak memory (ru_maxrss) is its own:

- ``livebase``: ``run_segmentation`` (features SQL + rfm, abc, named + SCD2 history write +
  snapshots + KPIs), one run as of the last day;
- ``floor``: the same per-customer aggregates in one hand-written DuckDB GROUP BY, written to a
  table (what any segmentation has to pay);
- ``pandas``: read the orders, groupby per customer, ``qcut`` scores on ranks.

    .venv/bin/python benchmarks/segment.py --scale 10000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
AS_OF = date(2026, 6, 30)


def generate(orders: int, seed: int = 7) -> Path:
    """Seeded orders: customers = orders / 10, two years, log-normal amounts, 5 % refunds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"segment_orders_{orders}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    customers = max(orders // 10, 1)
    weights = rng.gamma(0.6, 1.0, customers)
    who = rng.choice(customers, size=orders, p=weights / weights.sum())
    start = np.datetime64("2024-07-01T00:00:00")
    seconds = rng.integers(0, 730 * 86400, orders).astype("timedelta64[s]")
    ts = start + seconds
    amount = np.round(rng.lognormal(3.5, 0.8, orders), 2)
    refunded = rng.random(orders) < 0.05
    table = pa.table(
        {
            "order_id": pa.array([f"o{i}" for i in range(orders)]),
            "customer_id": pa.array([f"c{i:07d}" for i in who]),
            "created_at": pa.array(ts),
            "paid_at": pa.array(ts),
            "amount": pa.array(amount).cast(pa.decimal128(18, 2)),
            "paid_amount": pa.array(np.where(refunded, 0.0, amount)).cast(pa.decimal128(18, 2)),
            "status": pa.array(np.where(refunded, "refunded", "paid")),
        }
    )
    pq.write_table(table, path)
    return path


def build_store(parquet: Path) -> Path:
    from livebase.store import Store

    path = DATA / f"{parquet.stem}.duckdb"
    if path.exists():
        return path
    with Store.open(path, create=True) as store:
        store.con.execute(
            f"""INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount,
                paid_amount, status, first_load, last_load)
            SELECT order_id, customer_id, created_at, paid_at, amount, paid_amount, status, 1, 1
            FROM read_parquet('{parquet}')"""
        )
        store.con.execute(
            """INSERT INTO customers (customer_id, first_load, last_load)
            SELECT DISTINCT customer_id, 1, 1 FROM orders"""
        )
        store.con.execute("CHECKPOINT")
    return path


def run_livebase(store_path: Path) -> None:
    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings, run_segmentation
    from livebase.store import Store

    with Store.open(store_path) as store:
        store.con.execute("DELETE FROM segment_history")
        store.con.execute("DELETE FROM segment_runs")
        store.con.execute("DELETE FROM segment_snapshots")
        store.con.execute("CHECKPOINT")
        t = time.perf_counter()
        run_segmentation(
            store,
            FeaturesSettings(),
            SegmentsSettings(),
            AS_OF,
            ran_at=datetime(2026, 7, 1),
            collect=False,
        )
        print(f"seconds {time.perf_counter() - t:.3f}")


def run_floor(store_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(store_path))
    t = time.perf_counter()
    con.execute(
        """CREATE OR REPLACE TEMP TABLE floor AS
        SELECT customer_id,
               DATE_DIFF('day', MAX(CAST(paid_at AS DATE)), DATE '2026-06-30') AS recency_days,
               MIN(CAST(paid_at AS DATE)) AS first_paid, COUNT(*) AS frequency,
               SUM(paid_amount) AS monetary, COUNT(DISTINCT CAST(paid_at AS DATE)) AS days,
               COUNT(CASE WHEN paid_at >= TIMESTAMP '2026-06-01' THEN 1 END) AS o30,
               COUNT(CASE WHEN paid_at >= TIMESTAMP '2026-04-01' THEN 1 END) AS o90,
               COUNT(CASE WHEN paid_at >= TIMESTAMP '2026-01-01' THEN 1 END) AS o180
        FROM orders WHERE paid_amount > 0 AND paid_at < TIMESTAMP '2026-07-01'
        GROUP BY customer_id"""
    )
    print(f"seconds {time.perf_counter() - t:.3f}")


def run_pandas(parquet: Path) -> None:
    import pandas as pd

    t = time.perf_counter()
    orders = pd.read_parquet(parquet, columns=["customer_id", "paid_at", "paid_amount"])
    orders["paid_amount"] = orders["paid_amount"].astype(float)
    orders = orders[(orders["paid_amount"] > 0) & (orders["paid_at"] < "2026-07-01")]
    orders["day"] = orders["paid_at"].dt.normalize()
    end = pd.Timestamp("2026-06-30")
    g = orders.groupby("customer_id")
    f = pd.DataFrame(
        {
            "last": g["day"].max(),
            "first": g["day"].min(),
            "frequency": g.size(),
            "monetary": g["paid_amount"].sum(),
            "days": g["day"].nunique(),
        }
    )
    for n in (30, 90, 180):
        recent = orders[orders["day"] > end - pd.Timedelta(days=n)]
        f[f"o{n}"] = recent.groupby("customer_id").size().reindex(f.index).fillna(0)
    f["recency"] = (end - f["last"]).dt.days
    for col, sign in (("recency", -1), ("frequency", 1), ("monetary", 1)):
        f[col[0]] = pd.qcut((sign * f[col]).rank(method="min"), 5, labels=False, duplicates="drop")
    print(f"seconds {time.perf_counter() - t:.3f}")


def child(kind: str, path: str) -> None:
    {"livebase": run_livebase, "floor": run_floor, "pandas": run_pandas}[kind](Path(path))
    # VmHWM: this process's own peak RSS (ru_maxrss would carry the parent's over exec)
    status = Path("/proc/self/status").read_text()
    peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    print(f"peak_mb {peak / 1024:.0f}")


def measure(kind: str, path: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = dict(
        line.split() for line in out.splitlines() if line.split()[:1] in (["seconds"], ["peak_mb"])
    )
    return float(values["seconds"]), float(values["peak_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10_000_000, help="orders (customers = /10)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    parquet = generate(args.scale)
    store = build_store(parquet)
    results = {
        "livebase": measure("livebase", store),
        "floor": measure("floor", store),
        "pandas": measure("pandas", parquet),
    }
    print(f"{args.scale:,} orders, {args.scale // 10:,} customers, as of {AS_OF}")
    print(f"{'contender':<10} {'seconds':>9} {'peak MB':>9}")
    for name, (sec, mb) in results.items():
        print(f"{name:<10} {sec:>9.2f} {mb:>9.0f}")
    lb, fl, pd_ = results["livebase"], results["floor"], results["pandas"]
    print(f"livebase / floor time: {lb[0] / fl[0]:.2f}x")
    print(f"pandas / livebase time: {pd_[0] / lb[0]:.2f}x; memory: {pd_[1] / lb[1]:.2f}x")


if __name__ == "__main__":
    main()
