"""Giving back DuckDB's cached blocks and freed memory between the statements of a run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from livebase.store.memory import release_memory


def _file_with_table(path: Path, rows: int = 3_000_000) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        f"CREATE TABLE orders AS SELECT 'customer-' || (range % 50000) AS customer_id, "
        f"range * 1.5 AS amount FROM range({rows})"
    )
    con.execute("CHECKPOINT")
    con.close()


def _cached(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        "SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
    ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("user_limit", [None, "2GB"])
def test_the_cached_blocks_go_and_everything_else_stays(
    tmp_path: Path, user_limit: str | None
) -> None:
    path = tmp_path / "store.duckdb"
    _file_with_table(path)
    con = duckdb.connect(str(path))
    if user_limit:
        con.execute(f"SET memory_limit = '{user_limit}'")
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
    expected = con.execute("SELECT COUNT(DISTINCT customer_id), SUM(amount) FROM orders").fetchone()
    con.execute(
        "CREATE TEMP TABLE facts AS SELECT customer_id, SUM(amount) s FROM orders GROUP BY 1"
    )
    assert _cached(con) > 10_000_000

    released = release_memory(con, limit=user_limit, headroom=0)

    assert released.cached_before > 10_000_000
    assert released.cached_after < released.cached_before / 4
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == limit
    # the temporary table is whole, and the log is read again from the file when asked
    assert con.execute("SELECT COUNT(*) FROM facts").fetchone() == (50_000,)
    assert (
        con.execute("SELECT COUNT(DISTINCT customer_id), SUM(amount) FROM orders").fetchone()
        == expected
    )


def test_an_in_memory_database_keeps_its_tables(tmp_path: Path) -> None:
    """Its tables are not a cache: nothing of them may go (and nothing errs)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS x, range::VARCHAR AS y FROM range(300000)")
    released = release_memory(con, headroom=0)
    assert released.cached_before == released.cached_after == 0
    assert released.used_after > 1_000_000
    assert con.execute("SELECT SUM(x), COUNT(DISTINCT y) FROM t").fetchone() == (
        sum(range(300000)),
        300000,
    )


def test_the_default_limit_is_set_back_exactly() -> None:
    """A limit read back is rounded (18.8 GiB); the default is restored by RESET, not by
    writing the rounded value."""
    con = duckdb.connect()
    default = con.execute("SELECT current_setting('memory_limit')").fetchall()
    release_memory(con)
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == default
    con.execute("SET memory_limit = '2GB'")
    two = con.execute("SELECT current_setting('memory_limit')").fetchall()
    for _ in range(3):  # no drift, run after run
        release_memory(con, limit="2GB")
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == two


def test_a_limit_the_caller_set_is_kept_when_not_named() -> None:
    """Without ``limit``, the limit in force is read and set back: never DuckDB's default
    instead of the caller's."""
    con = duckdb.connect()
    con.execute("SET memory_limit = '6GB'")
    shown = con.execute("SELECT current_setting('memory_limit')").fetchall()
    release_memory(con)
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == shown
