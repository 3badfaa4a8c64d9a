"""The one narrow interface every channel implements, and what goes in and comes out of it.

The worker sees only this (and the operational store): a :class:`Channel` has a ``name``, sends
one :class:`OutgoingMessage` and answers with a :class:`SendOutcome`, and is closed at the end
(listmonk's Messenger, without the batching)::

    class Channel(Protocol):
        name: str
        async def send(self, message: OutgoingMessage) -> SendOutcome: ...
        async def close(self) -> None: ...

A channel never raises for a message-level problem: a rejection, a provider error or a timeout
is an outcome. It raises :class:`~livebase.errors.ChannelError` only when it cannot work at all
(missing credentials found at open time). The outcome's ``status`` says what the worker does:

=============  ===========================================================================
``sent``       the provider accepted the message (``provider_id``, ``cost`` when it said)
``retry``      nothing was delivered and trying again later may work (4xx, 429, 5xx, refused
               connection); ``retry_after`` when the provider named a wait
``failed``     it will never work for this message (5xx rejection, invalid request)
``suppress``   the address is dead for this channel (hard bounce, bot blocked, invalid
               number): the worker records a suppression so it is never tried again
``uncertain``  the request may or may not have reached the customer (timeout or disconnect
               after the message was handed over): marketing stays unsent, transactional is
               resent with the same Message-ID / Idempotency-Key
=============  ===========================================================================

>>> SendOutcome.sent("m1", cost=4.5).status
'sent'
>>> SendOutcome.retry("421 try later", retry_after=5).retry_after
5.0
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "Channel",
    "OutcomeStatus",
    "OutgoingMessage",
    "SendOutcome",
    "message_token",
]

OutcomeStatus = Literal["sent", "retry", "failed", "suppress", "uncertain"]
Purpose = Literal["marketing", "transactional"]


@functools.lru_cache(maxsize=8192)  # asked for several times per message: hashed once
def message_token(key: str) -> str:
    """A stable, opaque token for an outbox key: no customer id in headers or URLs.

    >>> message_token("90001|winback|1|email")
    '0e95d0219ba987238d30791d'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one address, ready for a channel.

    ``key`` is the outbox key: the channel derives Message-ID and Idempotency-Key from it, so a
    resend is recognisable as the same message.
    """

    key: str
    customer_id: str
    channel: str
    purpose: Purpose
    address: str
    """E-mail address, phone number, Telegram chat id, push target or customer id."""
    text: str
    subject: str | None = None
    html: str | None = None
    name: str | None = None
    """The customer's name (export rows, the e-mail To display name)."""
    unsubscribe_url: str | None = None
    """HTTPS one-click unsubscribe link (RFC 8058), for marketing e-mail."""
    date: datetime | None = None
    """The Date header / the time the worker sends it (the worker's clock)."""
    playbook: str | None = None
    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """Extras a provider may use (push title, export columns, offer)."""

    @property
    def token(self) -> str:
        """The opaque token of the key (:func:`message_token`)."""
        return message_token(self.key)


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one send (see the module docstring for the statuses)."""

    status: OutcomeStatus
    detail: str = ""
    """A short, secret-free description: the SMTP reply, the provider's status text."""
    provider_id: str | None = None
    cost: float | None = None
    """Cost the provider reported for this message; None: the channel's configured cost."""
    retry_after: float | None = None
    """Seconds the provider asked to wait (429 retry_after, Retry-After)."""
    reason: str | None = None
    """Suppression reason when ``status`` is suppress: bounce, blocked, complaint."""

    @classmethod
    def sent(
        cls, provider_id: str | None = None, *, cost: float | None = None, detail: str = ""
    ) -> SendOutcome:
        return cls("sent", detail, provider_id, cost)

    @classmethod
    def retry(cls, detail: str, *, retry_after: float | None = None) -> SendOutcome:
        return cls("retry", detail, retry_after=None if retry_after is None else float(retry_after))

    @classmethod
    def failed(cls, detail: str) -> SendOutcome:
        return cls("failed", detail)

    @classmethod
    def suppress(cls, detail: str, *, reason: str = "bounce") -> SendOutcome:
        return cls("suppress", detail, reason=reason)

    @classmethod
    def uncertain(cls, detail: str) -> SendOutcome:
        return cls("uncertain", detail)


@runtime_checkable
class Channel(Protocol):
    """How the worker sends: one message in, one outcome out (see the module docstring)."""

    name: str

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        """Send ``message`` once; never raise for a message-level problem."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
