"""What each ``livebase playbook …`` and ``livebase run`` command does, below the CLI.

Each opens the workspace's stores, brings the operational state into the analytics store
(the bridge every batch job starts with), and calls one computation. ``as_of`` and ``now``
are parameters: the CLI passes the wall clock, tests and the service pass their own.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.workspace import init_workspace
>>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "school", template="school")
>>> [item.playbook.name for item in check_workspace(ws)][:2]
['champions-early-access', 'free-lesson-sleepers']
>>> result = run_workspace(ws, datetime(2026, 6, 30, 7, tzinfo=UTC), now=datetime.now(UTC))
>>> result.written.outbox
0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from livebase.orchestrate.inspect import Explanation, Preview, explain, overlap, preview
from livebase.orchestrate.loading import (
    PLAYBOOKS_DIR,
    LoadedPlaybook,
    check_playbooks,
    find_playbook,
    load_playbooks,
)
from livebase.orchestrate.replay import ReplayResult, replay
from livebase.orchestrate.run import RunResult, load_suppressions, run_tick

if TYPE_CHECKING:
    from collections.abc import Iterator

    from livebase.ops.store import OpsStore
    from livebase.store import Store
    from livebase.workspace import Workspace

__all__ = [
    "check_workspace",
    "explain_workspace",
    "overlap_workspace",
    "preview_workspace",
    "replay_workspace",
    "run_workspace",
]


def check_workspace(ws: Workspace) -> list[LoadedPlaybook]:
    """Load and check every playbook of the workspace and its policy; PlaybookError otherwise."""
    loaded = load_playbooks(ws.root / PLAYBOOKS_DIR)
    check_playbooks(ws.config, loaded)
    return loaded


@contextmanager
def _stores(ws: Workspace, now: datetime) -> Iterator[tuple[Store, OpsStore]]:
    from livebase.ops.bridges import pull_operational

    with ws.open_store() as store, ws.open_ops() as ops:
        pull_operational(store, ops, timezone=ws.config.timezone, now=now)
        load_suppressions(store, ops, timezone=ws.config.timezone, table="lb_pb_suppressions")
        yield store, ops


def run_workspace(ws: Workspace, as_of: datetime, *, now: datetime) -> RunResult:
    """``livebase run``: one tick of every playbook as of ``as_of``."""
    playbooks = [item.playbook for item in check_workspace(ws)]
    with ws.open_store() as store, ws.open_ops() as ops:
        return run_tick(store, ops, ws.config, playbooks, as_of, now=now)


def preview_workspace(ws: Workspace, name: str, as_of: datetime, *, now: datetime) -> Preview:
    """``livebase playbook preview NAME``."""
    item = find_playbook(check_workspace(ws), name)
    with _stores(ws, now) as (store, _):
        return preview(store, ws.config, item.playbook, as_of)


def explain_workspace(
    ws: Workspace, name: str, customer_id: str, as_of: datetime, *, now: datetime
) -> Explanation:
    """``livebase playbook explain NAME CUSTOMER``."""
    item = find_playbook(check_workspace(ws), name)
    with _stores(ws, now) as (store, _):
        return explain(store, ws.config, item.playbook, customer_id, as_of)


def overlap_workspace(ws: Workspace, as_of: datetime, *, now: datetime) -> list[dict[str, Any]]:
    """``livebase playbook overlap``."""
    playbooks = [item.playbook for item in check_workspace(ws)]
    with _stores(ws, now) as (store, _):
        return overlap(store, ws.config, playbooks, as_of)


def replay_workspace(
    ws: Workspace,
    names: Sequence[str] | None,
    start: date,
    end: date,
    *,
    now: datetime,
    at: time = time(10, 0),
    on_day: Callable[[date], None] | None = None,
) -> ReplayResult:
    """``livebase playbook replay NAME|--all``: every playbook competes, ``names`` reported."""
    loaded = check_workspace(ws)
    for name in names or []:
        find_playbook(loaded, name)
    playbooks = [item.playbook for item in loaded]
    with _stores(ws, now) as (store, _):
        return replay(
            store,
            ws.config,
            playbooks,
            start,
            end,
            at=at,
            report=names,
            suppressions="lb_pb_suppressions",
            on_day=on_day,
        )
