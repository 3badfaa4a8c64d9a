"""Insert one row unless its key exists, telling whether it was new (on both engines).

``ops.writes.insert_ignore`` counts with ``rowcount``, which psycopg reports as -1 for
``ON CONFLICT DO NOTHING``; ``RETURNING`` the key is exact on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

__all__ = ["insert_new"]


_STATEMENTS: dict[tuple[str, str], Any] = {}


def insert_new(con: Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert ``row``; False (and nothing written) when a row with its primary key exists.

    The statement takes the row as bound parameters, so SQLAlchemy compiles it once.
    """
    cache_key = (con.dialect.name, table.name)
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        key = list(table.primary_key.columns)
        if con.dialect.name == "postgresql":
            insert: Any = postgresql.insert(table).on_conflict_do_nothing()
        else:  # the plain INSERT construct is cached compiled; SQLite's upsert one is not
            insert = sa.insert(table).prefix_with("OR IGNORE")
        statement = _STATEMENTS[cache_key] = insert.returning(*key)
    return con.execute(statement, dict(row)).first() is not None
