"""The DuckDB store of a workspace: opening, numbered migrations, transactions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from livebase.errors import StoreError

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """The packaged migrations as (number, file name, SQL), in order.

    >>> migrations()[0][:2]
    (1, '001_core.sql')
    """
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("livebase.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise StoreError(f"two migrations share a number: {[name for _, name, _ in found]}")
    return found


class Store:
    """A connection to a workspace's DuckDB file, migrated to the current schema.

    >>> import tempfile, pathlib
    >>> with Store.open(pathlib.Path(tempfile.mkdtemp()) / "s.duckdb", create=True) as store:
    ...     store.fetch_value("SELECT count(*) FROM orders")
    0
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool = False, read_only: bool = False) -> Store:
        """Open (and with ``create``, create) the store at ``path`` and apply pending migrations."""
        if not create and not path.exists():
            raise StoreError(
                f"no store at {path}: run 'livebase init' to create the workspace's store"
            )
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreError(
                    f"the store {path} is in use by another livebase process that writes to it "
                    "(for example a running import or 'livebase serve'); wait for it to finish "
                    "and try again"
                ) from exc
            raise StoreError(f"cannot open the store {path}: {exc}") from exc
        store = cls(con, path)
        if not read_only:
            store.migrate()
        return store

    @classmethod
    def in_memory(cls) -> Store:
        """A migrated store in memory, for tests and one-off computations."""
        store = cls(duckdb.connect(":memory:"), None)
        store.migrate()
        return store

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; returns their file names."""
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        applied = {
            row[0] for row in self.con.execute("SELECT version FROM schema_version").fetchall()
        }
        known = migrations()
        newest = max((n for n, _, _ in known), default=0)
        if applied and max(applied) > newest:
            raise StoreError(
                f"the store {self.path} was written by a newer livebase (schema {max(applied)}, "
                f"this one knows up to {newest}): upgrade livebase"
            )
        done: list[str] = []
        for number, name, sql in known:
            if number in applied:
                continue
            with self.transaction():
                self.con.execute(sql)
                self.con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)", [number, name, datetime.now()]
                )
            done.append(name)
        return done

    @property
    def schema_version(self) -> int:
        value = self.fetch_value("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(value)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All statements inside commit together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def fetch_value(self, sql: str, params: list[Any] | None = None) -> Any:
        row = self.con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
