"""Fixtures: a replay of GetCourse's API on loopback, and a workspace synced against it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from livebase.connectors.getcourse.replay import ReplayServer
from livebase.workspace import Workspace, init_workspace

from ._data import DEAL_FIELDS, DEALS, KEY, PAYMENT_FIELDS, PAYMENTS, USER_FIELDS, USERS

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Sleeps:
    """A sleep that only records: tests see the backoff without waiting for it."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(api_key=KEY) as replay:
        replay.add_export("deals", DEAL_FIELDS, DEALS)
        replay.add_export("users", USER_FIELDS, USERS)
        replay.add_export("payments", PAYMENT_FIELDS, PAYMENTS)
        yield replay


def make_workspace(folder: Path, url: str, extra: str = "", key: str = KEY) -> Workspace:
    """A school workspace whose sync.getcourse points at ``url``, the key in its secrets."""
    ws = init_workspace(folder, template="school")
    text = ws.config_path.read_text(encoding="utf-8")
    text += (
        "\nsync:\n  getcourse:\n"
        f"    base_url: {url}\n"
        "    poll_interval_seconds: 5\n"
        "    max_wait_seconds: 60\n"
        "    timeout_seconds: 5\n" + extra
    )
    ws.config_path.write_text(text, encoding="utf-8")
    ws = Workspace.load(folder)
    ws.secrets().with_values(LIVEBASE_GETCOURSE_KEY=key)
    return ws


@pytest.fixture
def workspace(tmp_path: Path, server: ReplayServer) -> Workspace:
    return make_workspace(tmp_path / "school", server.url)
