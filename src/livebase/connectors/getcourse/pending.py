"""Exports asked for but not yet loaded: a sync that gave up waiting resumes them for free.

When GetCourse is slow to build an export, the sync fails ("not ready after …") without
loading anything. The export id is kept in the operational store (the ``watermarks`` row
``getcourse:pending``), so the next sync with the same filters polls that export again
instead of spending another request of the small quota. An entry older than ``max_age``
(GetCourse drops old exports) is not reused; a loaded export's entry is removed.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime, timedelta
>>> from livebase.ops.store import OpsStore, sqlite_url
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> t0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
>>> remember(ops, "deals", {"created_at[from]": "2026-11-16"}, "41", t0)
>>> resume(ops, "deals", {"created_at[from]": "2026-11-16"}, t0 + timedelta(minutes=30),
...        max_age=timedelta(hours=2))
'41'
>>> forget(ops, "deals", t0); resume(ops, "deals", {"created_at[from]": "2026-11-16"}, t0,
...        max_age=timedelta(hours=2)) is None
True
>>> ops.close()
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from livebase.ops.store import OpsStore
from livebase.ops.tables import WATERMARKS
from livebase.ops.writes import upsert

__all__ = ["PENDING_SOURCE", "forget", "remember", "resume"]

PENDING_SOURCE = "getcourse:pending"


def _read(con: sa.Connection) -> dict[str, Any]:
    detail = con.execute(
        sa.select(WATERMARKS.c.detail).where(WATERMARKS.c.source == PENDING_SOURCE)
    ).scalar_one_or_none()
    return dict(detail) if isinstance(detail, dict) else {}


def _write(con: sa.Connection, pending: dict[str, Any], now: datetime) -> None:
    row = {
        "source": PENDING_SOURCE,
        "position": str(len(pending)),
        "detail": pending,
        "updated_at": now,
    }
    upsert(con, WATERMARKS, [row], key=["source"])


def remember(
    ops: OpsStore, obj: str, filters: Mapping[str, str], export_id: str, now: datetime
) -> None:
    """Keep ``export_id`` as the pending export of ``obj`` with ``filters``."""
    with ops.begin() as con:
        pending = _read(con)
        pending[obj] = {"export_id": export_id, "filters": dict(filters), "at": now.isoformat()}
        _write(con, pending, now)


def resume(
    ops: OpsStore, obj: str, filters: Mapping[str, str], now: datetime, *, max_age: timedelta
) -> str | None:
    """The pending export id of ``obj`` asked for with the same ``filters``, if fresh."""
    with ops.read() as con:
        entry = _read(con).get(obj)
    if not isinstance(entry, dict) or entry.get("filters") != dict(filters):
        return None
    if datetime.fromisoformat(str(entry["at"])) < now - max_age:
        return None
    return str(entry["export_id"])


def forget(ops: OpsStore, obj: str, now: datetime) -> None:
    """Drop the pending export of ``obj`` (loaded, or refused by GetCourse)."""
    with ops.begin() as con:
        pending = _read(con)
        if obj in pending:
            del pending[obj]
            _write(con, pending, now)
