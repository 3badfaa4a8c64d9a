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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.features import FeaturesSettings
from livebase.ingest.inbound import BatchRejected, InboundEvent, Problem
from livebase.ops.store import OpsStore
from livebase.ops.tables import (
    CUSTOMER_STATUS,
    INBOX,
    JOURNEYS,
    OUTBOX,
    SEGMENT_CHANGES,
    SEND_LEDGER,
    STATUS_THRESHOLDS,
)
from livebase.ops.writes import insert_ignore
from livebase.orchestrate._writes import insert_new
from livebase.segments.live import LiveState, apply_payment, assign_live
from livebase.segments.settings import SegmentsSettings

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

PAYMENT_EVENTS = frozenset({"order", "purchase"})
"""Event names a newly counted payment stands for in ``exit_when``."""


@dataclass(frozen=True)
class SegmentChange:
    """A customer entered ``to_segment`` of ``scheme`` (leaving ``from_segment``)."""

    customer_id: str
    scheme: str
    from_segment: str | None
    to_segment: str
    ts: datetime


EntryHook = Callable[[Connection, Sequence[SegmentChange], datetime], None]
"""Called inside the accepting transaction with the changes it made (the playbook planner's
live segment-entry triggers); whatever it writes commits with the batch."""


@dataclass(frozen=True)
class ExitWhen:
    """When a running journey of a playbook ends live: on one of ``events`` (``order`` or
    ``purchase`` = a counted payment) or on entering one of ``segments[scheme]``."""

    events: frozenset[str] = frozenset()
    segments: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveRules:
    """What live updates need from the workspace's config."""

    segments: SegmentsSettings = field(default_factory=SegmentsSettings)
    features: FeaturesSettings = field(default_factory=lambda: FeaturesSettings.model_validate({}))
    timezone: str = "UTC"
    exits: Mapping[str, ExitWhen] = field(default_factory=dict)
    """Playbook → its exit conditions."""
    on_entry: Sequence[EntryHook] = ()


@dataclass
class Accepted:
    """What a batch did."""

    stored: int = 0
    duplicates: int = 0
    statuses: list[str] = field(default_factory=list)
    """Customers whose live status was updated."""
    changes: list[SegmentChange] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    """Outbox keys cancelled by an exit condition."""
    event_ids: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    """The resolved customer of each event, in order."""


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


def _previous_paid(con: Connection, customer_id: str, order_id: str, event_id: str) -> float | None:
    rows = con.execute(
        sa.select(INBOX.c.payload).where(
            INBOX.c.customer_id == customer_id,
            INBOX.c.kind == "order",
            INBOX.c.event_id != event_id,
        )
    )
    best: float | None = None
    for (payload,) in rows:
        if isinstance(payload, Mapping) and str(payload.get("order_id")) == order_id:
            paid = float(payload.get("paid_amount") or 0)
            best = paid if best is None else max(best, paid)
    return best


def _status_row(con: Connection, customer_id: str) -> dict[str, Any] | None:
    query = sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id == customer_id)
    if con.dialect.name == "postgresql":
        query = query.with_for_update()
    row = con.execute(query).first()
    return None if row is None else dict(row._mapping)


_DOCUMENTS: dict[str, dict[str, Any]] = {}
"""Thresholds documents by version (a version names one run's cut points and never changes)."""


def _thresholds(con: Connection, version: str | None) -> tuple[str, dict[str, Any]] | None:
    if version is not None and version in _DOCUMENTS:
        return version, _DOCUMENTS[version]
    versions = sa.select(STATUS_THRESHOLDS.c.version)
    found = None
    if version is not None:
        found = con.execute(versions.where(STATUS_THRESHOLDS.c.version == version)).scalar()
    if found is None:
        found = con.execute(
            versions.order_by(
                STATUS_THRESHOLDS.c.as_of.desc(), STATUS_THRESHOLDS.c.created_at.desc()
            ).limit(1)
        ).scalar()
    if found is None:
        return None
    if found not in _DOCUMENTS:
        document = con.execute(
            sa.select(STATUS_THRESHOLDS.c.thresholds).where(STATUS_THRESHOLDS.c.version == found)
        ).scalar_one()
        if len(_DOCUMENTS) > 64:
            _DOCUMENTS.clear()
        _DOCUMENTS[str(found)] = dict(document)
    return str(found), _DOCUMENTS[str(found)]


def _local_day(ts: datetime, timezone: str) -> date:
    return ts.astimezone(ZoneInfo(timezone)).date()


def _moved_features(
    con: Connection,
    event: InboundEvent,
    customer_id: str,
    features: dict[str, Any],
    as_of: date,
    rules: LiveRules,
) -> tuple[dict[str, Any], date] | None:
    """The features after ``event``, or None when it changes nothing live."""
    day = _local_day(event.ts, rules.timezone)
    if event.kind == "order" and event.order is not None:
        paid = float(event.order.get("paid_amount") or 0)
        if paid <= 0 or event.order.get("status") not in ("paid", "partially_paid"):
            return None
        before = _previous_paid(con, customer_id, str(event.order["order_id"]), event.event_id)
        delta = paid - (before or 0.0)
        if delta <= 0:
            return None
        return apply_payment(
            features,
            as_of=as_of,
            paid_day=day,
            paid_amount=delta,
            new_order=before is None or before <= 0,
            frequency_mode=rules.features.frequency,
        )
    moved = False
    out = dict(features)
    for name, signal in rules.features.signals.items():
        if signal.source == "events" and signal.measure == "count" and event.name in signal.events:
            out[name] = int(out.get(name) or 0) + 1
            moved = True
    return (out, as_of) if moved else None


def _counted_payment(event: InboundEvent) -> bool:
    """A paid or partly paid order with money received: what a purchase means for exits."""
    order = event.order
    return (
        event.kind == "order"
        and order is not None
        and order.get("status") in ("paid", "partially_paid")
        and float(order.get("paid_amount") or 0) > 0
    )


def _empty_features(day: date) -> dict[str, Any]:
    return {
        "first_seen_date": day.isoformat(),
        "tenure_days": 0,
        "orders_total": 0,
        "paid_days_total": 0,
        "frequency": 0,
        "monetary": 0.0,
        "ltv": 0.0,
        "refunded_orders": 0,
    }


def cancel_journey(
    con: Connection,
    customer_id: str,
    playbook: str,
    occurrence: int,
    *,
    reason: str,
    now: datetime,
) -> list[str]:
    """End a running journey and cancel its pending outbox rows (ledger ``cancelled``).

    Returns the cancelled outbox keys. A row a worker already claims (``sending``) is left to
    the worker's own send-time check, which sees the exited journey.
    """
    con.execute(
        JOURNEYS.update()
        .where(
            JOURNEYS.c.customer_id == customer_id,
            JOURNEYS.c.playbook == playbook,
            JOURNEYS.c.occurrence == occurrence,
            JOURNEYS.c.state == "active",
        )
        .values(
            state="exited",
            exit_reason=reason[:64],
            exited_at=now,
            next_due_at=None,
            updated_at=now,
            version=JOURNEYS.c.version + 1,
        )
    )
    pending = con.execute(
        sa.select(OUTBOX.c.key, OUTBOX.c.channel, OUTBOX.c.step).where(
            OUTBOX.c.customer_id == customer_id,
            OUTBOX.c.playbook == playbook,
            OUTBOX.c.occurrence == occurrence,
            OUTBOX.c.status.in_(("queued", "retry")),
        )
    ).all()
    keys = [str(r.key) for r in pending]
    if keys:
        con.execute(
            OUTBOX.update()
            .where(OUTBOX.c.key.in_(keys), OUTBOX.c.status.in_(("queued", "retry")))
            .values(status="cancelled", updated_at=now, last_error=f"exit: {reason}"[:500])
        )
        insert_ignore(
            con,
            SEND_LEDGER,
            [
                {
                    "event_id": f"{r.key}:cancelled",
                    "message_key": r.key,
                    "customer_id": customer_id,
                    "playbook": playbook,
                    "occurrence": occurrence,
                    "step": r.step,
                    "channel": r.channel,
                    "type": "cancelled",
                    "reason": f"exit: {reason}"[:256],
                    "ts": now,
                }
                for r in pending
            ],
        )
    return keys


def _exits(
    con: Connection,
    customer_id: str,
    event_names: set[str],
    changes: Sequence[SegmentChange],
    rules: LiveRules,
    now: datetime,
) -> list[str]:
    if not rules.exits:
        return []
    running = con.execute(
        sa.select(JOURNEYS.c.playbook, JOURNEYS.c.occurrence).where(
            JOURNEYS.c.customer_id == customer_id,
            JOURNEYS.c.state == "active",
            JOURNEYS.c.playbook.in_(list(rules.exits)),
        )
    ).all()
    cancelled: list[str] = []
    for playbook, occurrence in running:
        rule = rules.exits[playbook]
        reason = next(iter(sorted(event_names & rule.events)), None)
        if reason is None:
            for change in changes:
                if change.to_segment in rule.segments.get(change.scheme, frozenset()):
                    reason = f"{change.scheme}:{change.to_segment}"
                    break
        if reason is not None:
            cancelled += cancel_journey(
                con, customer_id, playbook, int(occurrence), reason=reason, now=now
            )
    return cancelled


def _update_status(
    con: Connection,
    event: InboundEvent,
    customer_id: str,
    rules: LiveRules,
    now: datetime,
    accepted: Accepted,
) -> list[SegmentChange]:
    status = _status_row(con, customer_id)
    version_doc = _thresholds(con, None if status is None else status["thresholds_version"])
    if version_doc is None:
        return []  # no segmentation published yet: the next batch run counts the event
    version, document = version_doc
    day = _local_day(event.ts, rules.timezone)
    if status is None:
        features, as_of = _empty_features(day), day
        before: dict[str, Any] = {}
        since: dict[str, Any] = {}
    else:
        features, as_of = dict(status["features"]), status["as_of"]
        before, since = dict(status["segments"]), dict(status["since"])
    moved = _moved_features(con, event, customer_id, features, as_of, rules)
    if moved is None:
        return []
    new_features, new_as_of = moved
    previous = {
        scheme: LiveState(segment, None, _iso_day(since.get(scheme)))
        for scheme, segment in before.items()
    }
    segments = assign_live(
        new_features,
        document,
        rules.segments,
        features_settings=rules.features,
        previous=previous,
        as_of=new_as_of,
    )
    changes = [
        SegmentChange(customer_id, scheme, before.get(scheme), segment, now)
        for scheme, segment in segments.items()
        if before.get(scheme) != segment
    ]
    new_since = {**since, **{c.scheme: new_as_of.isoformat() for c in changes}}
    is_payment = event.kind == "order"
    values = {
        "features": new_features,
        "segments": segments,
        "since": new_since,
        "thresholds_version": version,
        "as_of": new_as_of,
        "updated_at": now,
        "source": "live",
    }
    if is_payment:
        last = None if status is None else status["last_paid_at"]
        values["last_paid_at"] = event.ts if last is None or event.ts > last else last
    if status is None:
        con.execute(
            CUSTOMER_STATUS.insert().values(
                customer_id=customer_id, email=event.email, phone=event.phone, **values
            )
        )
    else:
        con.execute(
            CUSTOMER_STATUS.update()
            .where(CUSTOMER_STATUS.c.customer_id == customer_id)
            .values(**values)
        )
    if changes:
        con.execute(
            SEGMENT_CHANGES.insert(),
            [
                {
                    "customer_id": c.customer_id,
                    "scheme": c.scheme,
                    "from_segment": c.from_segment,
                    "to_segment": c.to_segment,
                    "ts": c.ts,
                    "source": "live",
                }
                for c in changes
            ],
        )
    accepted.statuses.append(customer_id)
    return changes


def _iso_day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return date.fromisoformat(str(value)[:10])


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
            changes = _update_status(con, event, customer_id, rules, now, accepted)
            accepted.changes += changes
            names = {event.name}
            if _counted_payment(event):
                names |= PAYMENT_EVENTS
            accepted.cancelled += _exits(con, customer_id, names, changes, rules, now)
            if changes:
                for hook in rules.on_entry:
                    hook(con, changes, now)
    return accepted
