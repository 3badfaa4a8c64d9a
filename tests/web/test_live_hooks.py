"""A payment through the API or GetCourse updates the live status at once, writes segment
changes and cancels the pending step of a journey whose exit_when holds; provider reports."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from livebase.ops.tables import (
    CUSTOMER_STATUS,
    JOURNEYS,
    OUTBOX,
    SEGMENT_CHANGES,
    SEND_LEDGER,
    STATUS_THRESHOLDS,
    SUPPRESSIONS,
)
from livebase.orchestrate.live import ExitWhen, LiveRules

NOW_DAY = date(2026, 7, 1)
RFM = {
    "R": {"feature": "recency_days", "scores": [
        {"score": 1, "min": 300, "max": 900}, {"score": 3, "min": 60, "max": 299},
        {"score": 5, "min": 0, "max": 59}]},
    "F": {"feature": "frequency", "scores": [
        {"score": 1, "min": 1, "max": 1}, {"score": 4, "min": 2, "max": 99}]},
    "M": {"feature": "monetary", "scores": [
        {"score": 2, "min": 0, "max": 1000}, {"score": 4, "min": 1001, "max": 10**9}]},
}  # fmt: skip


def _seed(service: Any) -> None:
    """A published run: customer c1 bought once 400 days ago (rfm 112, named Hibernating or so),
    and is in a running win-back journey with a queued SMS."""
    from livebase.segments.live import assign_live

    doc = {
        "schemes": {
            "rfm": {"kind": "quantile", "dimensions": RFM},
            "abc": {"kind": "abc", "monetary_a_min": 5000.0, "monetary_b_min": 900.0},
        }
    }
    features = {
        "recency_days": 400, "frequency": 1, "monetary": 990.0, "orders_total": 1, "ltv": 990.0,
        "paid_days_total": 1, "first_paid_date": "2025-05-27", "last_paid_date": "2025-05-27",
        "first_seen_date": "2025-05-27", "tenure_days": 400, "days_since_first_paid": 400,
    }  # fmt: skip
    settings = service.workspace.config.segments
    segments = assign_live(features, doc, settings)
    now = service.client.app.state.livebase.now()
    with service.ops.begin() as con:
        con.execute(
            STATUS_THRESHOLDS.insert().values(
                version="v1", as_of=NOW_DAY, thresholds=doc, created_at=now
            )
        )
        con.execute(
            CUSTOMER_STATUS.insert().values(
                customer_id="c1",
                email="anna@school.ru",
                phone="79120001122",
                features=features,
                segments=segments,
                since={k: "2025-06-01" for k in segments},
                thresholds_version="v1",
                as_of=NOW_DAY,
                updated_at=now,
                source="batch",
            )
        )
        con.execute(
            JOURNEYS.insert().values(
                customer_id="c1",
                playbook="winback",
                occurrence=1,
                entered_at=now,
                arm="treatment",
                state="active",
                next_step="sms",
                next_due_at=now + timedelta(hours=2),
                updated_at=now,
            )
        )
        con.execute(
            OUTBOX.insert().values(
                key="c1|winback|1|sms",
                customer_id="c1",
                playbook="winback",
                occurrence=1,
                step="sms",
                channel="sms",
                due_at=now + timedelta(hours=2),
                created_at=now,
                updated_at=now,
            )
        )


def _with_exit(service: Any) -> None:
    state = service.client.app.state.livebase
    state.rules = LiveRules(
        segments=state.rules.segments,
        features=state.rules.features,
        timezone=state.rules.timezone,
        exits={"winback": ExitWhen(events=frozenset({"order"}))},
    )


def test_payment_updates_status_and_cancels_the_pending_winback(service: Any) -> None:
    _seed(service)
    _with_exit(service)
    payment = {
        "event_id": "pay-1", "customer_id": "c1", "ts": "2026-07-01T11:59:00Z",
        "order": {"order_id": "o9", "amount": 4990, "status": "paid", "currency": "RUB"},
    }  # fmt: skip
    r = service.client.post("/v1/events", json=[payment], headers=service.auth())
    assert r.status_code == 200, r.text
    assert r.json()["status_updated"] == ["c1"] and r.json()["cancelled_messages"] == 1
    with service.ops.read() as con:
        status = con.execute(sa.select(CUSTOMER_STATUS)).mappings().one()
        changes = con.execute(sa.select(SEGMENT_CHANGES)).mappings().all()
        outbox = con.execute(sa.select(OUTBOX.c.status)).scalar_one()
        journey = con.execute(sa.select(JOURNEYS.c.state, JOURNEYS.c.exit_reason)).one()
        ledger = con.execute(sa.select(SEND_LEDGER.c.event_id, SEND_LEDGER.c.type)).all()
    assert status["features"]["recency_days"] == 0 and status["features"]["frequency"] == 2
    assert status["segments"]["rfm"] == "544" and status["source"] == "live"
    assert status["since"]["rfm"] == "2026-07-01"
    assert {(c["scheme"], c["to_segment"]) for c in changes} >= {("rfm", "544")}
    assert outbox == "cancelled" and tuple(journey) == ("exited", "order")
    assert [tuple(x) for x in ledger] == [("c1|winback|1|sms:cancelled", "cancelled")]
    # the same payment again changes nothing
    r = service.client.post("/v1/events", json=[payment], headers=service.auth())
    assert r.json()["duplicates"] == 1 and r.json()["status_updated"] == [], r.text
    view = service.client.get("/v1/customers/c1", headers=service.auth("customers:read"))
    assert view.status_code == 200
    assert view.json()["segments"]["rfm"] == {"segment": "544", "since": "2026-07-01"}
    assert view.json()["journeys"] == []
    assert "email" not in view.json()
    assert service.client.get("/v1/customers/c1", headers=service.auth()).status_code == 403


def test_getcourse_call_url_records_a_deal_once(service: Any) -> None:
    _seed(service)
    secret = service.keys["hooks"]
    query = {
        "user_id": "c1", "email": "anna@school.ru", "deal_number": "77", "status": "Завершен",
        "cost": "4 990 руб.", "payed": "4990", "date": "01.07.2026 14:00",
    }  # fmt: skip
    r = service.client.get(f"/v1/hooks/getcourse/{secret}", params=query)
    assert r.status_code == 200, r.text
    assert r.json()["status_updated"] is True
    r = service.client.post(f"/v1/hooks/getcourse/{secret}", data=query)
    assert r.json()["stored"] == 0
    assert (
        service.client.get(
            f"/v1/hooks/getcourse/{service.keys['events:write']}", params=query
        ).status_code
        == 403
    )
    assert service.client.get("/v1/hooks/getcourse/lb_nope_x", params=query).status_code == 401


def test_hard_bounce_and_complaint_suppress(service: Any) -> None:
    _seed(service)
    from livebase.workspace import Workspace

    ws = service.workspace
    from livebase.channels.settings import ChannelSettings

    config = ws.config.model_copy(update={"channels": {"sms": ChannelSettings()}})
    service.client.app.state.livebase.workspace = Workspace(ws.root, config)
    secret = service.keys["hooks"]
    r = service.client.post(
        f"/v1/hooks/sms/{secret}", json={"key": "c1|winback|1|sms", "status": "delivered"}
    )
    assert r.status_code == 200 and r.json()["recorded"] == "delivered"
    r = service.client.post(
        f"/v1/hooks/sms/{secret}",
        data={"key": "c1|winback|1|sms", "status": "bounce", "bounce_type": "hard"},
    )
    assert r.json()["recorded"] == "bounced"
    r = service.client.post(f"/v1/hooks/sms/{secret}", json={"key": "nope", "status": "delivered"})
    assert r.status_code == 404
    with service.ops.read() as con:
        suppressed = con.execute(sa.select(SUPPRESSIONS.c.channel, SUPPRESSIONS.c.reason)).all()
        types = sorted(t for (t,) in con.execute(sa.select(SEND_LEDGER.c.type)).all())
    assert [tuple(s) for s in suppressed] == [("sms", "bounce")]
    assert types == ["bounced", "delivered"]
