"""The bridges between the two stores at 1M customers, against their floors, same run.

1. analytics → ops (``segments.publish.publish_status``): every customer's contacts, features
   (JSON), segment per scheme and since-dates upserted into ``customer_status`` (SQLite).
   References on the same rows: the floor — the same DuckDB query to Arrow and a bare ADBC
   ingest into an empty table (no JSON building, no upsert) — and the row-by-row way,
   SQLAlchemy ``executemany`` of Python dicts.
2. ops → analytics (``ops.bridges.pull_operational``): a send ledger of 1M rows copied into a
   fresh DuckDB store with the time-zone conversion. References: the floor — ADBC read to Arrow
   and a bare ``INSERT … SELECT`` into DuckDB — and pandas ``read_sql`` through SQLAlchemy.

Steps run in fresh processes (peak memory is each step's own), interleaved A B C A B C …,
``--repeats`` times (≥ 5); the table gives median, min … max, the ratio of medians to the
floor and the load average before and after. A load above 1 per core is flagged: such
figures are not recorded in BENCHMARKS.md.

    .venv/bin/python benchmarks/bridges.py --customers 1000000 --repeats 5
    .venv/bin/python benchmarks/bridges.py --customers 1000000 --repeats 5 --floor-only
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import DATA, Measurement, run_step

AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 7, 1, tzinfo=UTC)


def _paths(customers: int) -> tuple[Path, Path]:
    folder = DATA / f"bridges_{customers}"
    return folder / "analytics.duckdb", folder / "ledger.sqlite"


def prepare_store(customers: int) -> None:
    """A DuckDB store with ``customers`` customers, ~3 orders each, segmented as of AS_OF."""
    from livebase.segments.run import run_segmentation
    from livebase.segments.settings import FeaturesSettings, SegmentsSettings
    from livebase.store import Store

    store_path = _paths(customers)[0]
    if store_path.exists():
        return
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with Store.open(store_path, create=True) as store:
        store.con.execute(
            f"""INSERT INTO customers (customer_id, email, phone, name, first_load, last_load)
            SELECT lpad(CAST(i AS VARCHAR), 8, '0'), 'c' || i || '@school.ru',
                   '+7912' || lpad(CAST(i AS VARCHAR), 7, '0'), 'Клиент ' || i, 1, 1
            FROM range({customers}) t(i)"""
        )
        store.con.execute(
            f"""INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount,
                                    paid_amount, status, first_load, last_load)
            SELECT 'o' || i, lpad(CAST(i % {customers} AS VARCHAR), 8, '0'),
                   TIMESTAMP '2024-07-01' + INTERVAL (hash(i) % 730) DAY,
                   TIMESTAMP '2024-07-01' + INTERVAL (hash(i) % 730) DAY,
                   CAST(500 + hash(i * 7) % 20000 AS DECIMAL(18,2)),
                   CAST(500 + hash(i * 7) % 20000 AS DECIMAL(18,2)), 'paid', 1, 1
            FROM range({customers * 3}) t(i)"""
        )
        run_segmentation(
            store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
        )


def prepare(customers: int) -> None:
    """:func:`prepare_store`, and an operational store with a send ledger of ``customers``
    rows."""
    from livebase.ops import SEND_LEDGER, OpsStore, sqlite_url

    prepare_store(customers)
    ledger_path = _paths(customers)[1]
    if ledger_path.exists():
        return
    ops = OpsStore.open(sqlite_url(ledger_path))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with ops.begin() as con:
        batch = [
            {
                "event_id": f"{i:08d}|wb|1|email:sent",
                "message_key": f"{i:08d}|wb|1|email",
                "customer_id": f"{i:08d}",
                "playbook": "wb",
                "occurrence": 1,
                "step": "email",
                "channel": "email",
                "type": "sent",
                "cost": 0.05,
                "ts": start + timedelta(seconds=i * 13),
            }
            for i in range(customers)
        ]
        con.execute(SEND_LEDGER.insert(), batch)
    ops.close()


def _fresh_ops(tag: str, customers: int) -> Path:
    path = _paths(customers)[0].parent / f"ops_{tag}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def _run(store: object, as_of: date = AS_OF) -> object:
    import pandas as pd

    from livebase.segments.run import SegmentationRun

    return SegmentationRun(
        as_of=as_of,
        customers=0,
        kpis=pd.DataFrame(),
        thresholds=pd.DataFrame(),
        job_matrices={},
        history_paths={},
    )


def publish(customers: int) -> str:
    from livebase.ops import OpsStore, sqlite_url
    from livebase.segments.publish import publish_status
    from livebase.segments.settings import FeaturesSettings, SegmentsSettings
    from livebase.store import Store

    ops = OpsStore.open(sqlite_url(_fresh_ops("publish", customers)))
    with Store.open(_paths(customers)[0], read_only=True) as store:
        done = publish_status(
            store,
            ops,
            FeaturesSettings(),
            SegmentsSettings(),
            _run(store),  # type: ignore[arg-type]
            timezone="Europe/Moscow",
            now=NOW,
        )
    ops.close()
    return f"{done.customers:,} rows"


def _status_query(customers: int) -> object:
    from livebase.features import features_sql
    from livebase.segments.settings import FeaturesSettings
    from livebase.store import Store

    store = Store.open(_paths(customers)[0], read_only=True)
    sql = (
        f"WITH f AS ({features_sql(FeaturesSettings(), AS_OF)}) SELECT f.customer_id, c.email, "
        "c.phone, c.name, CAST(to_json(f) AS VARCHAR) AS features FROM f "
        "LEFT JOIN customers c USING (customer_id)"
    )
    return store, sql


def publish_floor(customers: int) -> str:
    import adbc_driver_sqlite.dbapi as adbc

    store, sql = _status_query(customers)
    rows = store.con.sql(sql).to_arrow_table()  # type: ignore[attr-defined]
    with adbc.connect(str(_fresh_ops("floor", customers))) as con:
        cursor = con.cursor()
        cursor.adbc_ingest("customer_status", rows, mode="create")
        con.commit()
    return f"{rows.num_rows:,} rows"


def publish_row_by_row(customers: int) -> str:
    from livebase.ops import CUSTOMER_STATUS, OpsStore, sqlite_url

    store, sql = _status_query(customers)
    frame = store.con.sql(sql).df()  # type: ignore[attr-defined]
    ops = OpsStore.open(sqlite_url(_fresh_ops("rows", customers)))
    stamp = datetime(2026, 7, 1, tzinfo=UTC)
    records = [
        {
            "customer_id": r.customer_id,
            "email": r.email,
            "phone": r.phone,
            "name": r.name,
            "features": r.features,
            "segments": {},
            "since": {},
            "thresholds_version": "v",
            "as_of": AS_OF,
            "updated_at": stamp,
            "source": "batch",
        }
        for r in frame.itertuples()
    ]
    with ops.begin() as con:
        con.execute(CUSTOMER_STATUS.insert(), records)
    ops.close()
    return f"{len(records):,} rows"


def _fresh_duckdb(tag: str, customers: int) -> object:
    from livebase.store import Store

    path = _paths(customers)[0].parent / f"pull_{tag}.duckdb"
    path.unlink(missing_ok=True)
    return Store.open(path, create=True)


def pull(customers: int) -> str:
    from livebase.ops import OpsStore, sqlite_url
    from livebase.ops.bridges import pull_operational

    store = _fresh_duckdb("pull", customers)
    ops = OpsStore.open(sqlite_url(_paths(customers)[1]), migrate=False)
    report = pull_operational(
        store,  # type: ignore[arg-type]
        ops,
        timezone="Europe/Moscow",
        now=NOW,
        tables=("send_ledger",),
    )
    # the watermark moved: put it back so that every repeat copies the whole ledger
    import sqlalchemy as sa

    from livebase.ops import WATERMARKS

    with ops.begin() as con:
        con.execute(sa.delete(WATERMARKS))
    return f"{report.copied['send_ledger']:,} rows"


def pull_floor(customers: int) -> str:
    import adbc_driver_sqlite.dbapi as adbc

    store = _fresh_duckdb("floor", customers)
    with adbc.connect(str(_paths(customers)[1])) as con:
        cursor = con.cursor()
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "1000000000"})
        cursor.execute("SELECT * FROM send_ledger")
        rows = cursor.fetch_arrow_table()
    store.con.register("t", rows)  # type: ignore[attr-defined]
    store.con.execute("CREATE TABLE copy AS SELECT * FROM t")  # type: ignore[attr-defined]
    return f"{rows.num_rows:,} rows"


def pull_pandas(customers: int) -> str:
    import pandas as pd
    import sqlalchemy as sa

    store = _fresh_duckdb("pandas", customers)
    engine = sa.create_engine(f"sqlite:///{_paths(customers)[1]}")
    frame = pd.read_sql("SELECT * FROM send_ledger", engine)
    store.con.register("t", frame)  # type: ignore[attr-defined]
    store.con.execute("CREATE TABLE copy AS SELECT * FROM t")  # type: ignore[attr-defined]
    return f"{len(frame):,} rows"


GROUPS = {
    "analytics → ops (publish)": ["publish_floor", "publish", "publish_row_by_row"],
    "ops → analytics (pull)": ["pull_floor", "pull", "pull_pandas"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--floor-only",
        action="store_true",
        help="leave out the slow references (row by row, pandas): ours against the floor only",
    )
    args = parser.parse_args()
    repeats = max(5, args.repeats)
    prepare(args.customers)
    cores = os.cpu_count() or 1
    for title, all_steps in GROUPS.items():
        steps = all_steps[:2] if args.floor_only else all_steps
        results: dict[str, list[Measurement]] = {s: [] for s in steps}
        loads: list[float] = []
        for _ in range(repeats):
            for step in steps:
                loads.append(os.getloadavg()[0])
                results[step].append(run_step(step, "bridges", step, args.customers))
                loads.append(os.getloadavg()[0])
        floor = statistics.median(m.seconds for m in results[steps[0]])
        print(f"\n{title}, {args.customers:,} customers, {repeats} interleaved runs each")
        print(f"load average {min(loads):.2f} … {max(loads):.2f} (1 min, {cores} cores)")
        if max(loads) > cores:
            print("WARNING: load above 1 per core: these figures are not to be recorded")
        print(f"{'step':<22}{'median s':>10}{'min … max s':>20}{'× floor':>9}{'peak MB':>9}  rows")
        for step, runs in results.items():
            seconds = [m.seconds for m in runs]
            median = statistics.median(seconds)
            print(
                f"{step:<22}{median:>10.2f}{min(seconds):>10.2f} … {max(seconds):<7.2f}"
                f"{median / floor:>9.2f}{max(m.peak_mb for m in runs):>9,.0f}  {runs[0].detail}"
            )


if __name__ == "__main__":
    main()
