"""What the dashboard reads: the published snapshot of the last batch job (a JSON file, so
DuckDB's lock is never held by the service) and live rows of the operational store
(playbook controls, planned sends, inbox lag, status latency); and the one thing it writes,
a playbook's pause or resume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from livebase.ops.store import OpsStore
from livebase.ops.tables import (
    CUSTOMER_STATUS,
    INBOX,
    OUTBOX,
    PLAYBOOK_CONTROLS,
    WATERMARKS,
)
from livebase.ops.writes import upsert

__all__ = [
    "Freshness",
    "controls",
    "freshness",
    "planned_next_days",
    "read_snapshot",
    "set_paused",
]

SNAPSHOT = Path(".livebase") / "dashboard.json"
"""Where batch jobs publish the dashboard's data (see ``livebase.report.snapshot``)."""


def read_snapshot(root: Path) -> dict[str, Any] | None:
    """The published results of the last batch job, or None before the first."""
    path = root / SNAPSHOT
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def controls(ops: OpsStore) -> dict[str, dict[str, Any]]:
    """Playbook → {paused, updated_by, updated_at}."""
    with ops.engine.connect() as con:
        rows = con.execute(sa.select(PLAYBOOK_CONTROLS)).all()
    return {
        r.playbook: {"paused": bool(r.paused), "by": r.updated_by, "at": r.updated_at} for r in rows
    }


def set_paused(ops: OpsStore, playbook: str, paused: bool, *, by: str, now: datetime) -> None:
    """Pause (or resume) ``playbook``: the planner admits nobody and plans no step while paused."""
    with ops.begin() as con:
        upsert(
            con,
            PLAYBOOK_CONTROLS,
            [{"playbook": playbook, "paused": paused, "updated_by": by, "updated_at": now}],
            key=["playbook"],
        )


def planned_next_days(ops: OpsStore, now: datetime, days: int = 7) -> list[dict[str, Any]]:
    """Queued sends due in the next ``days`` days, per day and channel."""
    end = now + timedelta(days=days)
    with ops.engine.connect() as con:
        rows = con.execute(
            sa.select(OUTBOX.c.due_at, OUTBOX.c.channel, OUTBOX.c.playbook).where(
                OUTBOX.c.status.in_(("queued", "retry")),
                OUTBOX.c.due_at < end,
            )
        ).all()
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        day = max(r.due_at, now).date().isoformat()
        counts[(day, r.channel)] = counts.get((day, r.channel), 0) + 1
    start = now.date()
    out = []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        for ch in sorted({c for _, c in counts}) or ["all"]:
            out.append({"day": day, "channel": ch, "messages": counts.get((day, ch), 0)})
    return out


@dataclass(frozen=True)
class Freshness:
    """How current the data behind the pages is."""

    inbox_waiting: int
    inbox_oldest: datetime | None
    inbox_lag_seconds: float | None
    status_updated: datetime | None
    status_latency_seconds: float | None
    bridged_until: datetime | None


def freshness(ops: OpsStore, now: datetime) -> Freshness:
    """Inbox rows not yet bridged into the analytics store, and live status latency."""
    with ops.engine.connect() as con:
        mark = con.execute(
            sa.select(WATERMARKS.c.source_ts).where(WATERMARKS.c.source == "inbox")
        ).scalar()
        q = sa.select(sa.func.count(), sa.func.min(INBOX.c.received_at))
        if mark is not None:
            q = q.where(INBOX.c.received_at > mark)
        waiting, oldest = con.execute(q).one()
        status = con.execute(sa.select(sa.func.max(CUSTOMER_STATUS.c.updated_at))).scalar()

    def age(ts: datetime | None) -> float | None:
        if ts is None:
            return None
        if ts.tzinfo is None and now.tzinfo is not None:
            ts = ts.replace(tzinfo=now.tzinfo)
        return max((now - ts).total_seconds(), 0.0)

    return Freshness(int(waiting or 0), oldest, age(oldest), status, age(status), mark)
