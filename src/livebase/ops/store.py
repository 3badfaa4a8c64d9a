"""Opening the operational store: SQLite (WAL) in the workspace or PostgreSQL, migrated by Alembic.

Short transactions from many processes at once: the service, the worker, the planner's write
step and the CLI. On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (the
writer takes the lock up front and others wait up to ``busy_timeout``, instead of failing at
commit); reads use deferred transactions and never block under WAL. On PostgreSQL the same
statements run; claims use ``FOR UPDATE SKIP LOCKED`` (see :attr:`OpsStore.skip_locked`).

>>> import tempfile, pathlib
>>> from livebase.ops.tables import WATERMARKS
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> with ops.begin() as con:
...     _ = con.execute(WATERMARKS.insert().values(
...         source="demo", position="1", updated_at=datetime(2026, 6, 30, tzinfo=UTC)))
>>> with ops.read() as con:
...     con.execute(sa.select(WATERMARKS.c.position)).scalar_one()
'1'
>>> ops.close()
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from livebase.errors import StoreError
from livebase.ops.settings import OpsSettings

__all__ = ["OPS_FILE", "OpsStore", "ops_url", "sqlite_url"]

OPS_FILE = "ops.sqlite"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_READ_OPTION = "livebase_read_only"
_PG_MIGRATION_LOCK = 7_141_592_653


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite+pysqlite:///{path}"


def ops_url(root: Path, settings: OpsSettings) -> str:
    """The URL of a workspace's operational store: ``ops.url``, or ``ops.sqlite`` in ``root``."""
    if settings.url is None:
        return sqlite_url(root / OPS_FILE)
    return settings.url


def _engine_url(url: str, password: str | None) -> sa.URL:
    parsed = sa.make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    if password is not None:
        parsed = parsed.set(password=password)
    return parsed


def _sqlite_listeners(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_con: Any, _record: Any) -> None:
        dbapi_con.isolation_level = None  # we issue BEGIN ourselves (see below)
        cursor = dbapi_con.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(con: Connection) -> None:
        read_only = con.get_execution_options().get(_READ_OPTION, False)
        con.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class OpsStore:
    """The operational store of a workspace (see the module docstring)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(
        cls,
        url: str,
        *,
        password: str | None = None,
        busy_timeout_ms: int = 30_000,
        migrate: bool = True,
    ) -> OpsStore:
        """Connect to ``url`` (SQLite file or PostgreSQL) and apply pending migrations."""
        engine_url = _engine_url(url, password)
        if engine_url.get_backend_name() == "sqlite":
            database = engine_url.database or ""
            if database and database != ":memory:":
                folder = Path(database).parent
                if not folder.exists():
                    raise StoreError(f"cannot create the operational store: no folder {folder}")
                if not os.access(folder, os.W_OK):
                    raise StoreError(
                        f"cannot write the operational store {database}: the folder {folder} "
                        "is not writable by this user"
                    )
            engine = sa.create_engine(engine_url, poolclass=sa.pool.NullPool)
            _sqlite_listeners(engine, busy_timeout_ms)
        elif engine_url.get_backend_name() == "postgresql":
            engine = sa.create_engine(engine_url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        else:
            raise StoreError(f"unsupported operational store '{url}': use SQLite or PostgreSQL")
        store = cls(engine, url)
        if migrate:
            store.migrate()
        return store

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def skip_locked(self) -> bool:
        """Whether ``SELECT … FOR UPDATE SKIP LOCKED`` is available (PostgreSQL)."""
        return self.dialect == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction: everything inside commits together or not at all."""
        try:
            with self.engine.begin() as con:
                yield con
        except sa.exc.OperationalError as exc:
            raise _store_error(self.url, exc) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (never blocks writers on SQLite/WAL or PostgreSQL)."""
        try:
            options = {_READ_OPTION: True}
            with self.engine.connect().execution_options(**options) as con, con.begin():
                yield con
        except sa.exc.OperationalError as exc:
            raise _store_error(self.url, exc) from exc

    def migrate(self) -> list[str]:
        """Apply the Alembic revisions not yet applied; returns the revisions now current."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        script = ScriptDirectory.from_config(config)
        heads = set(script.get_heads())
        with self.begin() as con:
            if self.dialect == "postgresql":
                con.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            current = set(MigrationContext.configure(con).get_current_heads())
            known = {rev.revision for rev in script.walk_revisions()}
            unknown = current - known
            if unknown:
                raise StoreError(
                    f"the operational store {self.url} was written by a newer livebase "
                    f"(revision {', '.join(sorted(unknown))}): upgrade livebase"
                )
            if current != heads:
                config.attributes["connection"] = con
                command.upgrade(config, "heads")
        return sorted(heads)

    def schema_revisions(self) -> list[str]:
        """The Alembic revisions the store is at."""
        from alembic.runtime.migration import MigrationContext

        with self.read() as con:
            return sorted(MigrationContext.configure(con).get_current_heads())

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> OpsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _store_error(url: str, exc: sa.exc.OperationalError) -> StoreError:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    if "locked" in text.lower():
        return StoreError(
            f"the operational store {url} stayed locked by another livebase process longer "
            f"than its busy timeout ({text}); try again, or raise ops.busy_timeout_ms"
        )
    if "readonly" in text.lower() or "read-only" in text.lower():
        return StoreError(f"the operational store {url} is read-only for this user ({text})")
    return StoreError(f"the operational store {url} failed: {text}")


def now_utc() -> datetime:
    """The wall clock in UTC, for the edges that record when something happened."""
    return datetime.now(UTC)
