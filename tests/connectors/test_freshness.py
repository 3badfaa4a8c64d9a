"""Sync lag per source, from the watermarks a sync leaves."""

from __future__ import annotations

from datetime import timedelta

from livebase.connectors.freshness import sync_freshness
from livebase.connectors.getcourse.replay import ReplayServer
from livebase.connectors.getcourse.run import sync_getcourse
from livebase.workspace import Workspace

from .getcourse.conftest import NOW, Sleeps


def test_freshness_lists_each_synced_object_with_its_lag(
    workspace: Workspace, server: ReplayServer, sleeps: Sleeps
) -> None:
    with workspace.open_ops() as ops:
        assert sync_freshness(ops, NOW) == []
    sync_getcourse(workspace, now=NOW, sleep=sleeps)
    with workspace.open_ops() as ops:
        rows = sync_freshness(ops, NOW + timedelta(minutes=45))
    assert [r.source for r in rows] == ["getcourse:deals", "getcourse:users"]
    deals = rows[0]
    assert deals.last_sync == NOW and deals.lag_minutes == 45.0
    assert str(deals.newest_source_ts) == "2026-11-25 06:10:00+00:00"
