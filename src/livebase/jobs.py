"""Batch jobs: the one way a command writes the analytics store.

A batch job (ingest, segment, clv, run's planning step…) takes the workspace job lock (a
second job waits and says for whom), opens both stores, and first brings in what the
operational store gained since the last job — the send ledger, journeys, assignments and
consents as DuckDB copies, the service's inbox as events and orders — so every SQL the job
runs sees it. The CLI and the service call :func:`batch_job`; nothing else opens the
analytics store for writing.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.workspace import init_workspace
>>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "shop")
>>> with batch_job(ws, command="livebase segment", now=datetime(2026, 6, 30, tzinfo=UTC)) as job:
...     job.store.fetch_value("SELECT count(*) FROM ops_send_ledger")
0
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from livebase.ingest.inbox import InboxReport, pull_inbox
from livebase.ops.bridges import OVERLAP, BridgeReport, pull_operational
from livebase.ops.store import OpsStore
from livebase.store import Store
from livebase.workspace import Workspace

if TYPE_CHECKING:
    from livebase.config import LivebaseConfig

__all__ = ["BatchJob", "batch_job", "bring_in", "worker_tick"]


@dataclass(frozen=True)
class BatchJob:
    """The open stores of a running batch job, and what the bridges brought in."""

    workspace: Workspace
    store: Store
    ops: OpsStore
    bridged: BridgeReport
    inbox: InboxReport


def bring_in(
    store: Store,
    ops: OpsStore,
    config: LivebaseConfig,
    *,
    now: datetime,
    overlap: timedelta = OVERLAP,
) -> tuple[BridgeReport, InboxReport]:
    """What every batch job does first: the operational tables (ledger, journeys, assignments,
    consents) and the service's inbox (as events and orders) into the analytics store.
    ``overlap``: how far before each watermark the pulls re-read (see ``pull_operational``)."""
    bridged = pull_operational(store, ops, timezone=config.timezone, now=now, overlap=overlap)
    inbox = pull_inbox(
        store,
        ops,
        timezone=config.timezone,
        ingest=config.ingest,
        currency=config.currency,
        now=now,
        overlap=overlap,
    )
    return bridged, inbox


@contextmanager
def batch_job(
    workspace: Workspace,
    *,
    command: str,
    now: datetime,
    wait_timeout: float | None = None,
    bridge: bool = True,
) -> Iterator[BatchJob]:
    """Run a batch job on ``workspace`` (see the module docstring); ``now`` is the job's clock."""
    store = workspace.open_store(command=command, wait_timeout=wait_timeout)
    try:
        ops = workspace.open_ops()
        try:
            if bridge:
                bridged, inbox = bring_in(store, ops, workspace.config, now=now)
            else:
                bridged, inbox = BridgeReport({}, 0.0), InboxReport(None, None)
            yield BatchJob(workspace, store, ops, bridged, inbox)
        finally:
            ops.close()
    finally:
        store.close()


def worker_tick(workspace: Workspace, now: datetime) -> object:
    """One planner tick as of ``now`` inside a batch job: what ``livebase worker`` runs every
    few minutes between sends (the same as ``livebase run --as-of NOW``)."""
    from livebase.orchestrate.workflows import run_workspace

    with batch_job(workspace, command="livebase worker (planner tick)", now=now) as job:
        return run_workspace(workspace, job.store, job.ops, now, now=now)
