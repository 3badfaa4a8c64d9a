"""Where a tick's plan goes: the operational store (one transaction), or replay's scratch tables.

:func:`write_plan` writes journeys (upsert of the changed ones), assignments, outbox rows and
ledger rows (insert, ignoring keys already there) to the operational store in **one**
transaction, times turned from local to UTC; rerunning the same tick adds nothing. In bulk,
never row by row: each table goes through Arrow (ADBC ingest into a temporary table) and one
``INSERT … SELECT … ON CONFLICT``. :func:`append_plan` appends the same
plan to DuckDB state tables (local time): replay's scratch copy, and the tests' stand-in for
the bridge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from livebase.ops.store import OpsStore, now_utc
from livebase.ops.tables import METADATA
from livebase.orchestrate.plan_types import StateTables, TickPlan

__all__ = ["WriteReport", "append_plan", "write_plan"]


@dataclass(frozen=True)
class WriteReport:
    """Rows the tick added to the operational store (0 everywhere on a rerun)."""

    journeys: int
    assignments: int
    outbox: int
    ledger: int


_UTC_TEXT = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy stores a naive UTC datetime on SQLite; PostgreSQL casts it back."""

_JOURNEY_FIELDS = ("arm", "state", "current_step", "next_step", "next_due_at", "exit_reason")
_KEYS = {
    "journeys": ("customer_id", "playbook", "occurrence"),
    "assignments": ("unit", "customer_id", "occurrence"),
    "outbox": ("key",),
    "send_ledger": ("event_id",),
}


def _utc_text(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(_UTC_TEXT)


def _staged(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    timezone: str,
    extra: Mapping[str, Any],
    key: Sequence[str],
) -> pa.Table:
    """``table`` with every timestamp turned from local ``timezone`` to UTC text, plus the
    constant columns ``extra`` (text, numbers), computed by DuckDB (``con``, a scratch
    in-memory connection) on the Arrow data, in the order of the target table's ``key`` (the
    plan's rows come in no order; the store's key index takes them faster in order)."""
    if table.num_rows == 0:
        return table
    try:
        con.register("lb_rows", table)
        zone = timezone.replace("'", "''")
        columns = [
            f"strftime(timezone('UTC', timezone('{zone}', {f.name})), '{_UTC_TEXT}') AS {f.name}"
            if pa.types.is_timestamp(f.type)
            else f.name
            for f in table.schema
        ]
        columns += [
            f"{v} AS {k}" if isinstance(v, int) else f"'{v}' AS {k}" for k, v in extra.items()
        ]
        staged: pa.Table = con.sql(
            f"SELECT {', '.join(columns)} FROM lb_rows ORDER BY {', '.join(key)}"
        ).to_arrow_table()
    finally:
        con.unregister("lb_rows")
    return staged


def _typed(dialect: str, table: str, column: str, expr: str) -> str:
    """``expr`` cast to the column's type where PostgreSQL will not take text."""
    if dialect != "postgresql":
        return expr
    kind = METADATA.tables[table].columns[column].type
    if isinstance(kind, sa.types.TypeDecorator):
        return f"CAST({expr} AS TIMESTAMP)"
    return expr


def _same(dialect: str, left: str, right: str) -> str:
    """Null-safe equality on both engines."""
    op = "IS NOT DISTINCT FROM" if dialect == "postgresql" else "IS"
    return f"{left} {op} {right}"


def _write_table(cursor: Any, dialect: str, table: str, rows: pa.Table) -> int:
    """Stage ``rows`` and insert those whose key is new (journeys: upsert the changed ones);
    returns how many rows were new or changed."""
    if rows.num_rows == 0:
        return 0
    stage = f"lb_stage_{table}"
    cursor.execute(f"DROP TABLE IF EXISTS {stage}")  # a temp table lives as long as the connection
    cursor.adbc_ingest(stage, rows, mode="create", temporary=True)
    columns = list(rows.column_names)
    key = _KEYS[table]
    match = " AND ".join(f"t.{k} = s.{k}" for k in key)
    values = ", ".join(_typed(dialect, table, c, c) for c in columns)
    if table == "journeys":
        differs = " OR ".join(
            f"NOT ({_same(dialect, f't.{f}', _typed(dialect, table, f, f's.{f}'))})"
            for f in _JOURNEY_FIELDS
        )
        cursor.execute(
            f"SELECT count(*) FROM {stage} s LEFT JOIN {table} t ON {match} "
            f"WHERE t.{key[0]} IS NULL OR {differs}"
        )
        updates = [c for c in columns if c not in key]
        guard = " OR ".join(
            f"NOT ({_same(dialect, f'{table}.{f}', f'excluded.{f}')})" for f in _JOURNEY_FIELDS
        )
        conflict = (
            f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in updates)} WHERE {guard}"
        )
    else:
        cursor.execute(
            f"SELECT count(*) FROM {stage} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE {match})"
        )
        conflict = "DO NOTHING"
    row = cursor.fetchone()
    written = int(row[0]) if row else 0
    if written:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {stage} "
            f"WHERE true ON CONFLICT ({', '.join(key)}) {conflict}"
        )
    cursor.execute(f"DROP TABLE IF EXISTS {stage}")
    return written


def write_plan(ops: OpsStore, plan: TickPlan, *, timezone: str, now: datetime) -> WriteReport:
    """Write ``plan`` to the operational store in one transaction (see the module docstring):
    each table staged through Arrow (ADBC) and merged with one ``INSERT … SELECT``.

    ``now`` stamps ``updated_at``/``created_at`` (the caller's clock).
    """
    from livebase.ops.bridges import adbc_connect

    stamp = _utc_text(now)
    written_at = _utc_text(now_utc())  # the bridges copy by this wall clock (ops.tables)
    scratch = duckdb.connect()  # one in-memory connection stages all four tables
    try:
        plan_tables: dict[str, tuple[pa.Table, dict[str, Any]]] = {
            "journeys": (plan.journeys, {"updated_at": stamp, "recorded_at": written_at}),
            "assignments": (plan.assignments, {"recorded_at": written_at}),
            "outbox": (
                plan.outbox,
                {"status": "queued", "created_at": stamp, "updated_at": stamp, "attempts": 0},
            ),
            "send_ledger": (plan.ledger, {"recorded_at": written_at}),
        }
        staged = {
            name: _staged(scratch, rows, timezone, extra, _KEYS[name])
            for name, (rows, extra) in plan_tables.items()
        }
    finally:
        scratch.close()
    with adbc_connect(ops) as con:
        cursor = con.cursor()
        if ops.dialect == "sqlite":  # staging in memory; room for the indexes being merged into
            cursor.execute("PRAGMA temp_store = MEMORY")
            cursor.execute("PRAGMA cache_size = -262144")
        cursor.execute("BEGIN" if ops.dialect == "postgresql" else "BEGIN IMMEDIATE")
        try:
            counts = {name: _write_table(cursor, ops.dialect, name, rows)
                      for name, rows in staged.items()}  # fmt: skip
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()
    return WriteReport(
        counts["journeys"], counts["assignments"], counts["outbox"], counts["send_ledger"]
    )


def append_plan(con: duckdb.DuckDBPyConnection, plan: TickPlan, state: StateTables) -> None:
    """Apply ``plan`` to the DuckDB state tables (local time), with the store's key rules."""
    tables: Iterable[tuple[str, pa.Table, str]] = (
        (state.assignments, plan.assignments, "unit, customer_id, occurrence"),
        (state.ledger, plan.ledger, "event_id"),
    )
    for target, rows, key in tables:
        if rows.num_rows == 0:
            continue
        con.register("lb_pb_append", rows)
        try:
            cols = ", ".join(rows.column_names)
            match = " AND ".join(f"t.{k.strip()} = n.{k.strip()}" for k in key.split(","))
            con.execute(
                f"INSERT INTO {target} ({cols}) SELECT {cols} FROM lb_pb_append n "
                f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})"
            )
        finally:
            con.unregister("lb_pb_append")
    if plan.journeys.num_rows:
        con.register("lb_pb_append", plan.journeys)
        try:
            con.execute(
                f"DELETE FROM {state.journeys} t USING lb_pb_append n WHERE "
                "t.customer_id = n.customer_id AND t.playbook = n.playbook "
                "AND t.occurrence = n.occurrence"
            )
            cols = ", ".join(plan.journeys.column_names)
            con.execute(f"INSERT INTO {state.journeys} ({cols}) SELECT {cols} FROM lb_pb_append")
        finally:
            con.unregister("lb_pb_append")
