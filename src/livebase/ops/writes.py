"""Writes every operational-store user needs: idempotent inserts and upserts on both engines.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.ops.store import OpsStore, sqlite_url
>>> from livebase.ops.tables import WATERMARKS
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> row = {"source": "x", "position": "1", "updated_at": datetime(2026, 1, 1, tzinfo=UTC)}
>>> with ops.begin() as con:
...     insert_ignore(con, WATERMARKS, [row, row])
1
>>> with ops.begin() as con:
...     upsert(con, WATERMARKS, [{**row, "position": "2"}], key=["source"])
1
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["insert_ignore", "upsert"]


def _insert(con: Connection, table: sa.Table) -> Any:
    if con.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(con: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows``, silently skipping those whose primary key exists; returns how many
    were new. Retried webhooks, replayed events and re-run plans add nothing twice."""
    if not rows:
        return 0
    # one statement, the rows as its parameters: compiled once and cached (a statement built
    # with .values(**row) is a new statement per row, compiled again every time); RETURNING
    # counts what was inserted on both engines (psycopg's rowcount is -1 here)
    statement = _insert_ignoring(con.dialect.name, table)
    return sum(len(con.execute(statement, dict(row)).all()) for row in _unique_by_key(table, rows))


@functools.lru_cache(maxsize=128)
def _insert_ignoring(dialect: str, table: sa.Table) -> Any:
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing().returning(*table.primary_key.columns)


def upsert(
    con: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, key: Sequence[str]
) -> int:
    """Insert ``rows`` or update the existing row with the same ``key`` columns."""
    if not rows:
        return 0
    statement = _insert(con, table)
    columns = [c for c in rows[0] if c not in key]
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={c: statement.excluded[c] for c in columns}
    )
    result = con.execute(statement, list(rows))
    return int(result.rowcount or 0)


def _unique_by_key(table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    keys = [c.name for c in table.primary_key.columns]
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for row in rows:
        identity = tuple(row.get(k) for k in keys)
        if identity not in seen:
            seen.add(identity)
            unique.append(row)
    return unique
