"""Where a tick's plan goes: the operational store (one transaction), or replay's scratch tables.

:func:`write_plan` writes journeys (upsert), assignments, outbox rows and ledger rows (insert,
ignoring keys already there) to the operational store in **one** transaction, times turned
from local to UTC; rerunning the same tick adds nothing. :func:`append_plan` appends the same
plan to DuckDB state tables (local time): replay's scratch copy, and the tests' stand-in for
the bridge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.ops.store import OpsStore, now_utc
from livebase.ops.tables import ASSIGNMENTS, JOURNEYS, OUTBOX, SEND_LEDGER
from livebase.ops.writes import upsert
from livebase.orchestrate.planner import StateTables, TickPlan

__all__ = ["WriteReport", "append_plan", "write_plan"]

_CHUNK = 5_000


@dataclass(frozen=True)
class WriteReport:
    """Rows the tick added to the operational store (0 everywhere on a rerun)."""

    journeys: int
    assignments: int
    outbox: int
    ledger: int


def _to_utc(table: pa.Table, timezone: str) -> list[dict[str, Any]]:
    """Rows of ``table`` with every timestamp turned from local ``timezone`` to naive UTC."""
    if table.num_rows == 0:
        return []
    con = duckdb.connect()
    try:
        con.register("lb_rows", table)
        zone = timezone.replace("'", "''")
        select = ", ".join(
            f"timezone('UTC', timezone('{zone}', {f.name})) AS {f.name}"
            if pa.types.is_timestamp(f.type)
            else f.name
            for f in table.schema
        )
        rows: list[dict[str, Any]] = (
            con.sql(f"SELECT {select} FROM lb_rows").to_arrow_table().to_pylist()
        )
    finally:
        con.close()
    return rows


def _insert_new(con: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows whose primary key is new, in bulk; returns how many were new."""
    if not rows:
        return 0
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if con.dialect.name == "postgresql" else sqlite
    before = con.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    for start in range(0, len(rows), _CHUNK):
        chunk = list(rows[start : start + _CHUNK])
        con.execute(dialect.insert(table).on_conflict_do_nothing(), chunk)
    after = con.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return int(after) - int(before)


def _changed_journeys(con: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journey rows that differ from what the store holds (a rerun changes nothing)."""
    if not rows:
        return []
    fields = ("arm", "state", "current_step", "next_step", "next_due_at", "exit_reason")
    out = []
    playbooks = sorted({r["playbook"] for r in rows})
    stored: dict[tuple[str, str, int], tuple[Any, ...]] = {}
    for playbook in playbooks:
        ids = [r["customer_id"] for r in rows if r["playbook"] == playbook]
        for start in range(0, len(ids), _CHUNK):
            found = con.execute(
                sa.select(JOURNEYS.c.customer_id, JOURNEYS.c.occurrence, *[
                    JOURNEYS.c[f] for f in fields
                ]).where(
                    JOURNEYS.c.playbook == playbook,
                    JOURNEYS.c.customer_id.in_(ids[start : start + _CHUNK]),
                )
            ).all()  # fmt: skip
            for row in found:
                values = tuple(
                    v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row[2:]
                )
                stored[(row[0], playbook, int(row[1]))] = values
    for r in rows:
        key = (r["customer_id"], r["playbook"], int(r["occurrence"]))
        if stored.get(key) != tuple(r[f] for f in fields):
            out.append(r)
    return out


def write_plan(ops: OpsStore, plan: TickPlan, *, timezone: str, now: datetime) -> WriteReport:
    """Write ``plan`` to the operational store in one transaction (see the module docstring).

    ``now`` stamps ``updated_at``/``created_at`` (the caller's clock).
    """
    journeys = _to_utc(plan.journeys, timezone)
    assignments = _to_utc(plan.assignments, timezone)
    outbox = _to_utc(plan.outbox, timezone)
    ledger = _to_utc(plan.ledger, timezone)
    for row in outbox:
        row.update(status="queued", created_at=now, updated_at=now, attempts=0)
    with ops.begin() as con:
        changed = _changed_journeys(con, journeys)
        written_at = now_utc()  # the bridges copy by this wall clock (ops.tables._recorded_at)
        for row in changed:
            row["updated_at"] = now
            row["recorded_at"] = written_at  # ON CONFLICT DO UPDATE skips column onupdate
        if changed:
            upsert(con, JOURNEYS, changed, key=["customer_id", "playbook", "occurrence"])
        n_assign = _insert_new(con, ASSIGNMENTS, assignments)
        n_outbox = _insert_new(con, OUTBOX, outbox)
        n_ledger = _insert_new(con, SEND_LEDGER, ledger)
    return WriteReport(len(changed), n_assign, n_outbox, n_ledger)


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
