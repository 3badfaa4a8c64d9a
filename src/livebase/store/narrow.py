"""A wide SELECT materialised without the columns it can give back for free.

DuckDB keeps a temporary table uncompressed in memory: a column of NULLs costs as much as a
column of numbers (8 MB per million rows for a DOUBLE). The features of a run without CLV
predictions have five such columns, and two that repeat another (``orders_total`` is the
frequency, ``ltv`` the monetary value, under the default settings): 56 MB at a million
customers, held through the whole run. ``create_narrow_table`` stores only the other columns
and puts a view of the full width, in the same column order, under the table's name: every
statement that reads it is unchanged.

>>> import duckdb
>>> con = duckdb.connect()
>>> create_narrow_table(con, "f", "SELECT range AS id, COALESCE(range, 0) AS a, "
...     "COALESCE(range, 0) AS b, CAST(NULL AS DOUBLE) AS c FROM range(3)")
['b', 'c']
>>> con.execute("SELECT * FROM f ORDER BY id").fetchall()
[(0, 0, 0, None), (1, 1, 1, None), (2, 2, 2, None)]
>>> con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'f__stored'").fetchall()
[('id',), ('a',)]
"""

from __future__ import annotations

import duckdb
import sqlglot
from sqlglot import exp

__all__ = ["create_narrow_table", "drop_narrow_table"]

_PURE = (
    exp.Column,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
    exp.Coalesce,
    exp.Paren,
    exp.Identifier,
)
"""Nodes of an expression whose value is a function of its columns alone (no volatile call)."""


def _free_columns(select: exp.Select) -> dict[str, str]:
    """Column → the SQL the view gives it back with: a NULL constant, or an earlier column
    with the same expression (made of columns, literals, casts and COALESCE only)."""
    free: dict[str, str] = {}
    first_with: dict[str, str] = {}  # expression → the first column computing it
    names: set[str] = set()
    for projection in select.expressions:
        name = projection.alias_or_name
        body = projection.this if isinstance(projection, exp.Alias) else projection
        repeated_name = name in names
        names.add(name)
        if repeated_name or not isinstance(projection, exp.Alias):
            continue
        nodes = list(body.walk())
        if not all(isinstance(node, _PURE) for node in nodes):
            continue
        text = body.sql("duckdb")
        if not any(isinstance(node, exp.Column) for node in nodes):
            if any(isinstance(node, exp.Null) for node in nodes):
                free[name] = text  # CAST(NULL AS DOUBLE)
        elif text in first_with:
            free[name] = _quote(first_with[text])
        else:
            first_with[text] = name
    return free


def _projectable(select: exp.Select) -> bool:
    """Whether the view can name every column: no star, no unnamed expression, no two names
    equal but for case (DuckDB would rename the second)."""
    names = [p.alias_or_name for p in select.expressions]
    folded = [n.lower() for n in names]
    return "*" not in names and "" not in names and len(set(folded)) == len(folded)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def drop_narrow_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the view ``name`` and its stored table, or a plain temporary table of that name."""
    kinds = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND temporary "
        "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND temporary",
        [name, name],
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} IF EXISTS {_quote(name)}")
    con.execute(f"DROP TABLE IF EXISTS {_quote(name + '__stored')}")


def create_narrow_table(con: duckdb.DuckDBPyConnection, name: str, select_sql: str) -> list[str]:
    """Materialise ``select_sql`` as the temporary table ``<name>__stored`` without its NULL
    constants and repeated columns, and the temporary view ``name`` of every column; returns
    the columns the view computes. A statement that is not one plain SELECT is stored whole
    (the view then reads every column). Replaces an earlier table or view of that name.
    """
    drop_narrow_table(con, name)
    try:
        tree = sqlglot.parse_one(select_sql, read="duckdb")
    except sqlglot.errors.ParseError:
        tree = None
    stored = f"{name}__stored"
    free = _free_columns(tree) if isinstance(tree, exp.Select) and _projectable(tree) else {}
    if not free:
        con.execute(f"CREATE TEMP TABLE {_quote(stored)} AS\n{select_sql}")
        con.execute(f"CREATE TEMP VIEW {_quote(name)} AS SELECT * FROM {_quote(stored)}")
        return []
    assert isinstance(tree, exp.Select)
    names = [p.alias_or_name for p in tree.expressions]
    if all(n in free for n in names):  # a table has a column: the first one is stored
        free.pop(names[0])
    kept = ", ".join(_quote(n) for n in names if n not in free)
    con.execute(f"CREATE TEMP TABLE {_quote(stored)} AS\nSELECT {kept} FROM (\n{select_sql}\n)")
    columns = ", ".join(f"{free[n]} AS {_quote(n)}" if n in free else _quote(n) for n in names)
    con.execute(f"CREATE TEMP VIEW {_quote(name)} AS SELECT {columns} FROM {_quote(stored)}")
    return [n for n in names if n in free]
