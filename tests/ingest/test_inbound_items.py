"""An order's products (``items``) come through the API and the GetCourse hook, so the
signals that filter orders by item (``items_like``) count live and batch alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from livebase.ingest.getcourse_hook import getcourse_hook_event
from livebase.ingest.inbound import BatchRejected, parse_batch

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def _order(**order: object) -> dict[str, object]:
    return {"event_id": "p1", "customer_id": "c1", "ts": "2026-07-01T10:00:00Z",
            "order": {"order_id": "77", "amount": 990, "status": "paid", **order}}  # fmt: skip


def test_the_api_keeps_an_orders_items() -> None:
    (event,) = parse_batch([_order(items="Подписка на месяц")], max_batch=10, timezone="UTC")
    assert event.order is not None
    assert event.order["items"] == "Подписка на месяц"
    assert event.payload()["items"] == "Подписка на месяц"
    (plain,) = parse_batch([_order()], max_batch=10, timezone="UTC")
    assert plain.order is not None and "items" not in plain.order


@pytest.mark.parametrize("items", [["a", "b"], "x" * 2001, 12.5])
def test_items_that_are_not_short_text_are_refused_by_name(items: object) -> None:
    with pytest.raises(BatchRejected) as caught:
        parse_batch([_order(items=items)], max_batch=10, timezone="UTC")
    assert caught.value.problems[0].field == "order.items"
    assert "2000 characters" in caught.value.problems[0].expected


@pytest.mark.parametrize("field", ["positions", "deal.positions", "Состав заказа", "Предложения"])
def test_the_getcourse_hook_reads_the_deals_products(field: str) -> None:
    event = getcourse_hook_event(
        {"user_id": "1001", "deal_number": "77", "cost": "990", "payed": "990",
         "status": "Завершен", field: "Годовая подписка"},
        now=NOW, timezone="Europe/Moscow",
    )  # fmt: skip
    assert event.order is not None and event.order["items"] == "Годовая подписка"


def test_an_unfilled_getcourse_variable_is_no_product() -> None:
    event = getcourse_hook_event(
        {"user_id": "1001", "deal_number": "77", "cost": "990", "status": "Завершен",
         "positions": "{object.positions}"},
        now=NOW, timezone="Europe/Moscow",
    )  # fmt: skip
    assert event.order is not None and "items" not in event.order
