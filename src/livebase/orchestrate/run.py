"""``livebase run``: one live tick — bridge the operational state in, plan, write it back.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.workspace import init_workspace
>>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "school", template="school")
>>> with ws.open_store() as store, ws.open_ops() as ops:
...     result = run_tick(store, ops, ws.config, load_workspace_playbooks(ws.root),
...                       datetime(2026, 6, 30, 10, tzinfo=UTC), now=datetime(2026, 6, 30, 10, tzinfo=UTC))
>>> sorted(result.plan.counts)[:2]
['champions-early-access', 'free-lesson-sleepers']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from livebase.config import LivebaseConfig
from livebase.ops.store import OpsStore
from livebase.ops.tables import PLAYBOOK_CONTROLS
from livebase.orchestrate.loading import PLAYBOOKS_DIR, check_playbooks, load_playbooks
from livebase.orchestrate.planner import STATE_DDL, StateTables, TickPlan, plan_tick
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.sink import WriteReport, write_plan
from livebase.store import Store

__all__ = [
    "RunResult",
    "load_suppressions",
    "load_workspace_playbooks",
    "paused_playbooks",
    "run_tick",
]


@dataclass(frozen=True)
class RunResult:
    """The plan of a live tick and what it added to the operational store."""

    plan: TickPlan
    written: WriteReport


def load_workspace_playbooks(root: Path, config: LivebaseConfig | None = None) -> list[Playbook]:
    """The playbooks of a workspace's ``playbooks/`` folder, checked against its config."""
    loaded = load_playbooks(root / PLAYBOOKS_DIR)
    if config is not None:
        check_playbooks(config, loaded)
    return [item.playbook for item in loaded]


def paused_playbooks(ops: OpsStore) -> list[str]:
    """Playbooks paused from the dashboard or the CLI."""
    with ops.read() as con:
        rows = con.execute(
            sa.select(PLAYBOOK_CONTROLS.c.playbook).where(PLAYBOOK_CONTROLS.c.paused)
        ).all()
    return sorted(str(r[0]) for r in rows)


def load_suppressions(store: Store, ops: OpsStore, *, timezone: str, table: str) -> int:
    """Copy the suppression list (hashed addresses) into the DuckDB temp ``table``."""
    from livebase.ops.bridges import read_arrow

    batch = read_arrow(
        ops, "SELECT address_hash, channel, customer_id, reason, expires_at FROM suppressions"
    )
    con = store.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} {STATE_DDL['suppressions']}")
    if batch.num_rows:
        zone = timezone.replace("'", "''")
        con.register("lb_pb_supp", batch)
        try:
            con.execute(
                f"INSERT INTO {table} SELECT address_hash, channel, customer_id, reason, "
                f"CASE WHEN expires_at IS NULL THEN NULL ELSE timezone('{zone}', "
                "CAST(CAST(expires_at AS VARCHAR) AS TIMESTAMP) AT TIME ZONE 'UTC') END "
                "FROM lb_pb_supp"
            )
        finally:
            con.unregister("lb_pb_supp")
    return int(batch.num_rows)


def run_tick(
    store: Store,
    ops: OpsStore,
    config: LivebaseConfig,
    playbooks: list[Playbook],
    as_of: datetime,
    *,
    now: datetime,
    bridge: bool = True,
) -> RunResult:
    """Bridge the operational state into DuckDB (unless a batch job did already: ``bridge``
    false), plan the tick as of ``as_of`` and write it to the operational store in one
    transaction. ``now`` stamps watermarks and rows."""
    from livebase.ops.bridges import pull_operational

    if bridge:
        pull_operational(store, ops, timezone=config.timezone, now=now)
    state = StateTables()
    load_suppressions(store, ops, timezone=config.timezone, table=state.suppressions)
    plan = plan_tick(store, config, playbooks, as_of, state=state, paused=paused_playbooks(ops))
    written = write_plan(ops, plan, timezone=config.timezone, now=now)
    return RunResult(plan, written)
