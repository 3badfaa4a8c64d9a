"""Fixtures of the service tests: a workspace, its app on SQLite and PostgreSQL, keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from livebase.ops.keys import create_key
from livebase.workspace import Workspace, init_workspace

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@dataclass
class Service:
    client: Any
    workspace: Workspace
    ops: Any
    keys: dict[str, str]

    def auth(self, scope: str = "events:write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return init_workspace(tmp_path / "shop")


@pytest.fixture
def service(workspace: Workspace, ops_store: Any) -> Iterator[Service]:
    """The app on a fresh operational store (SQLite and PostgreSQL), one key per scope."""
    from fastapi.testclient import TestClient

    from livebase.web.app import create_app

    keys = {
        scope: create_key(ops_store, f"test-{scope}", [scope], now=NOW).token
        for scope in ("events:write", "hooks", "customers:read", "dashboard")
    }
    app = create_app(workspace, ops=ops_store, now=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(client, workspace, ops_store, keys)
