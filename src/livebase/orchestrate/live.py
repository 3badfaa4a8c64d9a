"""Accept events and payments as they happen: inbox, live status, segment changes, exits.

:func:`accept_events` is what ``POST /v1/events`` and the GetCourse webhook call. In one short
transaction of the operational store it

1. resolves each customer (id, else the status row with that e-mail or phone, else the
   lower-cased e-mail, as ``livebase ingest`` does);
2. stores each event in the ``inbox`` once (a repeated ``event_id`` is a no-op);
3. for a newly counted payment (and events that feed a declared count signal), moves the
   customer's features (:func:`livebase.segments.live.apply_payment`) and recomputes every
   scheme's segment with the thresholds of the last full run
   (:func:`livebase.segments.live.assign_live`), updating ``customer_status``;
4. writes a ``segment_changes`` row per scheme whose segment changed, runs the live entry
   hooks (the playbook planner plugs in here: a journey entered at once), and ends running
   journeys whose ``exit_when`` now holds: their pending outbox rows become ``cancelled`` with a
   ``cancelled`` ledger row, before any worker sends them.

Either everything of a batch is stored or nothing (:class:`~livebase.ingest.inbound.BatchRejected`
for a phone nobody has). ``now`` is the service's wall clock, passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.ingest.inbound import BatchRejected, InboundEvent, Problem
from livebase.ops.store import OpsStore
from livebase.ops.tables import CUSTOMER_STATUS, INBOX
from livebase.orchestrate._writes import insert_new
from livebase.orchestrate.live_exits import cancel_journey, counted_payment, end_journeys
from livebase.orchestrate.live_rules import (
    PAYMENT_EVENTS,
    Accepted,
    EntryHook,
    ExitWhen,
    LiveRules,
    SegmentChange,
)
from livebase.orchestrate.live_status import update_status

__all__ = [
    "PAYMENT_EVENTS",
    "Accepted",
    "EntryHook",
    "ExitWhen",
    "LiveRules",
    "SegmentChange",
    "accept_events",
    "cancel_journey",
]


def _resolve(con: Connection, events: Sequence[InboundEvent]) -> list[str]:
    resolved: list[str] = []
    problems: list[Problem] = []
    for index, event in enumerate(events):
        if event.customer_id is not None:
            resolved.append(event.customer_id)
            continue
        found = None
        if event.email is not None:
            found = con.execute(
                sa.select(CUSTOMER_STATUS.c.customer_id)
                .where(sa.func.lower(CUSTOMER_STATUS.c.email) == event.email)
                .order_by(CUSTOMER_STATUS.c.customer_id)
                .limit(1)
            ).scalar()
        if found is None and event.phone is not None:
            found = con.execute(
                sa.select(CUSTOMER_STATUS.c.customer_id)
                .where(CUSTOMER_STATUS.c.phone.in_([event.phone, "+" + event.phone]))
                .order_by(CUSTOMER_STATUS.c.customer_id)
                .limit(1)
            ).scalar()
        if found is None and event.email is not None:
            found = event.email
        if found is None:
            problems.append(
                Problem(index, "phone", "the phone of a known customer, or customer_id or email")
            )
            resolved.append("")
        else:
            resolved.append(str(found))
    if problems:
        raise BatchRejected(problems)
    return resolved


def accept_events(
    ops: OpsStore,
    events: Sequence[InboundEvent],
    rules: LiveRules,
    *,
    source: str,
    now: datetime,
) -> Accepted:
    """Store ``events`` and update live statuses in one transaction (see the module docstring).

    >>> import tempfile, pathlib
    >>> from livebase.ingest.inbound import parse_batch
    >>> from livebase.ops.store import OpsStore, sqlite_url
    >>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
    >>> batch = parse_batch([{"event_id": "e1", "customer_id": "7", "name": "login",
    ...                       "ts": "2026-07-01T10:00:00Z"}], max_batch=10, timezone="UTC")
    >>> now = datetime(2026, 7, 1, 10, 0, 1, tzinfo=UTC)
    >>> accept_events(ops, batch, LiveRules(), source="api", now=now).stored
    1
    >>> accept_events(ops, batch, LiveRules(), source="api", now=now).duplicates
    1
    """
    accepted = Accepted()
    now = now.astimezone(UTC)
    with ops.begin() as con:
        customers = _resolve(con, events)
        accepted.event_ids = [e.event_id for e in events]
        accepted.customers = list(customers)
        # Customers in ascending order (a customer's events keep theirs): concurrent batches
        # lock status rows in the same order, so they wait for each other, never deadlock.
        order = sorted(range(len(events)), key=lambda i: customers[i])
        for event, customer_id in ((events[i], customers[i]) for i in order):
            new = insert_new(
                con,
                INBOX,
                {
                    "event_id": event.event_id,
                    "kind": event.kind,
                    "customer_id": customer_id,
                    "name": event.name,
                    "ts": event.ts,
                    "payload": event.payload(),
                    "source": source,
                    "received_at": now,
                },
            )
            if not new:
                accepted.duplicates += 1
                continue
            accepted.stored += 1
            changes = update_status(con, event, customer_id, rules, now, accepted)
            accepted.changes += changes
            names = {event.name}
            if counted_payment(event):
                names |= PAYMENT_EVENTS
            accepted.cancelled += end_journeys(con, customer_id, names, changes, rules, now)
            if changes:
                for hook in rules.on_entry:
                    hook(con, changes, now)
    return accepted
