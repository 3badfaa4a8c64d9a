"""Ingest benchmark: a 10M-row GetCourse-style orders export, CSV and Parquet.

Compares, in one run and on the same files:

- ``livebase``: ``load_file`` with the getcourse preset — sniffing, checksum, staging,
  validation of every cell, status mapping, idempotent merge, customers, customer_state;
- ``duckdb read_csv``: DuckDB's own ``CREATE TABLE AS SELECT * FROM read_csv(...)``, the floor;
- ``pandas``: ``pandas.read_csv`` + insert of the frame into DuckDB.

- ``re-ingest``: the same CSV loaded again, nothing changed: skipped on its checksum (the
  default), and with ``--force`` (every row re-checked); only the second load is timed.

``--profile`` times instead every statement of one load (and of a ``--force`` re-load of the
same file), in this process, to show where the time goes: each statement's seconds and share,
and the Python work between statements (checksum, sniffing, conversions).

Each step runs in a fresh process (peak memory is its own), the steps interleaved (A B C A B C
…) ``--runs`` times each (default 5): each step's median, spread (min … max), ratio of medians to
the floor, peak memory, and the 1-minute load average before and after each run, with a
WARNING (figures not to be recorded) when the load went above one per core. Usage::

    .venv/bin/python benchmarks/ingest.py --rows 10000000
    .venv/bin/python benchmarks/ingest.py --rows 1000000 --profile
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import DATA, Measurement, interleave, median_seconds, print_interleaved, run_step

FLOOR = "duckdb read_csv (floor)"

HEADER = (
    "ID заказа;Номер;ID пользователя;Пользователь;Email;Телефон;Дата создания;Дата оплаты;"
    "Title;Статус;Стоимость, RUB;Оплачено;Валюта;utm_source;Теги"
)


def generate(rows: int) -> tuple[Path, Path]:
    """A seeded synthetic export (UTF-8 with BOM, ';', ISO dates), and the same as Parquet."""
    import duckdb

    DATA.mkdir(parents=True, exist_ok=True)
    csv_path = DATA / f"orders_{rows}.csv"
    parquet_path = DATA / f"orders_{rows}.parquet"
    if csv_path.exists() and parquet_path.exists():
        return csv_path, parquet_path
    customers = max(rows // 10, 1)
    con = duckdb.connect()
    # deterministic pseudo-random columns from the row number (no RNG state to seed)
    con.execute(
        f"""CREATE TABLE gen AS
        WITH base AS (
            SELECT i, (i * 2654435761) % 4294967296 AS h, (i * 40503 + 7) % 1000 AS s
            FROM range({rows}) t(i))
        SELECT
            CAST(1000000 + i AS VARCHAR) AS "ID заказа",
            CAST(i + 1 AS VARCHAR) AS "Номер",
            CAST(h % {customers} AS VARCHAR) AS "ID пользователя",
            'Ученик ' || CAST(h % {customers} AS VARCHAR) AS "Пользователь",
            'u' || CAST(h % {customers} AS VARCHAR) || '@example.ru' AS "Email",
            '+7900' || lpad(CAST(h % {customers} AS VARCHAR), 7, '0') AS "Телефон",
            strftime(TIMESTAMP '2024-01-01' + to_seconds(h % 63072000), '%Y-%m-%d %H:%M:%S')
                AS "Дата создания",
            CASE WHEN s < 700 THEN strftime(TIMESTAMP '2024-01-01'
                 + to_seconds(h % 63072000 + 3600), '%Y-%m-%d %H:%M:%S') ELSE '' END
                AS "Дата оплаты",
            ['Курс Python', 'Курс SQL', 'Модуль 2', 'Подписка'][1 + s % 4] AS "Title",
            CASE WHEN s < 640 THEN 'Завершен' WHEN s < 700 THEN 'Частично оплачен'
                 WHEN s < 800 THEN 'Ожидаем оплаты' WHEN s < 950 THEN 'Отменен'
                 ELSE 'Ложный' END AS "Статус",
            printf('%.2f', 990 + (h % 5900000) / 100.0) AS "Стоимость, RUB",
            CASE WHEN s < 640 THEN printf('%.2f', 990 + (h % 5900000) / 100.0)
                 WHEN s < 700 THEN printf('%.2f', (990 + (h % 5900000) / 100.0) / 2)
                 ELSE '0' END AS "Оплачено",
            'RUB' AS "Валюта",
            ['vk', 'yandex', 'telegram', ''][1 + h % 4] AS utm_source,
            'поток ' || CAST(s % 12 AS VARCHAR) AS "Теги"
        FROM base"""
    )
    con.execute(f"COPY gen TO '{csv_path}' (HEADER, DELIMITER ';', QUOTE '\"')")
    # GetCourse writes a BOM: prepend it by streaming into a new file
    with_bom = csv_path.with_suffix(".bom")
    with csv_path.open("rb") as src, with_bom.open("wb") as dst:
        dst.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(src, dst, 1 << 22)
    with_bom.replace(csv_path)
    con.execute(f"COPY gen TO '{parquet_path}' (FORMAT parquet)")
    return csv_path, parquet_path


# -- the measured steps (each runs in a fresh process) ------------------------------------------


def _options(memory_limit: str = "") -> Any:
    """The getcourse preset's load options; ``memory_limit``: ``ingest.memory_limit`` ('' for
    the product's default)."""
    from livebase.config import IngestConfig
    from livebase.ingest import PRESETS, LoadOptions

    config = IngestConfig(memory_limit=memory_limit) if memory_limit else IngestConfig()
    return LoadOptions(PRESETS["getcourse"], loaded_at=datetime(2026, 11, 22), config=config)


def step_livebase(path: str, source: str = "", memory_limit: str = "") -> str:
    """``source``: another checkout's ``src`` folder to import livebase from (``--baseline``);
    ``memory_limit``: ``ingest.memory_limit`` for this load ('' for the default)."""
    if source:
        sys.path.insert(0, source)
    from livebase.ingest import load_file
    from livebase.store import Store

    folder = Path(tempfile.mkdtemp())
    try:
        with Store.open(folder / "s.duckdb", create=True) as store:
            result = load_file(store, path, _options(memory_limit))
            return f"{result.rows_inserted:,} orders, {store.fetch_value('SELECT count(*) FROM customers'):,} customers"
    finally:
        shutil.rmtree(folder)


def step_livebase_reload(path: str, force: bool = False) -> tuple[float, str]:
    """Second load of the same file into a store that holds it (nothing changed); only the
    second load is timed. By default it is skipped on its checksum; ``force`` re-checks every
    row (``livebase ingest --force``)."""
    import time

    from livebase.ingest import load_file
    from livebase.store import Store

    folder = Path(tempfile.mkdtemp())
    try:
        with Store.open(folder / "s.duckdb", create=True) as store:
            options = _options()
            load_file(store, path, options)
            started = time.perf_counter()
            result = load_file(store, path, options, force=force)
            seconds = time.perf_counter() - started
            state = "skipped" if result.skipped else "re-checked"
            return seconds, f"{result.rows_unchanged:,} unchanged, {state} (reload only)"
    finally:
        shutil.rmtree(folder)


def step_duckdb_read_csv(path: str) -> str:
    import duckdb

    folder = Path(tempfile.mkdtemp())
    try:
        con = duckdb.connect(str(folder / "s.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', delim=';', header=true)")
        return f"{con.execute('SELECT count(*) FROM t').fetchone()[0]:,} rows"  # type: ignore[index]
    finally:
        shutil.rmtree(folder)


def step_duckdb_read_parquet(path: str) -> str:
    import duckdb

    folder = Path(tempfile.mkdtemp())
    try:
        con = duckdb.connect(str(folder / "s.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{path}')")
        return f"{con.execute('SELECT count(*) FROM t').fetchone()[0]:,} rows"  # type: ignore[index]
    finally:
        shutil.rmtree(folder)


def step_pandas(path: str) -> str:
    import duckdb
    import pandas as pd

    folder = Path(tempfile.mkdtemp())
    try:
        frame = pd.read_csv(
            path,
            sep=";",
            encoding="utf-8-sig",
            dtype={"ID заказа": str, "ID пользователя": str},
            parse_dates=["Дата создания", "Дата оплаты"],
        )
        con = duckdb.connect(str(folder / "s.duckdb"))
        con.register("frame", frame)
        con.execute("CREATE TABLE t AS SELECT * FROM frame")
        return f"{len(frame):,} rows"
    finally:
        shutil.rmtree(folder)


class TimedConnection:
    """A DuckDB connection (or cursor) that records how long each statement takes.

    Stands in for ``Store.con`` during ``--profile``: the load's cursor is one too, so every
    statement of the load is timed; the time between statements is Python's (checksum,
    sniffing, conversions) and is recorded as such."""

    def __init__(self, con: Any, log: list[tuple[float, str]], clock: list[float]) -> None:
        self._con = con
        self._log = log
        self._clock = clock

    def cursor(self) -> TimedConnection:
        return TimedConnection(self._con.cursor(), self._log, self._clock)

    def _timed(self, method: str, sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        if started - self._clock[0] > 0.05:
            self._log.append((started - self._clock[0], "(python between statements)"))
        result = getattr(self._con, method)(sql, *args)
        self._clock[0] = time.perf_counter()
        self._log.append((self._clock[0] - started, " ".join(sql.split())))
        return result

    def execute(self, sql: str, *args: Any) -> Any:
        return self._timed("execute", sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed("executemany", sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def profile(path: str, *, memory_limit: str = "", top: int = 25) -> None:
    """Where the time of one load goes, and of a ``--force`` re-load of the same file."""
    from livebase.ingest import load_file
    from livebase.store import Store

    folder = Path(tempfile.mkdtemp())
    try:
        with Store.open(folder / "s.duckdb", create=True) as store:
            options = _options(memory_limit)
            real = store.con
            for title, force in (("first load", False), ("re-load --force", True)):
                log: list[tuple[float, str]] = []
                clock = [time.perf_counter()]
                store.con = TimedConnection(real, log, clock)  # type: ignore[assignment]
                started = time.perf_counter()
                result = load_file(store, path, options, force=force)
                total = time.perf_counter() - started
                store.con = real
                print(
                    f"\n{title}: {total:.2f} s, {result.rows_inserted:,} inserted, "
                    f"{result.rows_updated:,} updated, {result.rows_unchanged:,} unchanged"
                )
                print(f"{'seconds':>8} {'share':>6}  statement (in order; the {top} slowest)")
                slowest = sorted(range(len(log)), key=lambda i: -log[i][0])[:top]
                for i in sorted(slowest):
                    seconds, sql = log[i]
                    print(f"{seconds:>8.2f} {seconds / total:>6.1%}  {sql[:150]}")
                rest = total - sum(log[i][0] for i in slowest)
                print(f"{rest:>8.2f} {rest / total:>6.1%}  (the {len(log) - len(slowest)} others)")
    finally:
        shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument(
        "--runs", type=int, default=5, help="interleaved runs per step; the median counts"
    )
    parser.add_argument(
        "--only",
        choices=["csv", "parquet", "reload", "pandas"],
        action="append",
        help="measure these contenders only (besides the floor and the CSV ingest); repeatable",
    )
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also run the CSV ingest of another checkout's src folder (before/after, interleaved)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="time every statement of one CSV load and of a --force re-load (no contenders)",
    )
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="also run the CSV ingest with this ingest.memory_limit (e.g. 8GB), interleaved, "
        "to see what spilling under the default limit costs",
    )
    args = parser.parse_args()
    csv_path, parquet_path = generate(args.rows)
    if args.profile:
        profile(str(csv_path), memory_limit=args.memory_limit or "")
        return
    size_mb = csv_path.stat().st_size / 1e6
    csv, parquet = str(csv_path), str(parquet_path)
    steps: dict[str, Callable[[], Measurement]] = {
        FLOOR: partial(run_step, FLOOR, "ingest", "step_duckdb_read_csv", csv),
        "livebase ingest CSV": partial(run_step, "CSV", "ingest", "step_livebase", csv),
        "duckdb read_parquet": partial(
            run_step, "parquet", "ingest", "step_duckdb_read_parquet", parquet
        ),
        "livebase ingest Parquet": partial(run_step, "Parquet", "ingest", "step_livebase", parquet),
        "livebase re-ingest CSV": partial(
            run_step, "re-ingest", "ingest", "step_livebase_reload", csv, self_timed=True
        ),
        "re-ingest CSV --force": partial(
            run_step, "--force", "ingest", "step_livebase_reload", csv, True, self_timed=True
        ),
    }
    if not args.skip_pandas:
        steps["pandas read_csv + insert"] = partial(
            run_step, "pandas", "ingest", "step_pandas", csv
        )
    if args.baseline:
        steps["baseline ingest CSV"] = partial(
            run_step, "baseline", "ingest", "step_livebase", csv, args.baseline
        )
    if args.memory_limit:
        steps[f"ingest CSV, {args.memory_limit}"] = partial(
            run_step, "memory", "ingest", "step_livebase", csv, "", args.memory_limit
        )
    if args.only:
        kept = {
            "csv": ["livebase ingest CSV"],
            "parquet": ["duckdb read_parquet", "livebase ingest Parquet"],
            "reload": ["livebase re-ingest CSV", "re-ingest CSV --force"],
            "pandas": ["pandas read_csv + insert"],
        }
        names = {FLOOR, "baseline ingest CSV", "livebase ingest CSV"}
        names |= {f"ingest CSV, {args.memory_limit}"} | {n for o in args.only for n in kept[o]}
        steps = {name: step for name, step in steps.items() if name in names}
    results = interleave(steps, args.runs)
    print_interleaved(
        f"Ingest {args.rows:,} orders ({size_mb:,.0f} MB CSV): {args.runs} interleaved runs each",
        results,
        FLOOR,
    )
    first = median_seconds(results["livebase ingest CSV"])
    print("ratios of medians:")
    print(f"livebase CSV / read_csv: {first / median_seconds(results[FLOOR]):.2f}x (target <= 2x)")
    if "baseline ingest CSV" in results:
        baseline = median_seconds(results["baseline ingest CSV"])
        print(f"baseline CSV / read_csv: {baseline / median_seconds(results[FLOOR]):.2f}x")
    for name in ("livebase re-ingest CSV", "re-ingest CSV --force"):
        if name in results:
            print(
                f"{name} / first load: {median_seconds(results[name]) / first:.2f}x (target <= 1x)"
            )


if __name__ == "__main__":
    main()
