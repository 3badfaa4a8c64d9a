"""The warehouse SQL (``livebase sql --dialect postgres``) run by a real PostgreSQL server on
CDNOW gives every customer the same features, scores, segments and KPIs as DuckDB.

The test starts its own server (Debian's ``postgresql`` package) as the ``postgres`` user on a
free loopback port, in a temporary folder, and stops it afterwards.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from test_engines import RULES, SIGNALS, assert_runs_agree

from _servers import PostgresServer
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments.engine_run import EngineRun, run_on_engine
from livebase.segments.pipeline import pipeline_script
from livebase.store import Store
from livebase.store.engine import DuckDBEngine

pytestmark = pytest.mark.slow
AS_OF = date(1998, 6, 30)
psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def server(postgres_server: PostgresServer) -> str:
    """The session's PostgreSQL server (tests/_servers.py); yields its connection string."""
    return postgres_server.dsn


@pytest.fixture(scope="module")
def cdnow(cdnow_master: Path) -> Store:
    store = Store.in_memory()
    load_file(
        store, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1))
    )
    return store


_TABLES = {
    "orders": (
        "customer_id TEXT, created_at TIMESTAMP, paid_at TIMESTAMP, paid_amount NUMERIC(18,2), "
        "status TEXT, items TEXT",
        "SELECT customer_id, created_at, paid_at, paid_amount, status, items FROM orders",
    ),
    "customers": (
        "customer_id TEXT, created_at TIMESTAMP",
        "SELECT customer_id, created_at FROM customers",
    ),
    "events": (
        "customer_id TEXT, ts TIMESTAMP, name TEXT",
        "SELECT customer_id, ts, name FROM events",
    ),
}


def _copy(store: Store, pg: object, name: str) -> None:
    columns, select = _TABLES[name]
    cur = pg.cursor()  # type: ignore[attr-defined]
    cur.execute(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({columns})")
    frame = store.con.execute(select).df()
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    with cur.copy(f"COPY {name} FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
        copy.write(buffer.getvalue())


def _fetch(pg: object, sql: str) -> pa.Table:
    cur = pg.cursor()  # type: ignore[attr-defined]
    cur.execute(sql)
    names = [d.name for d in cur.description]
    rows = cur.fetchall()
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


def test_postgres_runs_the_printed_sql_and_agrees_with_duckdb(server: str, cdnow: Store) -> None:
    with psycopg.connect(server, autocommit=True) as pg:
        for name in _TABLES:
            _copy(cdnow, pg, name)
        script = pipeline_script(SIGNALS, RULES, AS_OF, "postgres")
        pg.execute(script)  # the whole script, as a warehouse scheduler would run it
        on_postgres = EngineRun(
            AS_OF,
            _fetch(pg, "SELECT * FROM lb_features"),
            _fetch(pg, "SELECT * FROM lb_assignments"),
            _fetch(pg, "SELECT * FROM lb_kpis"),
        )
    duck = run_on_engine(DuckDBEngine(cdnow.con), SIGNALS, RULES, AS_OF)
    assert on_postgres.features.num_rows == duck.features.num_rows > 23_000
    assert_runs_agree(on_postgres, duck)
