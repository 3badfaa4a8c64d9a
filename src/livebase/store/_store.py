"""The DuckDB store of a workspace: opening, numbered migrations, transactions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from livebase.errors import StoreError
from livebase.i18n import _l

OFFLINE: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
"""Nothing reaches the network at run time: no extension is downloaded or loaded implicitly.
DuckDB's own progress bar is off too: it writes to stdout, into JSON meant for machines
(livebase draws its own progress on stderr)."""
_LOCK_HOLDER = re.compile(r"held in (.+?) \(PID (\d+)\)")

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
        self.on_close: list[Callable[[], None]] = []
        """Called after the connection closes (the workspace lock's release)."""

    @classmethod
    def open(cls, path: Path, *, create: bool = False, read_only: bool = False) -> Store:
        """Open (and with ``create``, create) the store at ``path`` and apply pending migrations."""
        if not create and not path.exists():
            raise StoreError(
                _l(
                    "no store at {path}: run 'livebase init' to create the workspace's store",
                    path=path,
                )
            )
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=OFFLINE)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                holder = _LOCK_HOLDER.search(str(exc))
                who = f" ({holder.group(1)}, pid {holder.group(2)})" if holder else ""
                raise StoreError(
                    _l(
                        "the store {path} is open in another program{who} that does not take "
                        "livebase's workspace lock (a DuckDB shell, a notebook, a BI tool): close "
                        "it there, or open it read-only, and try again",
                        path=path,
                        who=who,
                    )
                ) from exc
            raise StoreError(f"cannot open the store {path}: {exc}") from exc
        con.execute("SET enable_progress_bar = false")
        store = cls(con, path)
        if not read_only:
            store.migrate()
        return store

    @classmethod
    def in_memory(cls) -> Store:
        """A migrated store in memory, for tests and one-off computations."""
        con = duckdb.connect(":memory:", config=OFFLINE)
        con.execute("SET enable_progress_bar = false")
        store = cls(con, None)
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

    @contextmanager
    def settings(self, wanted: Mapping[str, str]) -> Iterator[None]:
        """DuckDB settings (name → value) for the block, the earlier values restored
        afterwards, errors included.

        >>> store = Store.in_memory()
        >>> _ = store.con.execute("SET threads = 2")
        >>> with store.settings({"threads": "1"}):
        ...     store.fetch_value("SELECT current_setting('threads')")
        1
        >>> store.fetch_value("SELECT current_setting('threads')")
        2
        """
        before = {k: str(self.fetch_value(f"SELECT current_setting('{k}')")) for k in wanted}
        for key, value in wanted.items():
            self.con.execute(f"SET {key} = '{value}'")
        try:
            yield
        finally:
            for key, value in before.items():
                self.con.execute(f"SET {key} = '{value}'")

    def fetch_value(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.con.execute(sql, params or []).fetchall()  # fetched whole: no open result
        return rows[0][0] if rows else None

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            callbacks, self.on_close = self.on_close, []
            for callback in callbacks:
                callback()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
