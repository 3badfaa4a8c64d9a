"""Events and orders that arrive one by one (the events API, GetCourse "call URL" webhooks).

:func:`parse_batch` checks a whole batch before anything is stored: every problem names the
item's index, the field and what was expected, so a rejected batch can be fixed and resent as
is. A GetCourse "call URL" webhook is read by :mod:`livebase.ingest.getcourse_hook` into the
same :class:`InboundEvent`.

>>> from datetime import UTC, datetime
>>> [e] = parse_batch([{"event_id": "e1", "customer_id": "42", "name": "lesson_done",
...                     "ts": "2026-07-01T10:00:00+03:00", "properties": {"lesson": 3}}],
...                   max_batch=10, timezone="UTC")
>>> e.customer_id, e.kind, e.ts
('42', 'event', datetime.datetime(2026, 7, 1, 7, 0, tzinfo=datetime.timezone.utc))
>>> try:
...     parse_batch([{"event_id": "e2", "name": "x", "ts": "yesterday"}], max_batch=10,
...                 timezone="UTC")
... except BatchRejected as exc:
...     [(p.index, p.field) for p in exc.problems]
[(0, 'customer_id'), (0, 'ts')]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from livebase.errors import LivebaseError
from livebase.ingest.presets import (
    RETURN_REQUESTED_LABELS,
    STATUS_LABELS,
    normalize_label,
)

__all__ = [
    "ORDER_STATUSES",
    "PAYMENT_EVENT",
    "BatchRejected",
    "InboundEvent",
    "Problem",
    "normalize_email",
    "normalize_phone",
    "parse_batch",
]

ORDER_STATUSES = ("paid", "partially_paid", "pending", "cancelled", "refunded")
PAYMENT_EVENT = "order"
"""The ``name`` of an inbox row that carries an order."""

_MAX_ID = 256
_MAX_NAME = 128
_MAX_ITEMS = 2000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME = re.compile(r"^[\w.:\-/ ]+$", re.UNICODE)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one item of a batch."""

    index: int
    field: str
    expected: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "expected": self.expected}


class BatchRejected(LivebaseError):
    """A batch with at least one invalid item: nothing of it was stored."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(
            f"item {first.index}: {first.field}: expected {first.expected}{more}; "
            "nothing of this batch was stored"
        )


@dataclass(frozen=True)
class InboundEvent:
    """A valid event or order, before its customer is resolved (``customer_id`` may be None
    when only an e-mail or phone was given)."""

    event_id: str
    kind: Literal["event", "order"]
    name: str
    ts: datetime
    customer_id: str | None
    email: str | None
    phone: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    order: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        """What the inbox row's ``payload`` holds: the order's fields, or the properties."""
        contacts = {k: v for k, v in (("email", self.email), ("phone", self.phone)) if v}
        if self.order is not None:
            return {**self.order, "properties": self.properties, **contacts}
        return {**self.properties, **({"_contacts": contacts} if contacts else {})}


def normalize_email(value: str) -> str:
    """E-mail addresses compare lower-cased and trimmed.

    >>> normalize_email(" Anna@School.RU ")
    'anna@school.ru'
    """
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """Phone numbers compare by their digits (a leading 8 of a Russian number becomes 7).

    >>> normalize_phone("8 (912) 000-11-22"), normalize_phone("+7 912 000 11 22")
    ('79120001122', '79120001122')
    """
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits


def _timestamp(value: Any, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < 32503680000:
            return None
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%d.%m.%Y %H:%M:%S")
        except ValueError:
            try:
                parsed = datetime.strptime(text, "%d.%m.%Y %H:%M")
            except ValueError:
                return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _amount(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
        text = re.sub(r"[^\d.\-]", "", text)
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) and abs(number) < 1e15 else None


def order_status(label: str) -> str | None:
    """The store's status of an order status label or code (GetCourse or common), or None.

    >>> order_status("Завершен"), order_status("part_payed"), order_status("refunded")
    ('paid', 'partially_paid', 'refunded')
    """
    norm = normalize_label(label)
    if norm in ORDER_STATUSES:
        return norm
    return STATUS_LABELS.get(norm)


def _text(item: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > limit or not value.strip():
        raise ValueError
    return value.strip()


def _parse_order(order: Any, index: int, problems: list[Problem]) -> dict[str, Any] | None:
    if not isinstance(order, Mapping):
        problems.append(Problem(index, "order", "an object with order_id, amount and status"))
        return None
    out: dict[str, Any] = {}
    try:
        order_id = _text(order, "order_id", _MAX_ID)
    except ValueError:
        order_id = None
    if order_id is None:
        problems.append(
            Problem(index, "order.order_id", f"a non-empty string of at most {_MAX_ID} characters")
        )
    out["order_id"] = order_id
    amount = _amount(order.get("amount"))
    if amount is None or amount < 0:
        problems.append(Problem(index, "order.amount", "a number ≥ 0 (the order's price)"))
    out["amount"] = amount
    paid_raw = order.get("paid_amount")
    paid = None if paid_raw in (None, "") else _amount(paid_raw)
    if paid_raw not in (None, "") and (paid is None or paid < 0):
        problems.append(Problem(index, "order.paid_amount", "a number ≥ 0, or nothing"))
    status_raw = order.get("status")
    status = order_status(status_raw) if isinstance(status_raw, str) else None
    if status is None:
        problems.append(
            Problem(
                index, "order.status", f"one of {', '.join(ORDER_STATUSES)} (or a GetCourse status)"
            )
        )
    if paid is None and status == "paid":
        paid = amount
    out["paid_amount"] = paid if paid is not None else 0.0
    out["status"] = status
    currency = order.get("currency")
    if currency not in (None, "") and (not isinstance(currency, str) or len(currency) > 8):
        problems.append(Problem(index, "order.currency", "a currency code such as RUB"))
    out["currency"] = currency or None
    try:
        items = _text(order, "items", _MAX_ITEMS)
    except ValueError:
        items = None
        problems.append(
            Problem(
                index,
                "order.items",
                f"the order's products as text of at most {_MAX_ITEMS} characters",
            )
        )
    if items is not None:
        out["items"] = items
    if isinstance(status_raw, str) and normalize_label(status_raw) in RETURN_REQUESTED_LABELS:
        out["return_requested"] = True
    return out


def _parse_item(
    item: Any, index: int, zone: ZoneInfo, problems: list[Problem]
) -> InboundEvent | None:
    if not isinstance(item, Mapping):
        problems.append(Problem(index, "", "an object"))
        return None
    start = len(problems)
    values: dict[str, str | None] = {}
    for column, limit in (
        ("event_id", _MAX_ID),
        ("customer_id", 128),
        ("email", 320),
        ("phone", 64),
        ("name", _MAX_NAME),
    ):
        try:
            values[column] = _text(item, column, limit)
        except ValueError:
            problems.append(Problem(index, column, f"a string of at most {limit} characters"))
            values[column] = None
            continue
    if values["event_id"] is None and not any(p.field == "event_id" for p in problems[start:]):
        problems.append(
            Problem(index, "event_id", "a unique id of this event (resending it is a no-op)")
        )
    email = values["email"]
    if email is not None and not _EMAIL.match(email):
        problems.append(Problem(index, "email", "an e-mail address"))
    phone = values["phone"]
    if phone is not None and len(normalize_phone(phone)) < 7:
        problems.append(Problem(index, "phone", "a phone number with at least 7 digits"))
    no_contact = values["customer_id"] is None and email is None and phone is None
    if no_contact and not any(
        p.field in ("customer_id", "email", "phone") for p in problems[start:]
    ):
        problems.append(
            Problem(index, "customer_id", "customer_id, or an email or phone of a known customer")
        )
    order = item.get("order")
    name: str | None = values["name"] or (PAYMENT_EVENT if order is not None else None)
    if name is None:
        if not any(p.field == "name" for p in problems[start:]):
            problems.append(Problem(index, "name", "the event's name, such as lesson_done"))
    elif not _NAME.match(name):
        problems.append(Problem(index, "name", "letters, digits and . _ : - / only"))
    ts = _timestamp(item.get("ts"), zone)
    if ts is None:
        problems.append(Problem(index, "ts", "an ISO 8601 time such as 2026-07-01T10:00:00+03:00"))
    properties = item.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        problems.append(Problem(index, "properties", "an object (JSON)"))
        properties = {}
    parsed_order = _parse_order(order, index, problems) if order is not None else None
    unknown = sorted(
        set(item)
        - {"event_id", "customer_id", "email", "phone", "name", "ts", "properties", "order"}
    )
    if unknown:
        problems.append(
            Problem(index, unknown[0], "no such field: put custom data under properties")
        )
    if len(problems) > start:
        return None
    assert ts is not None and name is not None and values["event_id"] is not None
    return InboundEvent(
        event_id=values["event_id"],
        kind="order" if parsed_order is not None else "event",
        name=name,
        ts=ts,
        customer_id=values["customer_id"],
        email=normalize_email(email) if email else None,
        phone=normalize_phone(phone) if phone else None,
        properties=dict(properties),
        order=parsed_order,
    )


def parse_batch(items: Any, *, max_batch: int, timezone: str) -> list[InboundEvent]:
    """Check a batch of events; all valid or :class:`BatchRejected` naming every problem.

    Naive timestamps are read in ``timezone`` (the workspace's); an event id repeated within
    the batch is a problem (a repeat across batches is an idempotent no-op, not an error).
    """
    if not isinstance(items, list):
        raise BatchRejected(
            [Problem(-1, "events", 'a JSON array of events (or {"events": [...]})')]
        )
    if not items:
        raise BatchRejected([Problem(-1, "events", "at least one event")])
    if len(items) > max_batch:
        raise BatchRejected(
            [
                Problem(
                    -1,
                    "events",
                    f"at most {max_batch} events per request (got {len(items)}): split the batch",
                )
            ]
        )
    zone = ZoneInfo(timezone)
    problems: list[Problem] = []
    events: list[InboundEvent] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        event = _parse_item(item, index, zone, problems)
        if event is None:
            continue
        if event.event_id in seen:
            problems.append(
                Problem(
                    index,
                    "event_id",
                    f"an id not already used by item {seen[event.event_id]} of this batch",
                )
            )
            continue
        seen[event.event_id] = index
        events.append(event)
    if problems:
        raise BatchRejected(problems[:100])
    return events
