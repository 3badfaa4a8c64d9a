"""Send-ledger rows of the worker, and the batched insert that writes them (and the other rows
a batch of messages adds: suppressions, message tokens and links).

Event ids derive from the outbox key (``{key}:sent``, ``{key}:failed:{attempt}``…), so writing
the same event twice adds nothing.

>>> from datetime import UTC, datetime
>>> row = {"key": "7|w|1|email", "customer_id": "7", "playbook": "w", "occurrence": 1,
...        "step": "email", "channel": "email"}
>>> ledger_row(row, "sent", "sent", datetime(2026, 6, 30, tzinfo=UTC), cost=0.05)["event_id"]
'7|w|1|email:sent'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from livebase.ops.prepared import Prepared

__all__ = ["insert_new", "ledger_row"]


def ledger_row(
    row: Mapping[str, Any],
    event: str,
    kind: str,
    now: datetime,
    *,
    reason: str | None = None,
    cost: float = 0.0,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``send_ledger`` row of event ``event`` (type ``kind``) of the outbox row ``row``."""
    return {
        "event_id": f"{row['key']}:{event}",
        "message_key": row["key"],
        "customer_id": row["customer_id"],
        "playbook": row["playbook"],
        "occurrence": row["occurrence"],
        "step": row["step"],
        "channel": row["channel"],
        "type": kind,
        "reason": None if reason is None else reason[:256],
        "cost": cost,
        "ts": now,
        "detail": dict(detail or {}),
    }


@functools.lru_cache(maxsize=64)  # a few tables, one set of columns each
def _insert_ignoring(table: sa.Table, dialect: str, columns: tuple[str, ...]) -> Prepared:
    if dialect == "postgresql":
        return Prepared(postgresql.insert(table).on_conflict_do_nothing(), columns)
    # SQLAlchemy cannot cache the compiled form of SQLite's ON CONFLICT DO NOTHING (it compiles
    # it again on every execution, which costs more than the insert); INSERT OR IGNORE caches
    return Prepared(sa.insert(table).prefix_with("OR IGNORE", dialect="sqlite"), columns)


def insert_new(con: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` in one batched statement, skipping those whose primary key exists
    (``ON CONFLICT DO NOTHING`` on PostgreSQL, ``INSERT OR IGNORE`` on SQLite; a prepared
    statement, :mod:`livebase.ops.prepared`). Every row must have the same columns, all the
    table's required ones among them."""
    if not rows:
        return
    _insert_ignoring(table, con.dialect.name, tuple(rows[0])).execute(con, rows)
