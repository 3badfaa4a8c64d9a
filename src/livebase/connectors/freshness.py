"""How fresh each synced source is: last successful sync, newest source timestamp, lag.

One row per watermark of a connector or bridge (``getcourse:deals``, ``bridge:send_ledger``
…). ``lag`` is ``now`` minus the last successful sync: how stale the store may be for that
source. (Against the common 30-minute SLA for a customer's status after a purchase: the
webhook path lags by seconds; the sync by its cron interval.)

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.ops.store import OpsStore, sqlite_url
>>> from livebase.ops.tables import WATERMARKS
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> with ops.begin() as con:
...     _ = con.execute(WATERMARKS.insert().values(source="getcourse:deals",
...         position="2026-11-30", source_ts=datetime(2026, 11, 30, 9, 40, tzinfo=UTC),
...         updated_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC)))
>>> [row.as_dict() for row in sync_freshness(ops, datetime(2026, 11, 30, 10, 30, tzinfo=UTC))]
... # doctest: +NORMALIZE_WHITESPACE
[{'source': 'getcourse:deals', 'last_sync': '2026-11-30T10:00:00+00:00',
  'newest_source_ts': '2026-11-30T09:40:00+00:00', 'lag_minutes': 30.0}]
>>> ops.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from livebase.connectors.getcourse.budget import QUOTA_SOURCE
from livebase.connectors.getcourse.pending import PENDING_SOURCE
from livebase.ops.store import OpsStore
from livebase.ops.tables import WATERMARKS

__all__ = ["Freshness", "sync_freshness"]


@dataclass(frozen=True)
class Freshness:
    """One source's freshness as of ``now``."""

    source: str
    last_sync: datetime
    newest_source_ts: datetime | None
    lag_minutes: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "last_sync": self.last_sync.isoformat(),
            "newest_source_ts": None
            if self.newest_source_ts is None
            else self.newest_source_ts.isoformat(),
            "lag_minutes": self.lag_minutes,
        }


def sync_freshness(ops: OpsStore, now: datetime) -> list[Freshness]:
    """Every synced source's freshness as of ``now`` (timezone-aware), sorted by source."""
    with ops.read() as con:
        rows = con.execute(
            sa.select(WATERMARKS.c.source, WATERMARKS.c.updated_at, WATERMARKS.c.source_ts)
            .where(WATERMARKS.c.source.not_in([QUOTA_SOURCE, PENDING_SOURCE]))
            .order_by(WATERMARKS.c.source)
        ).all()
    return [
        Freshness(
            str(source),
            updated_at,
            source_ts,
            round((now - updated_at).total_seconds() / 60, 1),
        )
        for source, updated_at, source_ts in rows
    ]
