"""What live updates need and what they return: the rules, segment changes, the batch result.

>>> ExitWhen(events=frozenset({"purchase"})).events
frozenset({'purchase'})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Connection

from livebase.features import FeaturesSettings
from livebase.segments.settings import SegmentsSettings

__all__ = ["PAYMENT_EVENTS", "Accepted", "EntryHook", "ExitWhen", "LiveRules", "SegmentChange"]

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
