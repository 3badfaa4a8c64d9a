"""What customers and providers tell us about a sent message: opens, clicks, unsubscribes,
delivery reports, bounces and complaints — each written to the send ledger once.

Ledger ids are deterministic, so a retried webhook or a second click of the same request adds
nothing twice: ``{key}:opened:{n}``, ``{key}:clicked:{index}:{n}``, ``{key}:unsubscribed``,
``{key}:delivered``, ``{key}:bounced``, ``{key}:complained``. An unsubscribe (or a hard bounce,
or a complaint) also writes a suppression, and an unsubscribe a withdrawn consent.

>>> sorted(PROVIDER_STATUSES)[:3]
['blocked', 'bounce', 'bounced']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.settings import ChannelSettings
from livebase.errors import LivebaseError
from livebase.ops.tables import CONSENTS, CUSTOMER_STATUS, OUTBOX, SEND_LEDGER, SUPPRESSIONS
from livebase.ops.writes import upsert
from livebase.orchestrate._writes import insert_new
from livebase.orchestrate.send_check import address_hash, contact_for

__all__ = [
    "PAUSE_DAYS",
    "PROVIDER_STATUSES",
    "MessageRef",
    "ProviderReport",
    "UnknownMessage",
    "message_ref",
    "record_hit",
    "record_provider_report",
    "unsubscribe",
]

PAUSE_DAYS = 30
UnsubscribeChoice = Literal["channel", "all", "pause"]

PROVIDER_STATUSES: dict[str, str] = {
    "delivered": "delivered",
    "delivery": "delivered",
    "read": "delivered",
    "sent": "delivered",
    "bounce": "bounced",
    "bounced": "bounced",
    "hard_bounce": "bounced",
    "soft_bounce": "bounced",
    "undelivered": "failed",
    "failed": "failed",
    "rejected": "failed",
    "expired": "failed",
    "complaint": "complained",
    "complained": "complained",
    "spam": "complained",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "unsubscribed": "unsubscribed",
    "blocked": "bounced",
}
"""Provider words (lower-cased) → ledger type."""


class UnknownMessage(LivebaseError):
    """A report or a hit about a message this workspace never sent."""


@dataclass(frozen=True)
class MessageRef:
    """The outbox row a reaction is about."""

    key: str
    customer_id: str
    playbook: str | None
    occurrence: int | None
    step: str | None
    channel: str
    address_hash: str | None = None


def message_ref(
    con: Connection, key: str | None = None, *, message_id: str | None = None
) -> MessageRef:
    """The outbox row with ``key`` (or the provider's ``message_id``); UnknownMessage if none."""
    query = sa.select(OUTBOX)
    if key:
        query = query.where(OUTBOX.c.key == key)
    elif message_id:
        query = query.where(OUTBOX.c.message_id == message_id)
    else:
        raise UnknownMessage("a report needs the message key or the provider's message id")
    row = con.execute(query.limit(1)).mappings().first()
    if row is None:
        raise UnknownMessage("no message with this key or provider id was sent from here")
    return MessageRef(
        key=row["key"],
        customer_id=row["customer_id"],
        playbook=row["playbook"],
        occurrence=row["occurrence"],
        step=row["step"],
        channel=row["channel"],
    )


def _ledger(
    con: Connection,
    ref: MessageRef,
    event_id: str,
    type_: str,
    now: datetime,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    return insert_new(
        con,
        SEND_LEDGER,
        {
            "event_id": event_id[:512],
            "message_key": ref.key,
            "customer_id": ref.customer_id,
            "playbook": ref.playbook,
            "occurrence": ref.occurrence,
            "step": ref.step,
            "channel": ref.channel,
            "type": type_,
            "reason": None if reason is None else reason[:256],
            "ts": now,
            "detail": detail,
        },
    )


def _count(con: Connection, key: str, type_: str, prefix: str) -> int:
    return int(
        con.execute(
            sa.select(sa.func.count())
            .select_from(SEND_LEDGER)
            .where(
                SEND_LEDGER.c.message_key == key,
                SEND_LEDGER.c.type == type_,
                SEND_LEDGER.c.event_id.like(prefix.replace("%", r"\%") + "%", escape="\\"),
            )
        ).scalar_one()
    )


def record_hit(
    con: Connection,
    ref: MessageRef,
    kind: Literal["opened", "clicked"],
    now: datetime,
    *,
    index: int = 0,
) -> str:
    """Record an open or a click (link ``index``) with its time; returns the ledger id."""
    prefix = f"{ref.key}:{kind}:" + (f"{index}:" if kind == "clicked" else "")
    n = _count(con, ref.key, kind, prefix) + 1
    event_id = f"{prefix}{n}"
    _ledger(con, ref, event_id, kind, now, detail={"index": index} if kind == "clicked" else None)
    return event_id


def _address(con: Connection, ref: MessageRef, channels: dict[str, ChannelSettings]) -> str | None:
    if ref.address_hash:
        return ref.address_hash
    status = (
        con.execute(
            sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id == ref.customer_id)
        )
        .mappings()
        .first()
    )
    settings = channels.get(ref.channel)
    if settings is None or status is None:
        return None
    contact = contact_for(settings, dict(status))
    return None if contact is None else address_hash(contact)


def _suppress(
    con: Connection,
    ref: MessageRef,
    channel: str,
    reason: str,
    now: datetime,
    channels: dict[str, ChannelSettings],
    *,
    expires_at: datetime | None = None,
) -> None:
    hashed = _address(con, ref, channels) or address_hash(f"customer:{ref.customer_id}")
    upsert(
        con,
        SUPPRESSIONS,
        [
            {
                "address_hash": hashed,
                "channel": channel,
                "customer_id": ref.customer_id,
                "reason": reason,
                "source": f"message {ref.key}"[:256],
                "ts": now,
                "expires_at": expires_at,
            }
        ],
        key=["address_hash", "channel"],
    )


def unsubscribe(
    con: Connection,
    ref: MessageRef,
    now: datetime,
    *,
    choice: UnsubscribeChoice = "channel",
    channels: dict[str, ChannelSettings] | None = None,
    evidence: dict[str, Any] | None = None,
) -> bool:
    """Unsubscribe the customer of ``ref``: from its channel, from all channels, or pause the
    channel for :data:`PAUSE_DAYS` days. Effective when the transaction commits; idempotent
    (returns False when this message's unsubscribe was already recorded)."""
    channels = channels or {}
    channel = "any" if choice == "all" else ref.channel
    if choice == "pause":
        _suppress(
            con, ref, channel, "pause", now, channels, expires_at=now + timedelta(days=PAUSE_DAYS)
        )
        return _ledger(con, ref, f"{ref.key}:paused", "unsubscribed", now, reason="pause 30 days")
    new = _ledger(con, ref, f"{ref.key}:unsubscribed", "unsubscribed", now, reason=choice)
    if choice == "all":
        new = (
            _ledger(con, ref, f"{ref.key}:unsubscribed:all", "unsubscribed", now, reason="all")
            or new
        )
    if not new:
        return False
    _suppress(con, ref, channel, "unsubscribe", now, channels)
    con.execute(
        CONSENTS.insert().values(
            customer_id=ref.customer_id,
            channel=channel,
            purpose="marketing",
            status="withdrawn",
            source="unsubscribe",
            evidence={"message_key": ref.key, **(evidence or {})},
            ts=now,
        )
    )
    return True


@dataclass(frozen=True)
class ProviderReport:
    """One delivery report of a provider, as read from its callback."""

    key: str | None
    message_id: str | None
    status: str
    hard: bool = True
    reason: str | None = None


def record_provider_report(
    con: Connection,
    report: ProviderReport,
    now: datetime,
    *,
    channels: dict[str, ChannelSettings] | None = None,
) -> str:
    """Write a provider's report to the ledger; hard bounces and complaints also suppress the
    address on the channel. Returns the ledger type written."""
    type_ = PROVIDER_STATUSES.get(report.status.strip().lower())
    if type_ is None:
        raise UnknownMessage(
            f"unknown delivery status '{report.status[:40]}': expected one of "
            f"{', '.join(sorted(PROVIDER_STATUSES))}"
        )
    ref = message_ref(con, report.key, message_id=report.message_id)
    hard = report.hard and report.status.strip().lower() != "soft_bounce"
    _ledger(
        con,
        ref,
        f"{ref.key}:{type_}",
        type_,
        now,
        reason=report.reason,
        detail={"status": report.status[:64], "hard": hard},
    )
    if type_ == "complained":
        _suppress(con, ref, ref.channel, "complaint", now, channels or {})
    elif type_ == "bounced" and hard:
        _suppress(con, ref, ref.channel, "bounce", now, channels or {})
    elif type_ == "unsubscribed":
        unsubscribe(con, ref, now, channels=channels, evidence={"source": "provider"})
    return type_
