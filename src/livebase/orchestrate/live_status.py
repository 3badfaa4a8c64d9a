"""One customer's live status after an event: features moved, segments re-assigned.

A newly counted payment moves the customer's features
(:func:`livebase.segments.live.apply_payment`) and order signals, a product event the signals
of ``livebase.yaml`` count moves those (:mod:`livebase.segments.live_signals`); every scheme's segment is recomputed
with the thresholds of the last full run (:func:`livebase.segments.live.assign_live`); the
``customer_status`` row is updated and a ``segment_changes`` row written per scheme whose
segment changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.features import FeaturesSettings
from livebase.features.settings import SignalSettings
from livebase.ingest.inbound import InboundEvent
from livebase.ops.tables import CUSTOMER_STATUS, INBOX, SEGMENT_CHANGES, STATUS_THRESHOLDS
from livebase.orchestrate.live_rules import Accepted, LiveRules, SegmentChange
from livebase.segments.live import LiveState, advance_days, apply_payment, assign_live
from livebase.segments.live_signals import (
    items_match,
    move_event_signals,
    move_order_signals,
    signal_defaults,
)

__all__ = ["update_status"]


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


def _day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _counts_in(signal: SignalSettings, kind: str, name: str, payload: Any) -> bool:
    """Whether an inbox row is an occurrence of ``signal``."""
    if signal.source == "events":
        return kind == "event" and name in signal.events
    if kind != "order" or not isinstance(payload, Mapping):
        return False
    paid = float(payload.get("paid_amount") or 0)
    items = payload.get("items")
    return (
        paid > 0
        and payload.get("status") in ("paid", "partially_paid")
        and items_match(signal.items_like, None if items is None else str(items))
    )


def _day_counted(
    con: Connection,
    event: InboundEvent,
    customer_id: str,
    as_of: date,
    rules: LiveRules,
) -> Callable[[str], bool]:
    """For ``distinct_days`` signals: whether the event's day is already counted — the status
    row's date is not before it and another occurrence that day came through the service.
    (A day the batch run counted from an export is counted again until the next batch run.)"""
    day = _local_day(event.ts, rules.timezone)

    def counted(name: str) -> bool:
        if day > as_of:
            return False  # a status row counts nothing after its date
        signal = rules.features.signals[name]
        start, end = _day_bounds(day, rules.timezone)
        rows = con.execute(
            sa.select(INBOX.c.kind, INBOX.c.name, INBOX.c.payload).where(
                INBOX.c.customer_id == customer_id,
                INBOX.c.event_id != event.event_id,
                INBOX.c.ts >= start,
                INBOX.c.ts < end,
            )
        )
        return any(_counts_in(signal, kind, name, payload) for kind, name, payload in rows)

    return counted


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
        new_order = before is None or before <= 0
        moved, new_as_of = apply_payment(
            features,
            as_of=as_of,
            paid_day=day,
            paid_amount=delta,
            new_order=new_order,
            frequency_mode=rules.features.frequency,
        )
        items = event.order.get("items")
        moved = move_order_signals(
            moved,
            rules.features,
            as_of=as_of,
            new_as_of=new_as_of,
            paid_day=day,
            paid_amount=delta,
            new_order=new_order,
            items=None if items is None else str(items),
            day_counted=_day_counted(con, event, customer_id, as_of, rules),
        )
        return moved, new_as_of
    new_as_of = max(as_of, day)
    moved, counted_in = move_event_signals(
        advance_days(features, (new_as_of - as_of).days),
        rules.features,
        as_of=as_of,
        new_as_of=new_as_of,
        name=event.name,
        day=day,
        day_counted=_day_counted(con, event, customer_id, as_of, rules),
    )
    session = event.name in rules.features.session_events and (new_as_of - day).days < 90
    if session:  # sessions_per_month_last_quarter: sessions of the last 90 days over 3
        moved["sessions_per_month_last_quarter"] = (
            float(moved.get("sessions_per_month_last_quarter") or 0) + 1 / 3
        )
    return (moved, new_as_of) if counted_in or session else None


def _empty_features(day: date, settings: FeaturesSettings) -> dict[str, Any]:
    """A customer the batch run has not seen: what it would give them before this event."""
    return {
        **signal_defaults(settings),
        "paid_orders_30d": 0,
        "paid_orders_90d": 0,
        "paid_orders_180d": 0,
        "first_seen_date": day.isoformat(),
        "tenure_days": 0,
        "orders_total": 0,
        "paid_days_total": 0,
        "frequency": 0,
        "monetary": 0.0,
        "ltv": 0.0,
        "refunded_orders": 0,
        "sessions_per_month_last_quarter": 0.0,
    }


def update_status(
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
        features, as_of = _empty_features(day, rules.features), day
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
