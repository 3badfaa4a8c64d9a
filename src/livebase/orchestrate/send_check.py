"""Send-time eligibility: the last word before a message leaves, inside the worker's claim.

The planner decided who gets what with yesterday's data; between plan and send the customer
may have unsubscribed, bought (the service ended the journey), been capped by another playbook's
message, or entered quiet hours. :func:`check_batch` re-checks a batch of claimed rows
(:func:`check_at_send` one row), in the same transaction as the claim, in this order: channel configured → playbook not paused → journey still running and the
customer in treatment → contact present → not suppressed → (marketing only) consent, quiet
hours, caps. Transactional messages skip consent, quiet hours and caps, never suppression.

The batch is read with one query per table (IN lists over its customers), then decided row by
row in memory. Caps are counts over the send ledger in rolling windows (sent and uncertain
messages) plus messages other workers are sending right now plus the rows this batch already
approved; on PostgreSQL per-customer advisory locks make parallel workers take turns for one
customer, so two of them cannot both pass the same cap.

>>> from datetime import UTC, datetime
>>> next_allowed(datetime(2026, 6, 30, 19, 30, tzinfo=UTC), QuietHours.model_validate(
...     {"from": "21:00", "to": "09:00"}), "Europe/Moscow")
datetime.datetime(2026, 7, 1, 6, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    "BatchCheck",
    "SendDecision",
    "address_hash",
    "check_at_send",
    "check_batch",
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


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _lock_customers(con: Connection, customers: Sequence[str]) -> None:
    """PostgreSQL: take the customers' advisory locks in one statement, in lock-key order (so
    two workers locking overlapping batches cannot deadlock)."""
    if con.dialect.name != "postgresql" or not customers:
        return
    con.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(c) AS h "
            "FROM unnest(CAST(:ids AS text[])) AS t(c) ORDER BY h) AS keys"
        ),
        {"ids": list(customers)},
    )


@dataclass
class _Facts:
    """What the store says about a batch's customers, read with one query per table."""

    paused: set[str] = field(default_factory=set)
    journeys: dict[tuple[str, str, int], Mapping[str, Any]] = field(default_factory=dict)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    suppressions: list[Mapping[str, Any]] = field(default_factory=list)
    consents: dict[tuple[str, str], tuple[datetime, int, str]] = field(default_factory=dict)
    """(customer, channel) → (ts, id, status) of the latest marketing consent."""
    counted: dict[str, list[tuple[datetime, str, str]]] = field(default_factory=dict)
    """customer → (ts, channel, message key) of sent/uncertain ledger events, oldest first."""
    in_flight: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """customer → (key, channel) of messages in ``sending`` (this batch's approvals added)."""


def _read_facts(
    con: Connection,
    messages: Sequence[Mapping[str, Any]],
    *,
    policy: PolicySettings,
    channels: Mapping[str, ChannelSettings],
    now: datetime,
) -> _Facts:
    facts = _Facts()
    customers = sorted({str(m["customer_id"]) for m in messages})
    playbooks = sorted({str(m["playbook"]) for m in messages})
    channel_names = sorted({str(m["channel"]) for m in messages} | {"any"})
    facts.paused = {
        str(p)
        for (p,) in con.execute(
            sa.select(PLAYBOOK_CONTROLS.c.playbook).where(
                PLAYBOOK_CONTROLS.c.playbook.in_(playbooks), PLAYBOOK_CONTROLS.c.paused
            )
        )
    }
    for part in _chunks(customers):
        for row in con.execute(
            sa.select(
                JOURNEYS.c.customer_id,
                JOURNEYS.c.playbook,
                JOURNEYS.c.occurrence,
                JOURNEYS.c.state,
                JOURNEYS.c.arm,
                JOURNEYS.c.exit_reason,
            ).where(JOURNEYS.c.customer_id.in_(part), JOURNEYS.c.playbook.in_(playbooks))
        ).mappings():
            facts.journeys[(row["customer_id"], row["playbook"], int(row["occurrence"]))] = dict(
                row
            )
        for status in con.execute(
            sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id.in_(part))
        ).mappings():
            facts.statuses[str(status["customer_id"])] = dict(status)
    hashes = sorted(
        {
            address_hash(address)
            for m in messages
            if (settings := channels.get(str(m["channel"]))) is not None
            and (address := contact_for(settings, facts.statuses.get(str(m["customer_id"]))))
        }
    )
    live = sa.or_(SUPPRESSIONS.c.expires_at.is_(None), SUPPRESSIONS.c.expires_at > now)
    for column, values in (
        (SUPPRESSIONS.c.customer_id, customers),
        (SUPPRESSIONS.c.address_hash, hashes),
    ):
        for part in _chunks(values):
            facts.suppressions += [
                dict(row)
                for row in con.execute(
                    sa.select(SUPPRESSIONS)
                    .where(column.in_(part), SUPPRESSIONS.c.channel.in_(channel_names), live)
                    .order_by(
                        SUPPRESSIONS.c.ts, SUPPRESSIONS.c.address_hash, SUPPRESSIONS.c.channel
                    )
                ).mappings()
            ]
    marketing = any(m.get("purpose", "marketing") == "marketing" for m in messages)
    if marketing and policy.require_consent:
        for part in _chunks(customers):
            for cid, channel, status, ts, row_id in con.execute(
                sa.select(
                    CONSENTS.c.customer_id,
                    CONSENTS.c.channel,
                    CONSENTS.c.status,
                    CONSENTS.c.ts,
                    CONSENTS.c.id,
                ).where(
                    CONSENTS.c.customer_id.in_(part),
                    CONSENTS.c.channel.in_(channel_names),
                    CONSENTS.c.purpose == "marketing",
                )
            ):
                latest = facts.consents.get((cid, channel))
                if latest is None or (ts, row_id) > latest[:2]:
                    facts.consents[(cid, channel)] = (ts, int(row_id), str(status))
    if marketing and policy.caps:
        since = now - max(rule.window for rule in policy.caps)
        for part in _chunks(customers):
            for cid, channel, ts, key in con.execute(
                sa.select(
                    SEND_LEDGER.c.customer_id,
                    SEND_LEDGER.c.channel,
                    SEND_LEDGER.c.ts,
                    SEND_LEDGER.c.message_key,
                )
                .where(
                    SEND_LEDGER.c.customer_id.in_(part),
                    SEND_LEDGER.c.type.in_(COUNTED_TYPES),
                    SEND_LEDGER.c.ts > since,
                    SEND_LEDGER.c.ts <= now,
                )
                .order_by(SEND_LEDGER.c.ts)
            ):
                facts.counted.setdefault(cid, []).append((ts, str(channel), str(key or "")))
            for cid, key, channel in con.execute(
                sa.select(OUTBOX.c.customer_id, OUTBOX.c.key, OUTBOX.c.channel).where(
                    OUTBOX.c.customer_id.in_(part), OUTBOX.c.status == "sending"
                )
            ):
                facts.in_flight.setdefault(cid, []).append((str(key), str(channel)))
    return facts


def _suppression(facts: _Facts, customer_id: str, channel: str, address: str | None) -> str | None:
    hashed = None if address is None else address_hash(address)
    for row in facts.suppressions:
        if row["channel"] in (channel, "any") and (
            row["customer_id"] == customer_id or row["address_hash"] == hashed
        ):
            return str(row["reason"])
    return None


def _latest_consent(facts: _Facts, customer_id: str, channel: str) -> str | None:
    found = [c for c in (facts.consents.get((customer_id, ch)) for ch in (channel, "any")) if c]
    return max(found)[2] if found else None


def _applies(rule: CapRule, channel: str, segments: Mapping[str, Any]) -> bool:
    if rule.channel not in ("any", channel):
        return False
    if rule.segments is None:
        return True
    return any(segments.get(scheme) in names for scheme, names in rule.segments.items())


def _cap_hit(
    facts: _Facts, rule: CapRule, message: Mapping[str, Any], now: datetime
) -> datetime | None:
    """When the cap frees again if sending now would exceed it, else None. Counted: sent and
    uncertain ledger events in the window, plus messages in ``sending`` (other workers', and
    those this batch already approved)."""
    customer_id, key = str(message["customer_id"]), str(message["key"])
    since = now - rule.window
    sent = [
        ts
        for ts, channel, message_key in facts.counted.get(customer_id, [])
        if ts > since and message_key != key and rule.channel in ("any", channel)
    ]
    in_flight = sum(
        1
        for other, channel in facts.in_flight.get(customer_id, [])
        if other != key and rule.channel in ("any", channel)
    )
    if len(sent) + in_flight < rule.max:
        return None
    if not sent:  # only in-flight messages fill the cap: look again shortly
        return now + timedelta(minutes=5)
    # the cap frees when enough of the oldest counted sends leave the window
    excess = len(sent) + in_flight - rule.max
    oldest: datetime = sent[min(excess, len(sent) - 1)]
    return oldest + rule.window


def _decide(
    facts: _Facts,
    message: Mapping[str, Any],
    *,
    policy: PolicySettings,
    channels: Mapping[str, ChannelSettings],
    workspace_tz: str,
    now: datetime,
) -> SendDecision:
    customer_id = str(message["customer_id"])
    channel_name = str(message["channel"])
    channel = channels.get(channel_name)
    if channel is None or channel.type is None:
        return SendDecision("skip", f"channel_not_configured:{channel_name}")
    if message["playbook"] in facts.paused:
        return SendDecision("defer", "playbook_paused", now + PAUSED_RETRY)
    journey = facts.journeys.get((customer_id, message["playbook"], int(message["occurrence"])))
    if journey is not None:
        if journey["arm"] != "treatment":
            return SendDecision("cancel", f"held_out:{journey['arm']}")
        # 'completed' only means the planner has queued the last step: that step still goes
        if journey["state"] == "exited":
            return SendDecision("cancel", f"journey_exited:{journey['exit_reason']}")
    status = facts.statuses.get(customer_id)
    address = contact_for(channel, status)
    if address is None:
        return SendDecision("skip", "no_contact")
    suppressed = _suppression(facts, customer_id, channel_name, address)
    if suppressed is not None:
        return SendDecision("skip", f"suppressed:{suppressed}")
    if message.get("purpose", "marketing") != "marketing":
        return SendDecision("send")
    if policy.require_consent and _latest_consent(facts, customer_id, channel_name) != "granted":
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
        frees_at = _cap_hit(facts, rule, message, now)
        if frees_at is not None:
            return SendDecision("defer", f"capped:{rule.channel}:{rule.max}/{rule.per}", frees_at)
    return SendDecision("send")


@dataclass(frozen=True)
class BatchCheck:
    """Decisions for a batch of outbox rows (in the batch's order) and the customers' status
    rows the decisions read (the worker renders with them)."""

    decisions: list[SendDecision]
    statuses: dict[str, dict[str, Any]]


def check_batch(
    con: Connection,
    messages: Sequence[Mapping[str, Any]],
    *,
    policy: PolicySettings,
    channels: Mapping[str, ChannelSettings],
    workspace_tz: str,
    now: datetime,
) -> BatchCheck:
    """:func:`check_at_send` for many outbox rows at once, with one query per table.

    The rows are decided in order, and every row approved counts against the caps of the rows
    after it (a batch never exceeds a cap, even for a customer with several rows in it). Call
    it inside the transaction that claims the rows; on PostgreSQL it takes the batch's
    per-customer advisory locks first.

    >>> import tempfile, pathlib
    >>> from datetime import UTC, datetime
    >>> from livebase.ops import OpsStore, sqlite_url
    >>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
    >>> email = ChannelSettings.model_validate({"type": "smtp", "host": "h", "from": "a@b.ru"})
    >>> row = {"key": "1|w|1|email", "customer_id": "1", "playbook": "w", "occurrence": 1,
    ...        "channel": "email", "purpose": "marketing"}
    >>> with ops.begin() as con:
    ...     check_batch(con, [row], policy=PolicySettings(), channels={"email": email},
    ...                 workspace_tz="UTC", now=datetime(2026, 6, 30, tzinfo=UTC)).decisions
    [SendDecision(action='skip', reason='no_contact', not_before=None)]
    """
    if not messages:
        return BatchCheck([], {})
    _lock_customers(con, sorted({str(m["customer_id"]) for m in messages}))
    facts = _read_facts(con, messages, policy=policy, channels=channels, now=now)
    decisions: list[SendDecision] = []
    for message in messages:
        decision = _decide(
            facts, message, policy=policy, channels=channels, workspace_tz=workspace_tz, now=now
        )
        if decision.action == "send":
            facts.in_flight.setdefault(str(message["customer_id"]), []).append(
                (str(message["key"]), str(message["channel"]))
            )
        decisions.append(decision)
    return BatchCheck(decisions, facts.statuses)


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
    Call it inside the transaction that claims the message; :func:`check_batch` decides many.
    """
    return check_batch(
        con, [message], policy=policy, channels=channels, workspace_tz=workspace_tz, now=now
    ).decisions[0]
