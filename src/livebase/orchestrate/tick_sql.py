"""Small SQL helpers of a tick: temp tables from Arrow, one number from a query, day intervals.

>>> days_sql("after_days")
'to_microseconds(CAST(round(after_days * 86400000000) AS BIGINT))'
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["days_sql", "scalar", "table_from_arrow"]


def table_from_arrow(con: Any, name: str, table: pa.Table) -> None:
    """(Re)create the temp table ``name`` holding the rows of ``table``."""
    con.register("lb_pb_arrow", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM lb_pb_arrow")
    finally:
        con.unregister("lb_pb_arrow")


def scalar(con: Any, sql: str) -> int:
    """The first column of the first row of ``sql`` as an int (0 when NULL or no row)."""
    row = con.execute(sql).fetchall()[0]
    return int(row[0]) if row and row[0] is not None else 0


def days_sql(column: str) -> str:
    """An INTERVAL of ``column`` days (fractions kept to the microsecond)."""
    return f"to_microseconds(CAST(round({column} * 86400000000) AS BIGINT))"
