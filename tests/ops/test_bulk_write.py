"""``write_arrow``: batches committed one by one from a TEMP stage, unchanged rows left alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pytest
import sqlalchemy as sa

from livebase.ops import CUSTOMER_STATUS, WATERMARKS, OpsStore
from livebase.ops.bridges import write_arrow
from livebase.ops.writes import upsert

T0 = datetime(2026, 6, 30, 9, 0)
T1 = datetime(2026, 7, 1, 9, 0)


def _statuses(ids: list[str], *, segment: str = "A", at: datetime = T0) -> pa.Table:
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
    n = len(ids)
    return pa.table(
        {
            "customer_id": ids,
            "email": [f"{i}@x.ru" for i in ids],
            "features": ['{"frequency": 1}'] * n,
            "segments": [f'{{"abc": "{segment}"}}'] * n,
            "since": ['{"abc": "2026-06-01"}'] * n,
            "thresholds_version": ["v1"] * n,
            "as_of": ["2026-06-30"] * n,
            "updated_at": [stamp] * n,
            "source": ["batch"] * n,
        }
    )


def _write(ops: OpsStore, rows: pa.Table | pa.RecordBatchReader, **kwargs: object) -> int:
    return write_arrow(
        ops,
        "customer_status",
        rows,
        key=["customer_id"],
        json_columns=["features", "segments", "since"],
        stamps=["updated_at"],
        **kwargs,  # type: ignore[arg-type]
    )


def _rows(ops: OpsStore) -> dict[str, dict[str, object]]:
    with ops.read() as con:
        return {
            r["customer_id"]: dict(r) for r in con.execute(sa.select(CUSTOMER_STATUS)).mappings()
        }


def test_a_republish_of_unchanged_rows_leaves_them_alone(ops_store: OpsStore) -> None:
    ids = [f"c{i:02d}" for i in range(7)]
    assert _write(ops_store, _statuses(ids)) == 7
    # the same rows again, later: nothing but the stamp differs, so nothing is rewritten
    assert _write(ops_store, _statuses(ids, at=T1)) == 7
    rows = _rows(ops_store)
    assert {r["updated_at"] for r in rows.values()} == {T0.replace(tzinfo=UTC)}
    # a row whose segment moved is rewritten whole, stamp included
    changed = _statuses(ids[:2], segment="B", at=T1)
    _write(ops_store, changed)
    rows = _rows(ops_store)
    assert rows["c00"]["segments"] == {"abc": "B"}
    assert rows["c00"]["updated_at"] == T1.replace(tzinfo=UTC)
    assert rows["c05"]["segments"] == {"abc": "A"}
    assert rows["c05"]["updated_at"] == T0.replace(tzinfo=UTC)


def _reader(table: pa.Table, size: int, between: object) -> pa.RecordBatchReader:
    def batches() -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(table.to_batches(max_chunksize=size)):
            if i:
                between(i)  # type: ignore[operator]
            yield batch

    return pa.RecordBatchReader.from_batches(table.schema, batches())


_OTHER_PROCESS = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=0.2, isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO watermarks (source, position, updated_at) VALUES (?, '1', '2026-06-30')",
            (sys.argv[2],))
con.execute("COMMIT")
print(con.execute("SELECT count(*) FROM customer_status").fetchone()[0])
"""


def _other_writer(ops: OpsStore, source: str) -> int:
    """Write a row with a 0.2 s busy timeout, as another writer would; the statuses it sees.

    On SQLite from another process: the ADBC driver bundles its own SQLite, and two copies
    in one process break each other's file locks (sqlite.org/howtocorrupt.html, 2.2.1)."""
    if ops.dialect == "sqlite":
        database = sa.make_url(ops.url).database or ""
        done = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, database, source],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(done.stdout)
    other = OpsStore.open(ops.url, busy_timeout_ms=200, migrate=False)
    try:
        with other.begin() as con:
            con.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
            upsert(
                con,
                WATERMARKS,
                [{"source": source, "position": "1", "updated_at": T0}],
                key=["source"],
            )
        with other.read() as con:
            return int(
                con.execute(sa.select(sa.func.count()).select_from(CUSTOMER_STATUS)).scalar_one()
            )
    finally:
        other.close()


def test_batches_commit_one_by_one_and_other_writers_go_between(ops_store: OpsStore) -> None:
    """Another writer is not locked out for the whole write (the service's live updates
    wait for one batch at most), and sees the batches already written."""
    ids = [f"c{i:02d}" for i in range(10)]
    seen: list[int] = []

    def between(i: int) -> None:
        seen.append(_other_writer(ops_store, f"test:{i}"))

    written = _write(ops_store, _reader(_statuses(ids), 3, between), batch_rows=3)
    assert written == 10 and len(_rows(ops_store)) == 10
    assert seen == [3, 6, 9]


def test_a_failed_write_keeps_the_batches_before_and_leaves_no_stage(
    ops_store: OpsStore,
) -> None:
    ids = [f"c{i:02d}" for i in range(10)]

    def between(i: int) -> None:
        if i == 2:
            raise RuntimeError("the analytics query failed")

    with pytest.raises(RuntimeError, match="analytics query failed"):
        _write(ops_store, _reader(_statuses(ids), 3, between), batch_rows=3)
    assert sorted(_rows(ops_store)) == ids[:6]
    # written again, it completes
    assert _write(ops_store, _statuses(ids), batch_rows=3) == 10
    assert sorted(_rows(ops_store)) == ids
    names = sa.inspect(ops_store.engine).get_table_names()
    assert not [n for n in names if n.startswith("lb_")]


def test_delete_missing_removes_the_rows_absent_from_every_batch(ops_store: OpsStore) -> None:
    _write(ops_store, _statuses([f"c{i:02d}" for i in range(8)]))
    kept = ["c01", "c03", "c07", "c09"]
    assert _write(ops_store, _statuses(kept), batch_rows=2, delete_missing=True) == 4
    assert sorted(_rows(ops_store)) == kept


def test_batch_rows_must_be_positive(ops_store: OpsStore) -> None:
    with pytest.raises(ValueError, match="batch_rows must be at least 1"):
        _write(ops_store, _statuses(["a"]), batch_rows=0)
