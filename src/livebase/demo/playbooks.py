"""The demo school acts: synthetic marketing consents, then one planner tick.

A GetCourse export carries no consent evidence, so the demo grants consents the way a school's
sign-up form would (seeded: most students agreed to e-mail and push, fewer to SMS), recorded
with source ``demo`` in the operational store, and runs ``livebase run`` once as of the
export day at 10:00 local time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from livebase.ops.tables import CONSENTS
from livebase.orchestrate.run import RunResult, load_workspace_playbooks, run_tick
from livebase.store import Store
from livebase.workspace import Workspace

__all__ = ["CONSENT_SHARES", "demo_tick", "seed_consents"]

CONSENT_SHARES = {"email": 0.85, "push": 0.9, "sms": 0.6, "tasks": 1.0}
"""Share of demo students who granted marketing consent per channel."""


def seed_consents(ws: Workspace, store: Store, *, seed: int, as_of: datetime) -> int:
    """Grant demo consents per channel (seeded); returns how many rows were written."""
    ids = [str(r[0]) for r in store.con.execute("SELECT customer_id FROM customers").fetchall()]
    rng = np.random.default_rng(seed)
    ts = as_of - timedelta(days=365)
    rows = []
    for channel, share in CONSENT_SHARES.items():
        granted = rng.random(len(ids)) < share
        rows += [
            {"customer_id": c, "channel": channel, "purpose": "marketing", "status": "granted",
             "source": "demo", "text_version": "demo-1", "ts": ts}
            for c, ok in zip(ids, granted, strict=True) if ok
        ]  # fmt: skip
    with ws.open_ops() as ops, ops.begin() as con:
        if rows:
            con.execute(CONSENTS.insert(), rows)
    return len(rows)


def demo_tick(ws: Workspace, store: Store, *, seed: int, day: datetime) -> RunResult:
    """Seed consents and run one tick as of ``day`` at 10:00 in the workspace's zone."""
    zone = ZoneInfo(ws.config.timezone)
    as_of = datetime.combine(day.date(), time(10), tzinfo=zone)
    seed_consents(ws, store, seed=seed, as_of=as_of)
    playbooks = load_workspace_playbooks(ws.root, ws.config)
    with ws.open_ops() as ops:
        return run_tick(store, ops, ws.config, playbooks, as_of, now=as_of)
