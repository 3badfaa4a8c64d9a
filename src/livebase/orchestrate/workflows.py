"""What each ``livebase playbook …`` and ``livebase run`` command does, below the CLI.

Each runs inside a batch job (``livebase.jobs.batch_job``: the job lock, both stores open,
the operational state already bridged into the analytics store) and calls one computation.
``as_of`` and ``now`` are parameters: the CLI passes the wall clock, tests their own.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.jobs import batch_job
>>> from livebase.workspace import init_workspace
>>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "school", template="school")
>>> [item.playbook.name for item in check_workspace(ws)][:2]
['champions-early-access', 'free-lesson-sleepers']
>>> now = datetime(2026, 6, 30, 7, tzinfo=UTC)
>>> with batch_job(ws, command="livebase run", now=now) as job:
...     result = run_workspace(ws, job.store, job.ops, now, now=now)
>>> result.written.outbox
0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def _suppressions(ws: Workspace, store: Store, ops: OpsStore) -> None:
    load_suppressions(store, ops, timezone=ws.config.timezone, table="lb_pb_suppressions")


def run_workspace(
    ws: Workspace, store: Store, ops: OpsStore, as_of: datetime, *, now: datetime
) -> RunResult:
    """``livebase run``: one tick of every playbook as of ``as_of``."""
    playbooks = [item.playbook for item in check_workspace(ws)]
    return run_tick(store, ops, ws.config, playbooks, as_of, now=now, bridge=False)


def preview_workspace(
    ws: Workspace, store: Store, ops: OpsStore, name: str, as_of: datetime
) -> Preview:
    """``livebase playbook preview NAME``."""
    item = find_playbook(check_workspace(ws), name)
    _suppressions(ws, store, ops)
    return preview(store, ws.config, item.playbook, as_of)


def explain_workspace(
    ws: Workspace, store: Store, ops: OpsStore, name: str, customer_id: str, as_of: datetime
) -> Explanation:
    """``livebase playbook explain NAME CUSTOMER``."""
    item = find_playbook(check_workspace(ws), name)
    _suppressions(ws, store, ops)
    return explain(store, ws.config, item.playbook, customer_id, as_of)


def overlap_workspace(
    ws: Workspace, store: Store, ops: OpsStore, as_of: datetime
) -> list[dict[str, Any]]:
    """``livebase playbook overlap``."""
    playbooks = [item.playbook for item in check_workspace(ws)]
    return overlap(store, ws.config, playbooks, as_of)


def replay_workspace(
    ws: Workspace,
    store: Store,
    ops: OpsStore,
    names: Sequence[str] | None,
    start: date,
    end: date,
    *,
    at: time = time(10, 0),
    on_day: Callable[[date], None] | None = None,
) -> ReplayResult:
    """``livebase playbook replay NAME|--all``: every playbook competes, ``names`` reported."""
    loaded = check_workspace(ws)
    for name in names or []:
        find_playbook(loaded, name)
    playbooks = [item.playbook for item in loaded]
    _suppressions(ws, store, ops)
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
