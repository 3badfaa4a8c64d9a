"""Send-time eligibility: the last word before a message leaves, inside the worker's claim.

The planner decided who gets what with yesterday's data; between plan and send the customer
may have unsubscribed, bought (the service ended the journey), been capped by another playbook's
message, or entered quiet hours. :func:`check_at_send` re-checks, in the same transaction as the
claim, in this order: channel configured → playbook not paused → journey still running and the
customer in treatment → contact present → not suppressed → (marketing only) consent, quiet
hours, caps. Transactional messages skip consent, quiet hours and caps, never suppression.

Caps are queries over the send ledger in rolling windows (sent and uncertain messages) plus
messages other workers are sending right now; on PostgreSQL a per-customer advisory lock makes
parallel workers take turns for one customer, so two of them cannot both pass the same cap.

>>> from datetime import UTC, datetime
>>> next_allowed(datetime(2026, 6, 30, 19, 30, tzinfo=UTC), QuietHours.model_validate(
...     {"from": "21:00", "to": "09:00"}), "Europe/Moscow")
datetime.datetime(2026, 7, 1, 6, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.settings import ChannelSettings
from livebase.ops.tables import (
    CONSENTS,
    CUSTOMER_STATUS,
    JOURNEYS,
    OUTBOX,
    PLAYBOOK_CONTROLS,
    SEND_LEDGER,
    SUPPRESSIONS,
)
from livebase.orchestrate.settings import CapRule, PolicySettings, QuietHours

__all__ = [
    "CONTACT_FIELDS",
    "SendDecision",
    "address_hash",
    "check_at_send",
    "contact_for",
    "next_allowed",
]

SendAction = Literal["send", "defer", "skip", "cancel"]

CONTACT_FIELDS: dict[str, str | None] = {
    "smtp": "email",
    "sms": "phone",
    "telegram": "telegram_chat_id",
    "getcourse_group": "email",
    "webhook": None,
    "export": None,
}
"""Which contact a channel type needs (None: the customer id is enough)."""

COUNTED_TYPES = ("sent", "uncertain")
PAUSED_RETRY = timedelta(minutes=15)


@dataclass(frozen=True)
class SendDecision:
    """What the worker does with a claimed message; ``reason`` is a stable code for the ledger."""

    action: SendAction
    reason: str | None = None
    not_before: datetime | None = None


def address_hash(address: str) -> str:
    """The one-way hash under which an address is suppressed (and remembered after erasure).

    E-mail addresses are compared case-insensitively; phone numbers by their digits.

    >>> address_hash(" Anna@School.RU ") == address_hash("anna@school.ru")
    True
    >>> address_hash("+7 (912) 000-11-22") == address_hash("79120001122")
    True
    """
    text = address.strip().lower()
    if "@" not in text:
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 7:
            text = digits
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def contact_for(channel: ChannelSettings, status: Mapping[str, Any] | None) -> str | None:
    """The address a channel would use for a customer's status row, or None when missing."""
    if status is None:
        return None
    field = CONTACT_FIELDS.get(channel.type or "")
    if field is None:
        return str(status["customer_id"])
    if field in ("email", "phone"):
        value = status.get(field)
    else:
        value = (status.get("attributes") or {}).get(field)
    return None if value in (None, "") else str(value)


def _zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _inside(local: time, quiet: QuietHours) -> bool:
    if quiet.start <= quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def next_allowed(now: datetime, quiet: QuietHours, zone_name: str) -> datetime | None:
    """The first minute at or after ``now`` outside quiet hours in ``zone_name`` (UTC), or None
    when ``now`` is already allowed. Wall-clock times that a DST change skips are moved on, not
    dropped."""
    zone = _zone(zone_name, "UTC")
    local = now.astimezone(zone)
    if not _inside(local.timetz().replace(tzinfo=None), quiet):
        return None
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day = day + timedelta(days=1)
    naive = datetime.combine(day, quiet.end)
    candidate = naive.replace(tzinfo=zone)
    # a nonexistent local time (spring forward) round-trips to a different wall time
    if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        candidate = (naive + timedelta(hours=1)).replace(tzinfo=zone)
    return candidate.astimezone(UTC)


def _latest_consent(con: Connection, customer_id: str, channel: str) -> str | None:
    row = con.execute(
        sa.select(CONSENTS.c.status)
        .where(
            CONSENTS.c.customer_id == customer_id,
            CONSENTS.c.channel.in_([channel, "any"]),
            CONSENTS.c.purpose == "marketing",
        )
        .order_by(CONSENTS.c.ts.desc(), CONSENTS.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row[0])


def _suppression(
    con: Connection, customer_id: str, channel: str, address: str | None, now: datetime
) -> str | None:
    keys = [SUPPRESSIONS.c.customer_id == customer_id]
    if address is not None:
        keys.append(SUPPRESSIONS.c.address_hash == address_hash(address))
    row = con.execute(
        sa.select(SUPPRESSIONS.c.reason)
        .where(
            sa.or_(*keys),
            SUPPRESSIONS.c.channel.in_([channel, "any"]),
            sa.or_(SUPPRESSIONS.c.expires_at.is_(None), SUPPRESSIONS.c.expires_at > now),
        )
        .limit(1)
    ).first()
    return None if row is None else str(row[0])


def _applies(rule: CapRule, channel: str, segments: Mapping[str, Any]) -> bool:
    if rule.channel not in ("any", channel):
        return False
    if rule.segments is None:
        return True
    return any(segments.get(scheme) in names for scheme, names in rule.segments.items())


def _cap_hit(
    con: Connection,
    rule: CapRule,
    message: Mapping[str, Any],
    now: datetime,
) -> datetime | None:
    """When the cap frees again if sending now would exceed it, else None."""
    since = now - rule.window
    channel_filter: list[Any] = []
    outbox_filter: list[Any] = []
    if rule.channel != "any":
        channel_filter.append(SEND_LEDGER.c.channel == rule.channel)
        outbox_filter.append(OUTBOX.c.channel == rule.channel)
    sent = con.execute(
        sa.select(SEND_LEDGER.c.ts)
        .where(
            SEND_LEDGER.c.customer_id == message["customer_id"],
            SEND_LEDGER.c.type.in_(COUNTED_TYPES),
            SEND_LEDGER.c.ts > since,
            SEND_LEDGER.c.ts <= now,
            SEND_LEDGER.c.message_key != message["key"],
            *channel_filter,
        )
        .order_by(SEND_LEDGER.c.ts)
    ).all()
    in_flight = con.execute(
        sa.select(sa.func.count())
        .select_from(OUTBOX)
        .where(
            OUTBOX.c.customer_id == message["customer_id"],
            OUTBOX.c.status == "sending",
            OUTBOX.c.key != message["key"],
            *outbox_filter,
        )
    ).scalar_one()
    if len(sent) + int(in_flight) < rule.max:
        return None
    if not sent:  # only in-flight messages fill the cap: look again shortly
        return now + timedelta(minutes=5)
    # the cap frees when enough of the oldest counted sends leave the window
    excess = len(sent) + int(in_flight) - rule.max
    oldest: datetime = sent[min(excess, len(sent) - 1)][0]
    return oldest + rule.window


def check_at_send(
    con: Connection,
    message: Mapping[str, Any],
    *,
    policy: PolicySettings,
    channels: Mapping[str, ChannelSettings],
    workspace_tz: str,
    now: datetime,
) -> SendDecision:
    """Whether the outbox row ``message`` may be sent at ``now`` (see the module docstring).

    ``message`` is an outbox row (key, customer_id, playbook, occurrence, channel, purpose).
    Call it inside the transaction that claims the message.
    """
    customer_id = str(message["customer_id"])
    if con.dialect.name == "postgresql":
        con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": customer_id})
    channel_name = str(message["channel"])
    channel = channels.get(channel_name)
    if channel is None or channel.type is None:
        return SendDecision("skip", f"channel_not_configured:{channel_name}")

    paused = con.execute(
        sa.select(PLAYBOOK_CONTROLS.c.paused).where(
            PLAYBOOK_CONTROLS.c.playbook == message["playbook"]
        )
    ).scalar_one_or_none()
    if paused:
        return SendDecision("defer", "playbook_paused", now + PAUSED_RETRY)

    journey = (
        con.execute(
            sa.select(JOURNEYS.c.state, JOURNEYS.c.arm, JOURNEYS.c.exit_reason).where(
                JOURNEYS.c.customer_id == customer_id,
                JOURNEYS.c.playbook == message["playbook"],
                JOURNEYS.c.occurrence == message["occurrence"],
            )
        )
        .mappings()
        .first()
    )
    if journey is not None:
        if journey["arm"] != "treatment":
            return SendDecision("cancel", f"held_out:{journey['arm']}")
        if journey["state"] in ("exited", "completed"):
            return SendDecision("cancel", f"journey_{journey['state']}:{journey['exit_reason']}")

    found = (
        con.execute(sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id == customer_id))
        .mappings()
        .first()
    )
    status: dict[str, Any] | None = None if found is None else dict(found)
    address = contact_for(channel, status)
    if address is None:
        return SendDecision("skip", "no_contact")
    suppressed = _suppression(con, customer_id, channel_name, address, now)
    if suppressed is not None:
        return SendDecision("skip", f"suppressed:{suppressed}")
    if message.get("purpose", "marketing") != "marketing":
        return SendDecision("send")

    if policy.require_consent and _latest_consent(con, customer_id, channel_name) != "granted":
        return SendDecision("skip", "no_consent")
    if policy.quiet_hours is not None:
        zone = status.get("timezone") if status is not None else None
        allowed = next_allowed(now, policy.quiet_hours, str(zone or workspace_tz))
        if allowed is not None:
            return SendDecision("defer", "quiet_hours", allowed)
    segments: Mapping[str, Any] = (status.get("segments") if status else None) or {}
    for rule in policy.caps:
        if not _applies(rule, channel_name, segments):
            continue
        frees_at = _cap_hit(con, rule, message, now)
        if frees_at is not None:
            return SendDecision("defer", f"capped:{rule.channel}:{rule.max}/{rule.per}", frees_at)
    return SendDecision("send")
