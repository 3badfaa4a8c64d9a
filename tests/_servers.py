"""Real servers the tests start on loopback: a throw-away PostgreSQL.

The server is Debian's ``postgresql`` package (installed by ``.ci/system-deps``), run as the
``postgres`` user on a free loopback port in a temporary folder, once per test session, and
stopped afterwards. Each test that needs a database takes ``postgres_url`` and gets a fresh one.
Without PostgreSQL the tests skip with the reason; under CI (``CI=true``) they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; under CI the PostgreSQL tests must run")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@dataclass(frozen=True)
class PostgresServer:
    port: int

    @property
    def dsn(self) -> str:
        """libpq connection string of the ``postgres`` database."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"lb_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server for the whole session."""
    pytest.importorskip("psycopg")
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        _unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = found[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="livebase-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
        check=True,
        capture_output=True,
    )
    port = free_port()
    subprocess.run(
        _as_postgres(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -k {folder} -h 127.0.0.1 -F -c max_connections=200",
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield PostgresServer(port)
    finally:
        subprocess.run(
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL of a fresh, empty database on the session's server."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh, migrated operational store, once on SQLite and once on PostgreSQL."""
    from livebase.ops import OpsStore, sqlite_url

    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "ops.sqlite")
    else:
        url = request.getfixturevalue("postgres_server").create_database()
    store = OpsStore.open(url)
    yield store
    store.close()
