"""The export request budget: how many export requests livebase spent in the rolling window.

GetCourse allows an account about 100 export requests per 2 hours (reported, not documented)
and one export at a time. livebase keeps its own count in the operational store (the
``watermarks`` row ``getcourse:quota``: each request's time in ``detail``), so several syncs
from cron, the worker or a person share one budget, and a sync refuses up front, naming the
time the next one can run, instead of burning requests it cannot finish.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime, timedelta
>>> from livebase.ops.store import OpsStore, sqlite_url
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> budget = RequestBudget(limit=2, window=timedelta(hours=2))
>>> t0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
>>> budget.spend(ops, t0); budget.spend(ops, t0 + timedelta(minutes=5))
>>> budget.state(ops, t0 + timedelta(minutes=10)).remaining
0
>>> budget.state(ops, t0 + timedelta(minutes=10)).next_at
datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
>>> ops.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from livebase.errors import QuotaError
from livebase.ops.store import OpsStore
from livebase.ops.tables import WATERMARKS
from livebase.ops.writes import upsert

__all__ = ["QUOTA_SOURCE", "BudgetState", "RequestBudget"]

QUOTA_SOURCE = "getcourse:quota"


@dataclass(frozen=True)
class BudgetState:
    """Requests spent in the window, what is left, and when the next request is possible."""

    spent: int
    remaining: int
    next_at: datetime
    """``now`` when requests remain; else when the oldest request leaves the window (or when
    GetCourse's own block ends)."""
    blocked_until: datetime | None


@dataclass(frozen=True)
class RequestBudget:
    """``limit`` export requests per ``window`` (see the module docstring)."""

    limit: int
    window: timedelta
    source: str = QUOTA_SOURCE

    def _read(self, con: sa.Connection) -> tuple[list[datetime], datetime | None]:
        row = con.execute(
            sa.select(WATERMARKS.c.detail).where(WATERMARKS.c.source == self.source)
        ).scalar_one_or_none()
        detail: dict[str, Any] = row if isinstance(row, dict) else {}
        times = [datetime.fromisoformat(t) for t in detail.get("requests", [])]
        blocked = detail.get("blocked_until")
        return times, (datetime.fromisoformat(blocked) if blocked else None)

    def _write(
        self, con: sa.Connection, times: list[datetime], blocked: datetime | None, now: datetime
    ) -> None:
        detail = {
            "requests": [t.isoformat() for t in sorted(times)],
            "blocked_until": blocked.isoformat() if blocked else None,
            "limit": self.limit,
            "window_minutes": int(self.window.total_seconds() // 60),
        }
        upsert(
            con,
            WATERMARKS,
            [
                {
                    "source": self.source,
                    "position": str(len(times)),
                    "detail": detail,
                    "updated_at": now,
                }
            ],
            key=["source"],
        )

    def _state(
        self, times: list[datetime], blocked: datetime | None, now: datetime, needed: int = 1
    ) -> BudgetState:
        live = sorted(t for t in times if t > now - self.window)
        remaining = max(self.limit - len(live), 0)
        if blocked is not None and blocked <= now:
            blocked = None
        # the time ``needed`` requests are free: enough of the oldest have left the window
        leave = len(live) - self.limit + needed
        next_at = now if leave <= 0 else live[min(leave, len(live)) - 1] + self.window
        if blocked is not None:
            next_at = max(next_at, blocked)
            remaining = 0
        return BudgetState(len(live), remaining, next_at, blocked)

    def state(self, ops: OpsStore, now: datetime, needed: int = 1) -> BudgetState:
        """The budget as of ``now``; ``next_at`` is when ``needed`` requests are free."""
        with ops.read() as con:
            times, blocked = self._read(con)
        return self._state(times, blocked, now, needed)

    def require(self, ops: OpsStore, now: datetime, needed: int, *, what: str) -> None:
        """Raise :class:`QuotaError` unless ``needed`` requests are left."""
        state = self.state(ops, now, needed)
        if state.remaining >= needed:
            return
        raise QuotaError(_spent_message(state, self, needed, what), retry_at=state.next_at)

    def spend(self, ops: OpsStore, now: datetime) -> None:
        """Record one export request at ``now`` (before sending it: a request that times out
        may still have counted at GetCourse). Raises :class:`QuotaError` when none is left."""
        with ops.begin() as con:
            times, blocked = self._read(con)
            state = self._state(times, blocked, now)
            if state.remaining < 1:
                raise QuotaError(
                    _spent_message(state, self, 1, "export request"), retry_at=state.next_at
                )
            live = [t for t in times if t > now - self.window]
            self._write(con, [*live, now], state.blocked_until, now)

    def block(self, ops: OpsStore, now: datetime) -> datetime:
        """GetCourse said its quota is spent: no request before a full window has passed.
        Returns the time the next request is possible."""
        until = now + self.window
        with ops.begin() as con:
            times, _blocked = self._read(con)
            self._write(con, [t for t in times if t > now - self.window], until, now)
        return until


def _spent_message(state: BudgetState, budget: RequestBudget, needed: int, what: str) -> str:
    window = int(budget.window.total_seconds() // 60)
    when = state.next_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    if state.blocked_until is not None:
        head = "GetCourse's export quota is spent (GetCourse refused the last request)"
    else:
        head = (
            f"the GetCourse export quota is spent: {state.spent} of {budget.limit} export "
            f"requests used in the last {window} minutes, {what} needs {needed}"
        )
    return (
        f"{head}; next sync possible at {when}. Nothing was loaded. (The budget is "
        "sync.getcourse.request_budget per budget_window_minutes.)"
    )
