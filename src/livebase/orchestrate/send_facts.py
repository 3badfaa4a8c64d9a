"""What the send-time check reads about a batch: one query per table, prepared statements.

:func:`read_facts` reads, for a batch of outbox rows, the paused playbooks, the journeys, the
customers' status rows, their live suppressions (by customer and by address), their latest
marketing consents and, when caps are configured, their counted sends and messages in flight.
The queries are Core ``SELECT`` statements prepared once per ``IN``-list length
(:class:`~livebase.ops.prepared.PreparedSelect`, lists padded to a power of two): on SQLite they
run on the cursor of the claim's own connection, inside its transaction, and return what Core
returns, without Core's execution and result machinery for every batch.

>>> address_hash(" Anna@School.RU ") == address_hash("anna@school.ru")
True
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.settings import ChannelSettings
from livebase.ops.prepared import PreparedSelect, padded
from livebase.ops.tables import (
    CONSENTS,
    CUSTOMER_STATUS,
    JOURNEYS,
    OUTBOX,
    PLAYBOOK_CONTROLS,
    SEND_LEDGER,
    SUPPRESSIONS,
)
from livebase.orchestrate.settings import PolicySettings

__all__ = ["CONTACT_FIELDS", "COUNTED_TYPES", "Facts", "address_hash", "contact_for", "read_facts"]

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


@dataclass
class Facts:
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


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in parts of at most ``size``, each padded (:func:`padded`)."""
    for start in range(0, len(values), size):
        yield padded(values[start : start + size])


def _binds(prefix: str, count: int) -> list[sa.BindParameter[Any]]:
    return [sa.bindparam(f"{prefix}{i}") for i in range(count)]


def _params(prefix: str, values: Sequence[Any]) -> dict[str, Any]:
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


@functools.lru_cache(maxsize=64)
def _paused(playbooks: int) -> PreparedSelect:
    return PreparedSelect(
        sa.select(PLAYBOOK_CONTROLS.c.playbook).where(
            PLAYBOOK_CONTROLS.c.playbook.in_(_binds("p", playbooks)), PLAYBOOK_CONTROLS.c.paused
        ),
        [f"p{i}" for i in range(playbooks)],
    )


_JOURNEY_COLUMNS = ("customer_id", "playbook", "occurrence", "state", "arm", "exit_reason")


@functools.lru_cache(maxsize=64)
def _journeys(customers: int, playbooks: int) -> PreparedSelect:
    return PreparedSelect(
        sa.select(*(JOURNEYS.c[name] for name in _JOURNEY_COLUMNS)).where(
            JOURNEYS.c.customer_id.in_(_binds("c", customers)),
            JOURNEYS.c.playbook.in_(_binds("p", playbooks)),
        ),
        [*(f"c{i}" for i in range(customers)), *(f"p{i}" for i in range(playbooks))],
    )


@functools.lru_cache(maxsize=64)
def _statuses(customers: int) -> PreparedSelect:
    return PreparedSelect(
        sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id.in_(_binds("c", customers))),
        [f"c{i}" for i in range(customers)],
    )


@functools.lru_cache(maxsize=64)
def _suppressions(by: str, values: int, channels: int) -> PreparedSelect:
    live = sa.or_(
        SUPPRESSIONS.c.expires_at.is_(None), SUPPRESSIONS.c.expires_at > sa.bindparam("b_now")
    )
    return PreparedSelect(
        sa.select(SUPPRESSIONS)
        .where(
            SUPPRESSIONS.c[by].in_(_binds("v", values)),
            SUPPRESSIONS.c.channel.in_(_binds("h", channels)),
            live,
        )
        .order_by(SUPPRESSIONS.c.ts, SUPPRESSIONS.c.address_hash, SUPPRESSIONS.c.channel),
        [*(f"v{i}" for i in range(values)), *(f"h{i}" for i in range(channels)), "b_now"],
    )


@functools.lru_cache(maxsize=64)
def _consents(customers: int, channels: int) -> PreparedSelect:
    return PreparedSelect(
        sa.select(
            CONSENTS.c.customer_id,
            CONSENTS.c.channel,
            CONSENTS.c.status,
            CONSENTS.c.ts,
            CONSENTS.c.id,
        ).where(
            CONSENTS.c.customer_id.in_(_binds("c", customers)),
            CONSENTS.c.channel.in_(_binds("h", channels)),
            CONSENTS.c.purpose == "marketing",
        ),
        [*(f"c{i}" for i in range(customers)), *(f"h{i}" for i in range(channels))],
    )


@functools.lru_cache(maxsize=64)
def _counted(customers: int) -> PreparedSelect:
    return PreparedSelect(
        sa.select(
            SEND_LEDGER.c.customer_id,
            SEND_LEDGER.c.channel,
            SEND_LEDGER.c.ts,
            SEND_LEDGER.c.message_key,
        )
        .where(
            SEND_LEDGER.c.customer_id.in_(_binds("c", customers)),
            SEND_LEDGER.c.type.in_([sa.literal(t) for t in COUNTED_TYPES]),
            SEND_LEDGER.c.ts > sa.bindparam("b_since"),
            SEND_LEDGER.c.ts <= sa.bindparam("b_now"),
        )
        .order_by(SEND_LEDGER.c.ts),
        [*(f"c{i}" for i in range(customers)), "b_since", "b_now"],
    )


@functools.lru_cache(maxsize=64)
def _in_flight(customers: int) -> PreparedSelect:
    return PreparedSelect(
        sa.select(OUTBOX.c.customer_id, OUTBOX.c.key, OUTBOX.c.channel).where(
            OUTBOX.c.customer_id.in_(_binds("c", customers)), OUTBOX.c.status == "sending"
        ),
        [f"c{i}" for i in range(customers)],
    )


def _names(prepared: PreparedSelect) -> list[str]:
    return [str(column.key) for column in prepared.statement.selected_columns]


def read_facts(
    con: Connection,
    messages: Sequence[Mapping[str, Any]],
    *,
    policy: PolicySettings,
    channels: Mapping[str, ChannelSettings],
    now: datetime,
) -> Facts:
    """The facts of the module docstring for the outbox rows ``messages`` (in ``con``'s
    transaction)."""
    facts = Facts()
    customers = sorted({str(m["customer_id"]) for m in messages})
    playbooks = padded(sorted({str(m["playbook"]) for m in messages}))
    channel_names = padded(sorted({str(m["channel"]) for m in messages} | {"any"}))
    by_playbook, by_channel = _params("p", playbooks), _params("h", channel_names)
    facts.paused = {str(p) for (p,) in _paused(len(playbooks)).rows(con, by_playbook)}
    for part in _chunks(customers):
        by_customer = _params("c", part)
        for row in _journeys(len(part), len(playbooks)).rows(con, {**by_customer, **by_playbook}):
            journey = dict(zip(_JOURNEY_COLUMNS, row, strict=True))
            facts.journeys[(row[0], row[1], int(row[2]))] = journey
        statuses = _statuses(len(part))
        names = _names(statuses)
        for row in statuses.rows(con, by_customer):
            status = dict(zip(names, row, strict=True))
            facts.statuses[str(status["customer_id"])] = status
    hashes = sorted(
        {
            address_hash(address)
            for m in messages
            if (settings := channels.get(str(m["channel"]))) is not None
            and (address := contact_for(settings, facts.statuses.get(str(m["customer_id"]))))
        }
    )
    for by, values in (("customer_id", customers), ("address_hash", hashes)):
        for part in _chunks(values):
            query = _suppressions(by, len(part), len(channel_names))
            names = _names(query)
            rows = query.rows(con, {**_params("v", part), **by_channel, "b_now": now})
            facts.suppressions += [dict(zip(names, row, strict=True)) for row in rows]
    marketing = any(m.get("purpose", "marketing") == "marketing" for m in messages)
    if marketing and policy.require_consent:
        for part in _chunks(customers):
            query = _consents(len(part), len(channel_names))
            for cid, channel, status, ts, row_id in query.rows(
                con, {**_params("c", part), **by_channel}
            ):
                latest = facts.consents.get((cid, channel))
                if latest is None or (ts, row_id) > latest[:2]:
                    facts.consents[(cid, channel)] = (ts, int(row_id), str(status))
    if marketing and policy.caps:
        since = now - max(rule.window for rule in policy.caps)
        for part in _chunks(customers):
            by_customer = _params("c", part)
            counted = _counted(len(part)).rows(con, {**by_customer, "b_since": since, "b_now": now})
            for cid, channel, ts, key in counted:
                facts.counted.setdefault(cid, []).append((ts, str(channel), str(key or "")))
            for cid, key, channel in _in_flight(len(part)).rows(con, by_customer):
                facts.in_flight.setdefault(cid, []).append((str(key), str(channel)))
    return facts
