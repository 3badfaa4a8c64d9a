"""Insert one row unless its key exists, telling whether it was new (on both engines).

``ops.writes.insert_ignore`` counts with ``rowcount``, which psycopg reports as -1 for
``ON CONFLICT DO NOTHING``; ``RETURNING`` the key is exact on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["insert_new"]


def insert_new(con: Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert ``row``; False (and nothing written) when a row with its primary key exists."""
    insert: Any = (
        postgresql.insert(table) if con.dialect.name == "postgresql" else sqlite.insert(table)
    )
    key = list(table.primary_key.columns)
    statement = insert.values(**row).on_conflict_do_nothing().returning(*key)
    return con.execute(statement).first() is not None
