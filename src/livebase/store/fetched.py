"""A small query result kept as DuckDB rows, made a DataFrame on first use.

A segmentation run returns its KPI and threshold tables as DataFrames, but most callers of a
nightly run never read them, and pandas (with pyarrow) is 80 MB of memory and 0.4 s of
import. ``FetchedRows`` keeps the rows and their DuckDB types; ``frame()`` loads them into an
in-memory DuckDB table of the same types and returns ``.df()`` of it: the very DataFrame the
query's own ``.df()`` gives (nullable integers, dates, decimals as floats), pandas imported
only then.

>>> import duckdb
>>> rows = FetchedRows.fetch(duckdb.connect(), "SELECT 'a' AS s, 1.5::DECIMAL(9,2) AS m, NULL::BIGINT AS n")
>>> rows.columns, rows.types, rows.rows
(('s', 'm', 'n'), ('VARCHAR', 'DECIMAL(9,2)', 'BIGINT'), (('a', Decimal('1.50'), None),))
>>> rows.frame().dtypes.astype(str).tolist()
['str', 'float64', 'Int64']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FetchedRows"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class FetchedRows:
    """Column names, DuckDB type names and rows of a result (see the module docstring)."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @classmethod
    def fetch(cls, con: duckdb.DuckDBPyConnection, sql: str) -> FetchedRows:
        """Run ``sql`` on ``con`` and keep its result."""
        result = con.execute(sql)
        description = result.description or []
        rows = tuple(tuple(row) for row in result.fetchall())  # fetched whole: no open result
        return cls(
            tuple(str(d[0]) for d in description), tuple(str(d[1]) for d in description), rows
        )

    def frame(self) -> pd.DataFrame:
        """The DataFrame ``.df()`` of the query would have given."""
        con = duckdb.connect()
        try:
            columns = ", ".join(
                f"{_quote(c)} {t}" for c, t in zip(self.columns, self.types, strict=True)
            )
            con.execute(f"CREATE TABLE fetched ({columns})")
            if self.rows:
                marks = ", ".join("?" * len(self.columns))
                con.executemany(
                    f"INSERT INTO fetched VALUES ({marks})", [list(r) for r in self.rows]
                )
            return con.execute("SELECT * FROM fetched").df()
        finally:
            con.close()
