"""Benchmark: the segmentation vs the bare DuckDB aggregation, Polars, pandas (and Spark).

A seeded synthetic log (``--scale`` orders, customers = orders / 10, two years up to AS_OF,
time-ordered like an append-only daily log) is written to Parquet under benchmarks/.data/ and
loaded into a file store whose ``customer_state`` is complete (as ingest keeps it). Every
contender runs in a fresh process, so its peak memory (VmHWM) is its own:

- ``floor``: the same per-customer aggregates (every customer, all history, windows, refunds)
  in one hand-written DuckDB GROUP BY, written to a table: what any segmentation has to pay;
- ``full``: ``run_segmentation`` from the whole order log (features + rfm, abc, named + SCD2
  history + snapshots + KPIs) as of AS_OF, the day after yesterday's run (history exists);
- ``first``: the same into an empty history (every customer's row is written);
- ``everyday``: the same from ``customer_state`` and the last 180 days of orders (incremental);
- ``polars``: a Polars script of the same features and R/F/M scores (lazy, streaming);
- ``pandas``: read the orders, groupby per customer, ``qcut`` scores on ranks (skipped where
  it would not fit in memory, with the extrapolated need);
- with ``--incremental``: load one more day of orders (0.1 % of the log) with ``load_file``,
  then re-segment incrementally vs a full rebuild of the same date;
- with ``--spark``: the pipeline (features, schemes, KPIs, no history) on Spark local mode vs
  on DuckDB, over the 10M-order log.

The contenders run interleaved (floor, full, first, … then again), ``--runs N`` times each
(default 5; ``--repeat`` is the old name): a burst of load on a shared machine then falls on all
of them alike. The script prints each contender's median, spread (min … max), ratio of medians
to the floor, peak memory (the highest VmHWM of its runs) and the 1-minute load average before
and after each run, with a WARNING (figures not to be recorded) when the load went above one
per core.

    .venv/bin/python benchmarks/segment.py --scale 10M --incremental --spark
    .venv/bin/python benchmarks/segment.py --scale 10M --memory-limit 160MB
    .venv/bin/python benchmarks/segment.py --scale 100M --runs 5 --skip everyday
    .venv/bin/python benchmarks/segment.py --scale 100M --dry-run

At 100M orders pandas is not run (the orders frame alone needs ≈18 GiB); yesterday's run is
made once per invocation, not before every full run (that set-up doubled the 100M run's
length); the log and the store are made once and kept under benchmarks/.data/. How long the
100M run takes has not been timed yet: try ``--runs 1`` first.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import DATA, Measurement, interleave, median_seconds, print_interleaved, run_step

AS_OF = date(2026, 6, 30)
DAYS = 730
CHUNK = 5_000_000


def _scale(text: str) -> int:
    """'10M' → 10_000_000; '500k' → 500_000."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * factor)


def memory_limit(orders: int) -> str | None:
    """The DuckDB memory limit of livebase's runs (``engine.memory_limit`` in livebase.yaml):
    ``--memory-limit`` (passed to the child processes as LIVEBASE_BENCH_MEMORY), else none:
    the floor and Polars run uncapped, so livebase does too, at every scale."""
    given = os.environ.get("LIVEBASE_BENCH_MEMORY")
    if given:
        return None if given == "none" else given
    return None


def build_limit(orders: int) -> str | None:
    """The DuckDB memory limit of building the store (not timed): 6GB beyond 10M orders, so
    the 100M build spills to disk rather than fill the shared 24 GiB machine."""
    return None if orders <= 10_000_000 else "6GB"


def generate(orders: int, seed: int = 7) -> Path:
    """Seeded orders, time-ordered, in chunks: log-normal amounts, 5 % refunds."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = DATA / f"segment_log_{orders}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    customers = max(orders // 10, 1)
    weights = rng.gamma(0.6, 1.0, customers)
    cumulative = np.cumsum(weights / weights.sum())
    start = np.datetime64("2024-07-01T00:00:00") + np.timedelta64(
        (AS_OF - date(2026, 6, 30)).days, "D"
    )
    chunks = max(1, -(-orders // CHUNK))
    span = DAYS * 86400
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, _schema()) as writer:
        for k in range(chunks):
            n = min(CHUNK, orders - k * CHUNK)
            lo, hi = span * k // chunks, span * (k + 1) // chunks
            seconds = np.sort(rng.integers(lo, hi, n))
            ts = start + seconds.astype("timedelta64[s]")
            who = np.minimum(np.searchsorted(cumulative, rng.random(n)), customers - 1)
            amount = np.round(rng.lognormal(3.5, 0.8, n), 2)
            refunded = rng.random(n) < 0.05
            ids = pa.array(np.arange(k * CHUNK, k * CHUNK + n)).cast(pa.string())
            table = pa.table(
                {
                    "order_id": pc.binary_join_element_wise("o", ids, ""),
                    "customer_id": pc.binary_join_element_wise(
                        "c", pc.utf8_lpad(pa.array(who).cast(pa.string()), 8, "0"), ""
                    ),
                    "created_at": pa.array(ts),
                    "paid_at": pa.array(ts),
                    "amount": pa.array(amount).cast(pa.decimal128(18, 2)),
                    "paid_amount": pa.array(np.where(refunded, 0.0, amount)).cast(
                        pa.decimal128(18, 2)
                    ),
                    "status": pa.array(np.where(refunded, "refunded", "paid")),
                },
                schema=_schema(),
            )
            writer.write_table(table, row_group_size=1_000_000)
    tmp.rename(path)
    return path


def _schema() -> object:
    import pyarrow as pa

    return pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("created_at", pa.timestamp("s")),
            ("paid_at", pa.timestamp("s")),
            ("amount", pa.decimal128(18, 2)),
            ("paid_amount", pa.decimal128(18, 2)),
            ("status", pa.string()),
        ]
    )


def build_store(parquet: Path) -> Path:
    """The store: orders in time order, customers, customer_state for everyone."""
    from livebase.features.state import STATE_COLUMNS, customer_state_sql
    from livebase.store import Store

    path = DATA / f"{parquet.stem}.duckdb"
    if path.exists():
        return path
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with Store.open(tmp, create=True) as store:
        limit = build_limit(_orders_of(parquet))
        if limit is not None:  # 100M orders: spill to disk rather than fill the shared machine
            store.con.execute(f"SET memory_limit = '{limit}'")
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
        store.con.execute(
            f"INSERT INTO customer_state ({', '.join(STATE_COLUMNS)})\n"
            + customer_state_sql("customers", 1)
        )
        store.con.execute("CHECKPOINT")
    tmp.rename(path)
    return path


def _orders_of(parquet: Path) -> int:
    """The number of orders of a generated log, from its name (segment_log_<orders>)."""
    return int(parquet.stem.rsplit("_", 1)[1])


def dry_run(orders: int, plan: list[tuple[str, Path]], skip: set[str]) -> None:
    """Print what a run would generate, build and measure, and the memory it would allow,
    without generating or running anything."""
    parquet = DATA / f"segment_log_{orders}.parquet"
    chunk_mb = min(CHUNK, orders) * 120 / 2**20  # ≈ 120 bytes per order in the Arrow chunk
    print(f"{orders:,} orders, {orders // 10:,} customers, as of {AS_OF}")
    state = "exists" if parquet.exists() else f"to generate in {-(-orders // CHUNK)} chunks"
    print(f"log {parquet} ({state}; one chunk of ≤{CHUNK:,} orders in memory, ≈{chunk_mb:,.0f} MB)")
    store = parquet.with_suffix(".duckdb")
    print(f"store {store} ({'exists' if store.exists() else 'to build'})")
    print(f"DuckDB memory limit of the build: {build_limit(orders) or 'none (default)'}")
    print(f"DuckDB memory limit of livebase's runs: {memory_limit(orders) or 'none (default)'}")
    print("yesterday's run: once per invocation, into a copy every full/everyday run starts from")
    for kind, _path in plan:
        if kind in skip:
            continue
        if kind == "pandas" and orders > 20_000_000:
            print(f"  {kind:<14} not run (needs ≈{orders * 190 / 2**30:.0f} GiB)")
        else:
            print(f"  {kind:<14} runs in its own process")


# ---------------------------------------------------------------------------------------------
# contenders (each runs in its own process)


def _segment(store: object, as_of: date, source: str, orders: int) -> None:
    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings, run_segmentation
    from livebase.store.settings import EngineSettings

    run_segmentation(
        store,  # type: ignore[arg-type]
        FeaturesSettings(),
        SegmentsSettings(),
        as_of,
        ran_at=datetime(2026, 7, 1),
        collect=False,
        source=source,  # type: ignore[arg-type]
        engine=EngineSettings(memory_limit=memory_limit(orders)),
    )


def _import_livebase() -> None:
    """Import the modules ``_segment`` uses before the clock starts, as every other contender
    imports its library (duckdb, polars, pandas) before its timer: what a run imports lazily
    (the CLV models, say) still counts."""
    import livebase.features
    import livebase.segments.run  # sqlglot with it; pandas only when a result is read
    import livebase.store.settings  # noqa: F401


def _fresh_copy(store_path: Path, name: str, setup: str, orders: int) -> Path:
    """A copy of the store, prepared by ``setup`` in another process (so that neither its time
    nor its memory counts)."""
    copy = DATA / f"bench_{name}.duckdb"
    shutil.copyfile(store_path, copy)
    if setup:
        run_step(setup, "segment", "step", setup, str(copy), orders, self_timed=True)
    return copy


def setup_yesterday(store_path: Path, orders: int) -> float:
    """Yesterday's run: the history exists when today's is timed."""
    from livebase.store import Store

    with Store.open(store_path) as store:
        _segment(store, AS_OF - timedelta(days=1), "log", orders)
        store.con.execute("CHECKPOINT")
    return 0.0


def setup_load(store_path: Path, orders: int) -> float:
    """Today's run, then one more day of orders loaded with ``load_file``."""
    from livebase.ingest import PRESETS, LoadOptions, load_file
    from livebase.store import Store

    with Store.open(store_path) as store:
        _segment(store, AS_OF, "state", orders)
        load_file(
            store,
            str(_one_more_day(orders)),
            LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 7, 2)),
        )
        store.con.execute("CHECKPOINT")
    return 0.0


YESTERDAY = DATA / "bench_yesterday.duckdb"
"""The store after yesterday's run, made once per invocation by ``prepare_yesterday``."""


def prepare_yesterday(store_path: Path, orders: int) -> None:
    """Run yesterday's segmentation once (in another process) into ``YESTERDAY``: every full
    and everyday run starts from a copy of it (at 100M orders a set-up run per timed run
    doubled the benchmark's length)."""
    tmp = YESTERDAY.with_suffix(".building")
    shutil.copyfile(store_path, tmp)
    run_step("setup", "segment", "step", "setup_yesterday", str(tmp), orders, self_timed=True)
    tmp.rename(YESTERDAY)


def run_livebase(store_path: Path, mode: str, orders: int) -> float:
    """``full`` / ``everyday``: as of AS_OF after yesterday's run (a copy of ``YESTERDAY``);
    ``first``: empty history."""
    from livebase.store import Store

    copy = _fresh_copy(YESTERDAY if mode != "first" else store_path, mode, "", orders)
    _import_livebase()
    try:
        with Store.open(copy) as store:
            t = time.perf_counter()
            _segment(store, AS_OF, "state" if mode == "everyday" else "log", orders)
            return time.perf_counter() - t
    finally:
        copy.unlink(missing_ok=True)


def _one_more_day(orders: int) -> Path:
    """0.1 % of the log as a CSV dated the day after AS_OF: new and returning customers."""
    path = DATA / f"segment_day_{orders}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(11)
    n = max(orders // 1000, 1)
    who = rng.integers(0, orders // 10 + n // 5, n)
    day = AS_OF + timedelta(days=1)
    seconds = np.sort(rng.integers(0, 86400, n))
    amount = np.round(rng.lognormal(3.5, 0.8, n), 2)
    with path.open("w", encoding="utf-8") as out:
        out.write("order_id,customer_id,created_at,amount,status\n")
        for i in range(n):
            ts = datetime.combine(day, datetime.min.time()) + timedelta(seconds=int(seconds[i]))
            out.write(f"d{i},c{who[i]:08d},{ts:%Y-%m-%d %H:%M:%S},{amount[i]:.2f},paid\n")
    return path


def run_after_load(store_path: Path, source: str, orders: int) -> float:
    """After today's run and one more day loaded: re-segment (timed) from ``source``."""
    from livebase.store import Store

    copy = _fresh_copy(store_path, f"load_{source}", "setup_load", orders)
    _import_livebase()
    try:
        with Store.open(copy) as store:
            t = time.perf_counter()
            _segment(store, AS_OF + timedelta(days=1), source, orders)
            return time.perf_counter() - t
    finally:
        copy.unlink(missing_ok=True)


FLOOR_SQL = """CREATE OR REPLACE TEMP TABLE floor AS
SELECT c.customer_id, o.* EXCLUDE (customer_id)
FROM customers c
LEFT JOIN (
    SELECT customer_id,
           MIN(COALESCE(created_at, paid_at)) AS first_order_at,
           COUNT(*) FILTER (WHERE status = 'refunded') AS refunded_orders,
           MIN(CAST(paid_at AS DATE)) FILTER (WHERE paid) AS first_paid,
           DATE_DIFF('day', MAX(CAST(paid_at AS DATE)) FILTER (WHERE paid), DATE '2026-06-30')
               AS recency_days,
           COUNT(*) FILTER (WHERE paid) AS frequency,
           SUM(paid_amount) FILTER (WHERE paid) AS monetary,
           COUNT(DISTINCT CAST(paid_at AS DATE)) FILTER (WHERE paid) AS paid_days,
           COUNT(*) FILTER (WHERE paid AND paid_at >= TIMESTAMP '2026-06-01') AS o30,
           COUNT(*) FILTER (WHERE paid AND paid_at >= TIMESTAMP '2026-04-02') AS o90,
           COUNT(*) FILTER (WHERE paid AND paid_at >= TIMESTAMP '2026-01-02') AS o180
    FROM (SELECT *, paid_amount > 0 AND paid_at < TIMESTAMP '2026-07-01' AS paid FROM orders)
    GROUP BY customer_id
) o ON o.customer_id = c.customer_id"""
"""The floor: the same per-customer aggregates (every customer, all history, windows, refunds)
in one hand-written DuckDB GROUP BY, written to a table: what any segmentation has to pay."""


def run_floor(store_path: Path) -> float:
    import duckdb

    con = duckdb.connect(str(store_path), read_only=True)
    t = time.perf_counter()
    con.execute(FLOOR_SQL)
    return time.perf_counter() - t


def run_pandas(parquet: Path) -> float:
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
    return time.perf_counter() - t


def run_polars(parquet: Path) -> float:
    """The same features and R/F/M scores (rank ties down, as livebase) in Polars."""
    import polars as pl

    t = time.perf_counter()
    end = datetime(2026, 7, 1)
    day = date(2026, 6, 30)
    counted = (pl.col("paid_amount") > 0) & (pl.col("paid_at") < end)
    paid_day = pl.when(counted).then(pl.col("paid_at").dt.date())
    orders = pl.scan_parquet(parquet).with_columns(paid_day=paid_day)
    since = {n: day - timedelta(days=n) for n in (30, 90, 180)}
    features = (
        orders.group_by("customer_id")
        .agg(
            first_order_at=pl.coalesce("created_at", "paid_at").min(),
            refunded_orders=(pl.col("status") == "refunded").sum(),
            first_paid=pl.col("paid_day").min(),
            last_paid=pl.col("paid_day").max(),
            frequency=pl.col("paid_day").count(),
            paid_days=pl.col("paid_day").drop_nulls().n_unique(),
            monetary=pl.col("paid_amount").filter(counted).sum(),
            **{f"o{n}": (pl.col("paid_day") > since[n]).sum() for n in since},
        )
        .with_columns(recency=(pl.lit(day) - pl.col("last_paid")).dt.total_days())
        .collect(engine="streaming")
    )
    buyers = features.filter(pl.col("frequency") > 0)
    n = buyers.height
    buyers.with_columns(
        **{
            name: 1 + (5 * (expr.rank(method="min") - 1)) // n
            for name, expr in (
                ("r", -pl.col("recency")),
                ("f", pl.col("frequency")),
                ("m", pl.col("monetary")),
            )
        }
    )
    return time.perf_counter() - t


def run_engine(path: Path, engine_kind: str) -> float:
    """The pipeline without history on an Engine: DuckDB over the store, Spark over Parquet."""
    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings
    from livebase.segments.engine_run import run_on_engine
    from livebase.store.engine import DuckDBEngine, Engine

    engine: Engine
    if engine_kind == "spark":
        from livebase.store.settings import EngineSettings
        from livebase.store.spark_engine import SparkEngine

        engine = SparkEngine.start(
            EngineSettings(
                kind="spark",
                spark_master="local[2]",
                orders_parquet=str(path),
                spark_conf={"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "16"},
            )
        )
        t = time.perf_counter()  # session start-up (≈10 s) not counted
        run_on_engine(engine, FeaturesSettings(), SegmentsSettings(), AS_OF)
        return time.perf_counter() - t
    import duckdb

    engine = DuckDBEngine(duckdb.connect(str(path), read_only=True))
    t = time.perf_counter()
    run_on_engine(engine, FeaturesSettings(), SegmentsSettings(), AS_OF)
    return time.perf_counter() - t


def step(kind: str, path: str, orders: int) -> tuple[float, str]:
    """One contender (or set-up) in this process: ``(seconds it timed, detail)``; run by
    ``_measure.run_step`` in a fresh interpreter, whose VmHWM is then this contender's own
    (Spark's JVM is a separate process: not counted)."""
    target = Path(path)
    seconds = {
        "floor": lambda: run_floor(target),
        "full": lambda: run_livebase(target, "full", orders),
        "first": lambda: run_livebase(target, "first", orders),
        "everyday": lambda: run_livebase(target, "everyday", orders),
        "pandas": lambda: run_pandas(target),
        "polars": lambda: run_polars(target),
        "incremental": lambda: run_after_load(target, "state", orders),
        "rebuild": lambda: run_after_load(target, "log", orders),
        "duckdb_engine": lambda: run_engine(target, "duckdb"),
        "spark_engine": lambda: run_engine(target, "spark"),
        "setup_yesterday": lambda: setup_yesterday(target, orders),
        "setup_load": lambda: setup_load(target, orders),
    }[kind]()
    return seconds, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", default="10M", help="orders: 10M, 100M, 500k … (customers /10)")
    parser.add_argument("--incremental", action="store_true", help="one more day vs rebuild")
    parser.add_argument("--spark", action="store_true", help="Spark local vs DuckDB, 10M orders")
    parser.add_argument("--skip", default="", help="contenders to leave out, comma-separated")
    parser.add_argument("--memory-limit", help="DuckDB memory limit of livebase, e.g. 512MB")
    parser.add_argument(
        "--runs",
        "--repeat",
        type=int,
        default=5,
        help="interleaved runs per contender (A B C A B C …); the median counts (default 5)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and memory limits, run nothing"
    )
    args = parser.parse_args()
    if args.memory_limit:
        os.environ["LIVEBASE_BENCH_MEMORY"] = args.memory_limit
    orders = _scale(args.scale)
    skip = set(filter(None, args.skip.split(",")))
    kinds = ["floor", "full", "first", "everyday", "polars", "pandas"]
    if args.incremental:
        kinds += ["incremental", "rebuild"]
    if args.dry_run:
        dry_run(orders, [(k, DATA) for k in kinds], skip)
        return
    parquet = generate(orders)
    store = build_store(parquet)
    print(f"{orders:,} orders, {orders // 10:,} customers, as of {AS_OF}", flush=True)
    plan: list[tuple[str, Path]] = [
        (k, parquet if k in ("polars", "pandas") else store) for k in kinds
    ]
    if args.spark:
        ten = generate(10_000_000)
        plan += [("duckdb_engine", build_store(ten)), ("spark_engine", ten)]
    notes: dict[str, str] = {}
    steps: dict[str, Callable[[], Measurement]] = {}
    for kind, path in plan:
        if kind in skip:
            continue
        if kind == "pandas" and orders > 20_000_000:
            # measured: ~190 bytes per order at 10M (1.9 GB); plus the frame copies of qcut
            notes["pandas"] = (
                f"not run: needs ≈{orders * 190 / 2**30:.0f} GiB for the orders frame alone, "
                "beyond what fits next to the OS on this 24 GiB machine"
            )
            continue
        n = 10_000_000 if kind.endswith("_engine") else orders
        steps[kind] = functools.partial(
            run_step, kind, "segment", "step", kind, str(path), n, self_timed=True
        )
    YESTERDAY.unlink(missing_ok=True)
    if {"full", "everyday"} & set(steps):
        prepare_yesterday(store, orders)
    try:
        results = interleave(steps, args.runs)
    finally:
        YESTERDAY.unlink(missing_ok=True)
    print_interleaved(
        f"{orders:,} orders, {orders // 10:,} customers, as of {AS_OF}: "
        f"{args.runs} interleaved runs each",
        results,
        "floor",
    )
    for name, note in notes.items():
        print(f"{name:<15} {note}")

    def ratio(a: str, b: str, memory: bool = False) -> str:
        if not (results.get(a) and results.get(b)):
            return "n/a"
        if memory:
            peak = {k: max(r.measurement.peak_mb for r in results[k]) for k in (a, b)}
            return f"{peak[a] / peak[b]:.2f}x"
        return f"{median_seconds(results[a]) / median_seconds(results[b]):.2f}x"

    print("ratios of medians:")
    print(f"full / floor time: {ratio('full', 'floor')} (target <= 1.2x)")
    print(f"first / floor time: {ratio('first', 'floor')} (target <= 1.5x)")
    print(f"polars / full time: {ratio('polars', 'full')} (target > 1x)")
    print(
        f"pandas / full time: {ratio('pandas', 'full')}; "
        f"memory: {ratio('pandas', 'full', memory=True)} (target >= 3x)"
    )
    print(f"polars / everyday time: {ratio('polars', 'everyday')} (target > 1x)")
    if args.incremental:
        print(f"incremental / rebuild time: {ratio('incremental', 'rebuild')} (target <= 0.05)")
    if args.spark:
        print(
            f"spark / duckdb (10M, pipeline without history): "
            f"{ratio('spark_engine', 'duckdb_engine')}"
        )


if __name__ == "__main__":
    main()
