"""The operational store: the same migrations and behaviour on SQLite and a real PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from livebase.config import parse_config
from livebase.errors import ConfigError, StoreError
from livebase.ops import CONSENTS, METADATA, SEND_LEDGER, WATERMARKS, OpsStore, sqlite_url


@pytest.fixture
def ops(ops_store: OpsStore) -> OpsStore:
    """A fresh, migrated operational store on each engine (tests/_servers.py)."""
    return ops_store


def test_migrations_create_exactly_the_declared_tables(ops: OpsStore) -> None:
    with ops.read() as con:
        diffs = compare_metadata(MigrationContext.configure(con), METADATA)
        names = set(sa.inspect(con).get_table_names()) - {"alembic_version"}
    assert names == set(METADATA.tables)
    # only differences an engine cannot express (comments on SQLite) are allowed
    assert [d for d in diffs if "comment" not in str(d[0])] == []


def test_opening_twice_applies_nothing_new(ops: OpsStore) -> None:
    before = ops.schema_revisions()
    assert OpsStore.open(ops.url).migrate() == before


def test_timestamps_come_back_as_aware_utc(ops: OpsStore) -> None:
    moscow = timezone(timedelta(hours=3))
    with ops.begin() as con:
        con.execute(
            WATERMARKS.insert().values(
                source="a", position="1", updated_at=datetime(2026, 6, 30, 12, 0, tzinfo=moscow)
            )
        )
        con.execute(
            WATERMARKS.insert().values(
                source="b", position="2", updated_at=datetime(2026, 6, 30, 12, 0)
            )
        )
    with ops.read() as con:
        rows = dict(con.execute(sa.select(WATERMARKS.c.source, WATERMARKS.c.updated_at)).all())
    assert rows["a"] == datetime(2026, 6, 30, 9, 0, tzinfo=UTC)
    assert rows["b"] == datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def test_a_failed_transaction_leaves_nothing(ops: OpsStore) -> None:
    with pytest.raises(RuntimeError), ops.begin() as con:
        con.execute(
            CONSENTS.insert().values(
                customer_id="1",
                channel="email",
                purpose="marketing",
                status="granted",
                source="test",
                ts=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
        raise RuntimeError("boom")
    with ops.read() as con:
        assert con.execute(sa.select(sa.func.count()).select_from(CONSENTS)).scalar_one() == 0


def test_constraints_hold_on_both_engines(ops: OpsStore) -> None:
    with pytest.raises(sa.exc.IntegrityError), ops.begin() as con:
        con.execute(
            SEND_LEDGER.insert().values(
                event_id="e1",
                customer_id="1",
                channel="email",
                type="teleported",
                ts=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )


def test_a_store_from_a_newer_livebase_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "ops.sqlite")
    OpsStore.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer livebase"):
        OpsStore.open(url)


def test_an_unwritable_folder_is_one_clear_message(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no folder"):
        OpsStore.open(sqlite_url(tmp_path / "missing" / "ops.sqlite"))


def test_a_password_in_ops_url_is_refused_with_the_key() -> None:
    with pytest.raises(ConfigError, match=r"ops\.url.*password_env"):
        parse_config("ops:\n  url: postgresql://crm:hunter2@db/livebase\n")


def _write_many(url: str, worker: int, count: int) -> None:
    store = OpsStore.open(url, migrate=False)
    for i in range(count):
        with store.begin() as con:
            con.execute(
                SEND_LEDGER.insert().values(
                    event_id=f"w{worker}-{i}",
                    customer_id=str(i),
                    channel="email",
                    type="opened",
                    ts=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
    store.close()


def test_concurrent_writers_on_sqlite_all_commit(tmp_path: Path) -> None:
    """Four processes writing small transactions at once: none fails with 'database is locked'."""
    url = sqlite_url(tmp_path / "ops.sqlite")
    OpsStore.open(url).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(url, w, 150)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    with OpsStore.open(url).read() as con:
        assert con.execute(sa.select(sa.func.count()).select_from(SEND_LEDGER)).scalar_one() == 600


def test_insert_ignore_counts_only_new_rows_on_both_engines(ops: OpsStore) -> None:
    from livebase.ops.writes import insert_ignore

    row = {"source": "x", "position": "1", "updated_at": datetime(2026, 1, 1, tzinfo=UTC)}
    with ops.begin() as con:
        assert insert_ignore(con, WATERMARKS, [row, row]) == 1
        assert insert_ignore(con, WATERMARKS, [row, {**row, "source": "y"}]) == 1
