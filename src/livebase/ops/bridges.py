"""Bridges between the two stores, in bulk through Arrow (never row by row in Python).

ops → analytics (:func:`pull_operational`): at the start of every batch job, what the
operational store gained since the last watermark — send ledger, journeys, assignments,
consents — is copied into the DuckDB tables ``ops_send_ledger``, ``ops_journeys``,
``ops_assignments`` and ``ops_consents`` (migration 007), so readouts, funnels and caps stay
SQL. Rows are chosen by ``recorded_at`` (the writer's clock) re-reading an overlap window, and
upserted by key, so a transaction that committed late or a row updated twice is still copied
exactly once. Timestamps become the workspace's local time, like every analytics timestamp.

analytics → ops: :func:`write_arrow` upserts Arrow rows into an operational table in batches,
each from a TEMP staging table in its own short transaction (used by ``segments.publish``
after each segmentation run).

Reading goes through ADBC (``adbc_driver_sqlite`` / ``adbc_driver_postgresql``), which hands
Arrow record batches straight to DuckDB.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from livebase.ops.store import OpsStore
from livebase.ops.tables import METADATA, WATERMARKS
from livebase.ops.writes import upsert
from livebase.store import Store

__all__ = [
    "BRIDGED_TABLES",
    "BridgeReport",
    "adbc_connect",
    "pull_operational",
    "read_arrow",
    "write_arrow",
]

OVERLAP = timedelta(minutes=10)
"""How far before the watermark each pull re-reads (longer than any operational transaction)."""

BRIDGED_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "send_ledger": (
        "ops_send_ledger",
        (
            "event_id", "message_key", "customer_id", "playbook", "occurrence", "step",
            "channel", "type", "reason", "cost", "ts", "recorded_at",
        ),
    ),
    "journeys": (
        "ops_journeys",
        (
            "customer_id", "playbook", "occurrence", "entered_at", "arm", "state",
            "current_step", "next_step", "next_due_at", "exit_reason", "exited_at", "recorded_at",
        ),
    ),
    "assignments": (
        "ops_assignments",
        (
            "unit", "customer_id", "occurrence", "arm", "holdout_share", "salt", "ts",
            "recorded_at",
        ),
    ),
    "consents": (
        "ops_consents",
        (
            "id", "customer_id", "channel", "purpose", "status", "source", "text_version", "ts",
            "recorded_at",
        ),
    ),
}  # fmt: skip
"""Operational table → (DuckDB copy, columns copied)."""

_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class BridgeReport:
    """How many rows each table brought over (new or changed since the last pull)."""

    copied: dict[str, int]
    seconds: float


@contextlib.contextmanager
def adbc_connect(ops: OpsStore) -> Iterator[Any]:
    """An ADBC (Arrow-native) connection to the operational store.

    On SQLite, keep it open only while this process has no other connection to the file: the
    driver bundles its own copy of SQLite (3.53 beside Python's 3.40), and two copies in one
    process break each other's POSIX locks: with a ``sqlite3`` connection opened and closed
    between two ADBC commits, new connections no longer saw the later commits until the ADBC
    connection closed (sqlite.org/howtocorrupt.html, 2.2.1)."""
    url = ops.engine.url
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        con = adbc_sqlite.connect(url.database or ":memory:")
        con.adbc_connection.set_options(**{"adbc.connection.autocommit": "true"})
        # wait for the service's short transactions instead of failing with "database is locked"
        pragma = con.cursor()
        pragma.execute("PRAGMA busy_timeout = 30000")
        pragma.close()
    else:
        import adbc_driver_postgresql.dbapi as adbc_pg

        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        con = adbc_pg.connect(libpq, autocommit=True)
    try:
        yield con
    finally:
        con.close()


def read_arrow(ops: OpsStore, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    """Run ``sql`` (``?`` placeholders on SQLite, ``$1`` on PostgreSQL) and return Arrow."""
    with adbc_connect(ops) as con:
        cursor = con.cursor()
        if ops.dialect == "sqlite":
            # infer each column's type from all rows (SQLite values are typed per row)
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "1000000000"})
        cursor.execute(sql, tuple(params) or None)
        table: pa.Table = cursor.fetch_arrow_table()
        cursor.close()
        return table


def _watermark(ops: OpsStore, source: str) -> datetime | None:
    with ops.read() as con:
        position = con.execute(
            sa.select(WATERMARKS.c.position).where(WATERMARKS.c.source == source)
        ).scalar_one_or_none()
    return None if position is None else datetime.fromisoformat(position)


def _advance(ops: OpsStore, source: str, seen: datetime, now: datetime) -> None:
    with ops.begin() as con:
        upsert(
            con,
            WATERMARKS,
            [{"source": source, "position": seen.isoformat(), "updated_at": now}],
            key=["source"],
        )


def _local(column: str, timezone: str) -> str:
    """SQL turning a UTC timestamp column (text on SQLite) into local wall time."""
    quoted = timezone.replace("'", "''")
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE timezone('{quoted}', "
        f"CAST(CAST({column} AS VARCHAR) AS TIMESTAMP) AT TIME ZONE 'UTC') END"
    )


def pull_operational(
    store: Store,
    ops: OpsStore,
    *,
    timezone: str,
    now: datetime,
    tables: Sequence[str] = tuple(BRIDGED_TABLES),
    overlap: timedelta = OVERLAP,
) -> BridgeReport:
    """Copy what the operational store gained into its DuckDB copies (see the module doc).

    ``now`` stamps the watermarks; ``overlap``: how far before the watermark to re-read (a
    caller whose writers all finished before the pull, such as the demo's simulation, may
    shorten it). The DuckDB writes commit before the watermarks move, so a
    crash in between only means the next pull re-reads the same rows.
    """
    import time

    started = time.perf_counter()
    copied: dict[str, int] = {}
    marks: dict[str, datetime] = {}
    with store.transaction():
        for name in tables:
            target, columns = BRIDGED_TABLES[name]
            source = f"bridge:{name}"
            since = _watermark(ops, source)
            where, params = "", []
            if since is not None:
                start = since - overlap
                where = " WHERE recorded_at > " + ("?" if ops.dialect == "sqlite" else "$1")
                params = [
                    start.replace(tzinfo=None).strftime(_SQLITE_FORMAT)
                    if ops.dialect == "sqlite"
                    else start.replace(tzinfo=None)
                ]
            batch = read_arrow(ops, f"SELECT {', '.join(columns)} FROM {name}{where}", params)
            copied[name] = batch.num_rows
            if batch.num_rows == 0:
                continue
            time_columns = {
                c.name
                for c in METADATA.tables[name].columns
                if isinstance(c.type, (sa.types.TypeDecorator, sa.DateTime))
            }
            select = ", ".join(_local(c, timezone) if c in time_columns else c for c in columns)
            store.con.register("lb_bridge_batch", batch)
            try:
                store.con.execute(
                    f"INSERT OR REPLACE INTO {target} ({', '.join(columns)}) "
                    f"SELECT {select} FROM lb_bridge_batch"
                )
                newest = store.con.execute(
                    "SELECT max(CAST(CAST(recorded_at AS VARCHAR) AS TIMESTAMP)) FROM lb_bridge_batch"
                ).fetchall()[0]
            finally:
                store.con.unregister("lb_bridge_batch")
            if newest is not None and newest[0] is not None:
                marks[source] = newest[0].replace(tzinfo=now.tzinfo)
    for source, seen in marks.items():
        _advance(ops, source, seen, now)
    return BridgeReport(copied, time.perf_counter() - started)


BULK_CACHE_KIB = 131_072
"""SQLite page cache of the bulk writer's connection (KiB): one batch's pages stay in memory
until its commit instead of spilling to the WAL mid-transaction (the default is 2 MB)."""


def _upsert_sql(
    ops: OpsStore,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    json_columns: Sequence[str],
    stamps: Sequence[str],
    stage: str,
) -> str:
    """``INSERT … SELECT … FROM stage ON CONFLICT DO UPDATE`` that leaves a row alone when no
    column but ``stamps`` differs (a re-publish of unchanged rows writes no page)."""
    postgres = ops.dialect == "postgresql"
    casts = {c: f"CAST({c} AS JSON)" if postgres and c in json_columns else c for c in columns}
    if postgres:
        table_columns = METADATA.tables[table].columns
        for c in columns:
            kind = table_columns[c].type
            if isinstance(kind, sa.types.TypeDecorator):
                casts[c] = f"CAST({c} AS TIMESTAMP)"
            elif isinstance(kind, sa.Date):
                casts[c] = f"CAST({c} AS DATE)"
    updates = [c for c in columns if c not in key]
    compared = [c for c in updates if c not in stamps]
    distinct = "IS DISTINCT FROM" if postgres else "IS NOT"

    def text(side: str, c: str) -> str:
        # PostgreSQL's json type has no equality: compare the documents' text
        return f"CAST({side}.{c} AS TEXT)" if postgres and c in json_columns else f"{side}.{c}"

    changed = " OR ".join(f"{text(table, c)} {distinct} {text('excluded', c)}" for c in compared)
    action = (
        f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in updates)}"
        + (f" WHERE {changed}" if changed else "")
        if updates
        else "DO NOTHING"
    )
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(casts[c] for c in columns)} FROM {stage} WHERE true "
        f"ORDER BY {', '.join(key)} ON CONFLICT ({', '.join(key)}) {action}"
    )


def _batches(rows: pa.Table | pa.RecordBatchReader, batch_rows: int) -> Iterator[pa.Table]:
    if isinstance(rows, pa.Table):
        for batch in rows.to_batches(max_chunksize=batch_rows):
            yield pa.Table.from_batches([batch], schema=rows.schema)
        return
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in rows:
        pending.append(batch)
        size += batch.num_rows
        if size >= batch_rows:
            yield pa.Table.from_batches(pending, schema=rows.schema)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema=rows.schema)


def write_arrow(
    ops: OpsStore,
    table: str,
    rows: pa.Table | pa.RecordBatchReader,
    *,
    key: Sequence[str],
    json_columns: Sequence[str] = (),
    stamps: Sequence[str] = (),
    delete_missing: bool = False,
    batch_rows: int = 100_000,
) -> int:
    """Upsert ``rows`` into the operational ``table`` in bulk, ``batch_rows`` at a time, each
    batch committed on its own (a reader's batches streamed, never all in memory). Returns
    the number of rows given.

    A batch is ingested into a TEMP staging table (outside the operational database: not in
    its WAL, nothing left behind by a crash), then upserted in key order in one short write
    transaction (``INSERT … ON CONFLICT DO UPDATE``, which updates a row in place where
    ``INSERT OR REPLACE`` would delete it and insert it again, touching every index twice).
    Rows whose columns other than ``stamps`` (e.g. ``updated_at``) all equal the stored ones
    are left alone. So the WAL holds one batch at a time and checkpoints between batches
    (a single transaction over 10M rows grew it past 20 GB), and other writers wait for one
    batch, not for the whole write. Callers should give rows in key order: the rows and the
    key index are then written page after page.

    Not atomic as a whole: while it runs, and after a failure, some rows are new and others
    still old. Each row is replaced whole; a caller whose readers need more must not use
    this (``segments.publish`` says why its readers do not). Timestamps must already be naive
    UTC; JSON columns are JSON text. With ``delete_missing`` rows whose key is absent from
    ``rows`` are removed at the end, in one transaction (keys collected in a TEMP table).
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    stage, seen = f"lb_stage_{table}", f"lb_keys_{table}"
    columns = list(rows.schema.names)
    upsert_sql = _upsert_sql(ops, table, columns, key, json_columns, stamps, stage)
    begin = "BEGIN IMMEDIATE" if ops.dialect == "sqlite" else "BEGIN"
    written = 0
    with adbc_connect(ops) as con:
        cursor = con.cursor()
        try:
            if ops.dialect == "sqlite":
                cursor.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
                cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
            cursor.execute(f"DROP TABLE IF EXISTS {seen}")
            created = False
            for batch in _batches(rows, batch_rows):
                # the stage is temporary: filled outside the write lock, never in the WAL
                cursor.adbc_ingest(
                    stage, batch, mode="append" if created else "create", temporary=True
                )
                if delete_missing:
                    keys = ", ".join(key)
                    if not created:
                        cursor.execute(f"CREATE TEMP TABLE {seen} AS SELECT {keys} FROM {stage}")
                    else:
                        cursor.execute(f"INSERT INTO {seen} SELECT {keys} FROM {stage}")
                created = True
                cursor.execute(begin)
                try:
                    cursor.execute(upsert_sql)
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                written += batch.num_rows
                # PostgreSQL's DELETE would leave the dead rows in the table (no autovacuum of
                # temporary tables); SQLite's DELETE without WHERE is its truncate
                cursor.execute(
                    f"TRUNCATE {stage}" if ops.dialect == "postgresql" else f"DELETE FROM {stage}"
                )
            if delete_missing:
                if not created:
                    cursor.execute(
                        f"CREATE TEMP TABLE {seen} AS SELECT {', '.join(key)} "
                        f"FROM {table} WHERE false"
                    )
                match = " AND ".join(f"s.{k} = {table}.{k}" for k in key)
                cursor.execute(begin)
                try:
                    cursor.execute(
                        f"DELETE FROM {table} "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {seen} s WHERE {match})"
                    )
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
            cursor.execute(f"DROP TABLE IF EXISTS {seen}")
        finally:
            cursor.close()
    return written


def duckdb_arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The result of a DuckDB query as an Arrow table."""
    result: pa.Table = con.execute(sql).to_arrow_table()
    return result
