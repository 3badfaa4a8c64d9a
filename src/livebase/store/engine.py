"""The Engine protocol: run the segmentation SQL (written once, in DuckDB's dialect) somewhere.

Every feature, score and KPI is one SQL definition in DuckDB's dialect (``livebase.features``,
``livebase.segments``). An engine executes it, after transpiling it with sqlglot to its own
dialect when that differs:

- ``DuckDBEngine``: the workspace store (default), no transpiling;
- ``SparkEngine`` (``livebase.store.spark_engine``): pyspark, local mode or a cluster;
- any warehouse through ``transpile`` (``livebase sql --dialect …`` prints the SQL).

Constructs that would not transpile faithfully are avoided in the generator itself (integer
division for scores, DATE_DIFF on dates, JSON built by concatenation, DECIMAL money), not fixed
by editing strings afterwards; ``tests/store/test_engines.py`` checks each dialect.

>>> import duckdb
>>> engine = DuckDBEngine(duckdb.connect())
>>> engine.execute("SELECT 7 // 2 AS x").to_pylist()
[{'x': 3}]
>>> print(transpile("SELECT DATE_DIFF('day', a, b) AS d FROM t", "spark"))
SELECT
  DATEDIFF(DAY, a, b) AS d
FROM t
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import duckdb
import sqlglot

from livebase.errors import StoreError
from livebase.store.narrow import drop_narrow_table

if TYPE_CHECKING:  # imported by DuckDB when a result is fetched as one
    import pyarrow as pa

__all__ = ["DIALECTS", "Dialect", "DuckDBEngine", "Engine", "transpile"]

Dialect = Literal["duckdb", "spark", "postgres", "clickhouse", "bigquery", "snowflake"]
DIALECTS: tuple[Dialect, ...] = (
    "duckdb",
    "spark",
    "postgres",
    "clickhouse",
    "bigquery",
    "snowflake",
)
"""The dialects ``transpile`` and ``livebase sql`` write."""


def transpile(sql: str, dialect: Dialect, *, pretty: bool = True) -> str:
    """One statement of DuckDB SQL in ``dialect`` (sqlglot); comments are kept where they fit.

    >>> transpile("SELECT CAST(x AS VARCHAR) FROM t", "postgres", pretty=False)
    'SELECT CAST(x AS TEXT) FROM t'
    """
    if dialect not in DIALECTS:
        raise StoreError(f"unknown SQL dialect '{dialect}'; choose one of {', '.join(DIALECTS)}")
    statements = sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=pretty)
    if len(statements) != 1:
        raise StoreError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


@runtime_checkable
class Engine(Protocol):
    """Executes livebase's SQL (DuckDB dialect); results come back as Arrow tables."""

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect the engine speaks (what the SQL is transpiled to)."""
        ...

    def execute(self, sql: str) -> pa.Table:
        """Run one SELECT and return its rows."""
        ...

    def materialize(self, name: str, sql: str) -> None:
        """Run one SELECT into the session-scoped table ``name`` (later SQL reads it)."""
        ...

    def drop(self, name: str) -> None:
        """Forget the session table ``name`` (no error when it does not exist)."""
        ...


class DuckDBEngine:
    """The embedded engine: a DuckDB connection (the workspace store's, or any)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    @property
    def dialect(self) -> Dialect:
        return "duckdb"

    def execute(self, sql: str) -> pa.Table:
        table: pa.Table = self.con.sql(sql).to_arrow_table()
        return table

    def materialize(self, name: str, sql: str) -> None:
        drop_narrow_table(self.con, name)  # a segmentation's lb_features may be a view
        self.con.execute(f"CREATE TEMP TABLE {name} AS\n{sql}")

    def drop(self, name: str) -> None:
        drop_narrow_table(self.con, name)
