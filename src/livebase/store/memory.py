"""Give back the memory DuckDB keeps after a large statement.

After a statement that scanned the order log, DuckDB keeps two things it may never use again:
the log's blocks in its buffer pool (a cache: they are read from the file again when needed)
and the memory its allocator freed but holds for reuse (the hash tables of the aggregation).
At 10M orders that is 170 MB of blocks and about 150 MB of freed memory, and the statements
after the features then allocate more on top of it: the peak of a run. ``release_memory``
evicts the cached blocks of persistent tables and makes the allocator return what it holds,
by lowering DuckDB's ``memory_limit`` for one statement and setting it back: DuckDB evicts
down to a new limit and flushes its allocator when the limit is set. Temporary tables and
everything pinned stay where they are (the lowered limit leaves room for them). The limit is
the database's: another connection to it sees the lowered limit for that one statement.

>>> import duckdb
>>> con = duckdb.connect()
>>> release_memory(con).limit == con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
True
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

__all__ = ["MemoryRelease", "release_memory"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class MemoryRelease:
    """What ``release_memory`` found and did (bytes as DuckDB counts them, ``duckdb_memory()``)."""

    cached_before: int
    """Blocks of persistent tables in the buffer pool before."""
    cached_after: int
    used_after: int
    """Everything DuckDB's buffer manager held after."""
    limit: str | None
    """DuckDB's memory limit after (as DuckDB shows it)."""


def _usage(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        str(tag): int(used)
        for tag, used in con.execute(
            "SELECT tag, memory_usage_bytes FROM duckdb_memory()"
        ).fetchall()
    }


def _limit(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("SELECT current_setting('memory_limit')").fetchall()  # no open result
    return str(rows[0][0]) if rows else None


def release_memory(
    con: duckdb.DuckDBPyConnection, *, limit: str | None = None, headroom: int = 64 * _MIB
) -> MemoryRelease:
    """Evict the cached blocks of persistent tables and flush DuckDB's allocator (see the
    module docstring). ``limit``: the memory limit in force, as written in livebase.yaml
    (``engine.memory_limit``), set back afterwards. None: the limit in force is read from
    DuckDB and set back (DuckDB's default exactly; another limit as DuckDB shows it, rounded:
    1.8 GiB for 2GB, which is why a caller that knows the limit passes it). ``headroom``:
    the room left above what stays (temporary tables, pinned buffers), so that nothing but
    the cache has to go. If DuckDB refuses the lowered limit, things stay as they were.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TEMP TABLE t AS SELECT range AS x FROM range(100000)")
    >>> release_memory(con, headroom=0).cached_after
    0
    >>> con.execute("SELECT COUNT(*) FROM t").fetchall()
    [(100000,)]
    """
    usage = _usage(con)
    cached = usage.get("BASE_TABLE", 0)
    staying = sum(usage.values()) - cached
    lowered = max(_MIB, staying + headroom)
    before = _limit(con)
    try:
        con.execute(f"SET memory_limit = '{(lowered + _MIB - 1) // _MIB}MiB'")
    except duckdb.Error:  # could not free enough: keep the cache
        pass
    finally:
        if limit is not None:
            con.execute(f"SET memory_limit = '{limit}'")
        else:  # the default if it was in force, else the limit as DuckDB showed it
            con.execute("RESET memory_limit")
            if before is not None and _limit(con) != before:
                con.execute(f"SET memory_limit = '{before}'")
    after = _usage(con)
    return MemoryRelease(
        cached_before=cached,
        cached_after=after.get("BASE_TABLE", 0),
        used_after=sum(after.values()),
        limit=_limit(con),
    )
