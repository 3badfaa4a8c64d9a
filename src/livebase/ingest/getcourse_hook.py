"""What a GetCourse process sends to a "call URL" webhook, as one :class:`InboundEvent`.

The templated user and deal fields are read with the ``getcourse`` preset's header aliases and
status labels, so a webhook and the orders export agree on what a deal is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from livebase.ingest.inbound import (
    _EMAIL,
    _MAX_NAME,
    _NAME,
    PAYMENT_EVENT,
    BatchRejected,
    InboundEvent,
    Problem,
    _parse_order,
    _timestamp,
    normalize_email,
    normalize_phone,
)
from livebase.ingest.presets import PRESETS, normalize_header

__all__ = ["getcourse_hook_event"]


def _pick(params: Mapping[str, str], field_name: str, preset: str = "getcourse") -> str | None:
    spec = PRESETS[preset].field(field_name)
    for key, value in params.items():
        if value is not None and str(value).strip() != "" and spec.matches(key):
            return str(value).strip()
    return None


_HOOK_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("user_id", "uid", "user.id", "object.user.id", "id пользователя"),
    "email": ("email", "user.email", "object.user.email", "object.email"),
    "phone": ("phone", "user.phone", "object.user.phone", "object.phone"),
    "order_id": ("deal_id", "deal_number", "number", "deal.number", "object.number", "order_id"),
    "status": ("status", "deal.status", "object.status", "deal_status"),
    "amount": ("cost", "deal.cost", "object.cost_money_value", "cost_money_value", "amount"),
    "paid_amount": (
        "payed",
        "paid",
        "deal.payed",
        "object.payed_money_value",
        "payed_money_value",
        "paid_amount",
    ),
    "currency": ("currency", "deal.currency"),
    "items": ("positions", "deal.positions", "offers", "deal.offers", "product_title", "items"),
    "ts": ("ts", "date", "time", "created_at", "deal.created_at", "payed_at", "paid_at"),
    "event": ("event", "name", "action"),
}


def _hook_value(params: Mapping[str, str], name: str) -> str | None:
    normalized = {normalize_header(k): v for k, v in params.items()}
    for alias in _HOOK_ALIASES.get(name, ()):
        value = normalized.get(normalize_header(alias))
        if value is not None and value.strip() != "" and not _unfilled(value):
            return value.strip()
    preset_field = {
        "customer_id": "customer_id",
        "email": "email",
        "phone": "phone",
        "order_id": "order_id",
        "status": "status",
        "amount": "amount",
        "paid_amount": "paid_amount",
        "currency": "currency",
        "items": "items",
    }.get(name)
    if preset_field is not None:
        value = _pick({k: v for k, v in params.items() if not _unfilled(v)}, preset_field)
        if value is not None:
            return value
    return None


def _unfilled(value: str) -> bool:
    """GetCourse leaves ``{object.x}`` as is when a variable is unknown."""
    text = value.strip()
    return text.startswith("{") and text.endswith("}")


def getcourse_hook_event(
    params: Mapping[str, str], *, now: datetime, timezone: str
) -> InboundEvent:
    """The event or order of one GetCourse "call URL" request (query string or form fields).

    With a deal number the request is an order (status mapped with the getcourse preset's
    labels); without one, an event named by ``event`` (default ``getcourse``). The event id
    is derived from what was sent, so a retried call is stored once. ``now`` stands for the
    time when GetCourse sends no date.

    >>> from datetime import UTC, datetime
    >>> e = getcourse_hook_event({"user_id": "1001", "email": "A@x.ru", "deal_number": "77",
    ...     "status": "Завершен", "cost": "4 990 руб.", "payed": "4990"},
    ...     now=datetime(2026, 7, 1, tzinfo=UTC), timezone="Europe/Moscow")
    >>> e.kind, e.customer_id, e.order["order_id"], e.order["status"], e.order["paid_amount"]
    ('order', '1001', '77', 'paid', 4990.0)
    """
    import hashlib

    zone = ZoneInfo(timezone)
    customer_id = _hook_value(params, "customer_id")
    email = _hook_value(params, "email")
    phone = _hook_value(params, "phone")
    order_id = _hook_value(params, "order_id")
    ts_raw = _hook_value(params, "ts")
    ts = _timestamp(ts_raw, zone) if ts_raw is not None else None
    problems: list[Problem] = []
    if customer_id is None and email is None and phone is None:
        problems.append(Problem(0, "user_id", "{object.user.id} or {object.user.email} in the URL"))
    if ts_raw is not None and ts is None:
        problems.append(Problem(0, "date", "a date such as 01.07.2026 10:00 or ISO 8601"))
    order: dict[str, Any] | None = None
    if order_id is not None:
        order = _parse_order(
            {
                "order_id": order_id,
                "amount": _hook_value(params, "amount")
                or _hook_value(params, "paid_amount")
                or "0",
                "paid_amount": _hook_value(params, "paid_amount"),
                "status": _hook_value(params, "status") or "",
                "currency": _hook_value(params, "currency"),
                "items": (_hook_value(params, "items") or "")[:2000] or None,
            },
            0,
            problems,
        )
    if email is not None and not _EMAIL.match(email):
        problems.append(Problem(0, "email", "an e-mail address"))
    if problems:
        raise BatchRejected(problems)
    name = PAYMENT_EVENT if order is not None else (_hook_value(params, "event") or "getcourse")
    if not _NAME.match(name) or len(name) > _MAX_NAME:
        raise BatchRejected([Problem(0, "event", "letters, digits and . _ : - / only")])
    identity = "|".join(
        str(x)
        for x in (
            customer_id,
            email,
            order_id,
            order and order["status"],
            order and order["paid_amount"],
            name,
            ts_raw,
        )
    )
    event_id = "gc:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
    extras = {
        k: v
        for k, v in params.items()
        if len(k) <= 64 and k not in ("key", "secret") and not _unfilled(v)
    }
    return InboundEvent(
        event_id=event_id,
        kind="order" if order is not None else "event",
        name=name,
        ts=ts or now.astimezone(UTC),
        customer_id=customer_id,
        email=normalize_email(email) if email else None,
        phone=normalize_phone(phone) if phone else None,
        properties={"getcourse": dict(list(extras.items())[:50])},
        order=order,
    )
