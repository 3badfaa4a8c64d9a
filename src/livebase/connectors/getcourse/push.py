"""Pushing customers into a GetCourse group through the user import API.

Each customer is one ``add`` call (by e-mail, ``group_name``, ``refresh_if_exists``), at most
``push_rate_per_second`` calls a second, in batches after each of which the send ledger
commits: every push is a ``sent`` (or ``failed`` / ``skipped``) event on the channel
``getcourse_group`` with the stable id ``sync:getcourse_group:{group}:{customer_id}:{date}``,
so a second push of the same day adds nobody twice and a push cut short resumes.

Removal: GetCourse's API has no documented call to take a user out of a group. livebase
therefore also adds each run's members to a dated group, ``{group} {YYYY-MM-DD}``: the dated
group of the latest run is exactly the segment on that day, so the school's mailings and
processes target it (or the undated group, which only grows). Old dated groups are deleted
by hand in GetCourse when no longer needed. ``sync.getcourse.dated_groups: false`` turns the
dated groups off.

>>> ledger_event_id("lb: At Risk", "501", date(2026, 11, 30))
'sync:getcourse_group:lb: At Risk:501:2026-11-30'
>>> groups_for("lb: At Risk", date(2026, 11, 30), dated=True)
('lb: At Risk', 'lb: At Risk 2026-11-30')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from livebase.connectors.getcourse.client import GetCourseClient
from livebase.errors import SyncError, did_you_mean
from livebase.ops.store import OpsStore
from livebase.ops.tables import CUSTOMER_STATUS, SEND_LEDGER
from livebase.ops.writes import insert_ignore

__all__ = [
    "CHANNEL",
    "Member",
    "PushReport",
    "groups_for",
    "ledger_event_id",
    "push_members",
    "segment_members",
]

CHANNEL = "getcourse_group"

SleepFn = Callable[[float], None]


@dataclass(frozen=True)
class Member:
    """One customer to add to a group."""

    customer_id: str
    email: str | None
    first_name: str | None = None


@dataclass(frozen=True)
class PushReport:
    """What a push did; ``failed`` lists (customer id, GetCourse's message)."""

    group: str
    groups: tuple[str, ...]
    members: int
    pushed: int
    already: int
    skipped: int
    failed: tuple[tuple[str, str], ...]
    requests: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "failed": [list(f) for f in self.failed]}


def ledger_event_id(group: str, customer_id: str, run_date: date) -> str:
    """The send-ledger id of adding ``customer_id`` to ``group`` on ``run_date``."""
    return f"sync:{CHANNEL}:{group}:{customer_id}:{run_date.isoformat()}"


def groups_for(group: str, run_date: date, *, dated: bool) -> tuple[str, ...]:
    """The group names one push adds its members to (see the module docstring)."""
    return (group, f"{group} {run_date.isoformat()}") if dated else (group,)


def segment_members(ops: OpsStore, segment: str) -> list[Member]:
    """Customers whose live segment (any scheme, from the last segmentation run published to
    ``customer_status``) is ``segment``. Unknown segment: an error naming the known ones."""
    with ops.read() as con:
        rows = con.execute(
            sa.select(
                CUSTOMER_STATUS.c.customer_id,
                CUSTOMER_STATUS.c.email,
                CUSTOMER_STATUS.c.name,
                CUSTOMER_STATUS.c.segments,
            ).order_by(CUSTOMER_STATUS.c.customer_id)
        ).all()
    known: set[str] = set()
    members: list[Member] = []
    for customer_id, email, name, segments in rows:
        values = {str(v) for v in (segments or {}).values()}
        known |= values
        if segment in values:
            members.append(Member(str(customer_id), email, name))
    if not members:
        if not known:
            raise SyncError(
                f"no customer is in segment '{segment}': the operational store has no segments "
                "yet — run 'livebase segment' first",
                reason="config",
            )
        raise SyncError(
            f"no customer is in segment '{segment}'{did_you_mean(segment, known)} "
            f"(segments now: {', '.join(sorted(known))})",
            reason="config",
        )
    return members


def _already_sent(ops: OpsStore, ids: Sequence[str]) -> set[str]:
    with ops.read() as con:
        found = con.execute(
            sa.select(SEND_LEDGER.c.event_id).where(
                SEND_LEDGER.c.event_id.in_(list(ids)), SEND_LEDGER.c.type == "sent"
            )
        ).scalars()
        return set(found)


def _event(
    ids: dict[str, str],
    member: Member,
    kind: str,
    reason: str | None,
    detail: dict[str, Any],
    groups: tuple[str, ...],
    playbook: str | None,
    now: datetime,
) -> dict[str, Any]:
    """One send-ledger row; only ``sent`` carries the bare id (a retry may still succeed)."""
    suffix = "" if kind == "sent" else f":{kind}"
    return {
        "event_id": ids[member.customer_id] + suffix,
        "customer_id": member.customer_id,
        "playbook": playbook,
        "channel": CHANNEL,
        "type": kind,
        "reason": reason,
        "cost": 0,
        "ts": now,
        "detail": {"groups": list(groups), **detail},
    }


def push_members(
    ops: OpsStore,
    client: GetCourseClient,
    members: Sequence[Member],
    *,
    group: str,
    run_date: date,
    now: datetime,
    sleep: SleepFn,
    rate_per_second: float = 2.0,
    batch: int = 100,
    dated: bool = True,
    playbook: str | None = None,
) -> PushReport:
    """Add ``members`` to ``group`` (and its dated group); see the module docstring.

    A refusal that no retry fixes (wrong key, no API access, quota, timeout) raises
    :class:`SyncError` after the ledger has recorded everyone pushed before it.
    """
    groups = groups_for(group, run_date, dated=dated)
    pause = 1.0 / rate_per_second
    pushed = already = skipped = 0
    failed: list[tuple[str, str]] = []
    calls = 0
    for start in range(0, len(members), batch):
        chunk = members[start : start + batch]
        ids = {m.customer_id: ledger_event_id(group, m.customer_id, run_date) for m in chunk}
        sent_before = _already_sent(ops, list(ids.values()))
        events: list[dict[str, Any]] = []

        try:
            for member in chunk:
                if ids[member.customer_id] in sent_before:
                    already += 1
                    continue
                if not member.email or "@" not in member.email:
                    skipped += 1
                    events.append(
                        _event(
                            ids, member, "skipped", "no e-mail address", {}, groups, playbook, now
                        )
                    )
                    continue
                if calls:
                    sleep(pause)
                calls += 1
                user: dict[str, Any] = {"email": member.email}
                if member.first_name:
                    user["first_name"] = member.first_name
                result = client.add_user(user, groups=groups, refresh_if_exists=True)
                if result.ok:
                    pushed += 1
                    detail = {"user_id": result.user_id, "user_status": result.user_status}
                    events.append(_event(ids, member, "sent", None, detail, groups, playbook, now))
                else:
                    failed.append((member.customer_id, result.error_message))
                    reason = result.error_message[:256] or "refused"
                    events.append(_event(ids, member, "failed", reason, {}, groups, playbook, now))
        finally:
            if events:
                with ops.begin() as con:
                    insert_ignore(con, SEND_LEDGER, events)
    return PushReport(
        group, groups, len(members), pushed, already, skipped, tuple(failed), client.requests
    )
