"""What the worker holds while it sends: its settings for time and doubt, the messages it
claimed, and the tally of what happened.

>>> backoff(1, "k", base=timedelta(minutes=1), cap=timedelta(hours=6)) <= timedelta(minutes=1)
True
>>> backoff(30, "k", base=timedelta(minutes=1), cap=timedelta(hours=6)) <= timedelta(hours=6)
True
>>> tally = Tally()
>>> tally.add("sent", 2); tally["sent"], tally["failed"]
(2, 0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from livebase.channels.base import OutgoingMessage

__all__ = ["CLAIMED", "Claim", "DeliverySettings", "Tally", "backoff"]

CLAIMED = "#claimed"
"""Suffix of ``lease_owner`` between the claim and the hand-over to the channel."""


@dataclass(frozen=True)
class DeliverySettings:
    """How the worker treats time and doubt (defaults suit a school's volumes)."""

    lease: timedelta = timedelta(minutes=5)
    """How long a claim holds; past it, a ``sending`` row counts as abandoned mid-send."""
    backoff_base: timedelta = timedelta(minutes=1)
    backoff_cap: timedelta = timedelta(hours=6)
    resend_uncertain_marketing: bool = False
    """At most once: a marketing message that may have gone out is not sent again."""
    resend_uncertain_transactional: bool = True
    """At least once: a receipt or password mail is resent with the same ids."""

    def resends(self, purpose: str) -> bool:
        """Whether a message of ``purpose`` that may have gone out is sent again."""
        if purpose == "transactional":
            return self.resend_uncertain_transactional
        return self.resend_uncertain_marketing


def backoff(attempt: int, key: str, *, base: timedelta, cap: timedelta) -> timedelta:
    """Wait before attempt ``attempt + 1``: ``base · 2^(attempt-1)``, capped, times a jitter in
    [0.5, 1) derived from the key (seeded, so a replay waits the same)."""
    digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
    jitter = 0.5 + int.from_bytes(digest[:4], "big") / 2**33
    raw: timedelta = base * (2 ** min(max(attempt - 1, 0), 30))
    wait: timedelta = min(raw, cap) * jitter
    return wait


@dataclass(frozen=True)
class Claim:
    """A message this worker committed as ``sending``: what to send and where it came from."""

    row: Mapping[str, Any]
    message: OutgoingMessage
    attempt: int
    previous_status: str
    links: tuple[str, ...] = ()
    """The link targets of the rendered message, in index order (recorded before sending)."""

    @property
    def key(self) -> str:
        """The outbox key."""
        return str(self.row["key"])


@dataclass
class Tally:
    """Counts of what happened, by outcome (printed by ``livebase send``)."""

    counts: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def __getitem__(self, what: str) -> int:
        return self.counts.get(what, 0)
