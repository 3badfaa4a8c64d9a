"""Per-IP rate limiting of public endpoints, and a journey exit on a payment made before any
segmentation was published."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from livebase.ops.tables import JOURNEYS, OUTBOX
from livebase.orchestrate.live import ExitWhen, LiveRules
from livebase.web.settings import ServiceSettings
from livebase.workspace import Workspace


def test_public_endpoints_are_rate_limited_per_ip(workspace: Workspace, ops_store: Any) -> None:
    from fastapi.testclient import TestClient

    from livebase.web.app import create_app

    config = workspace.config.model_copy(
        update={"service": ServiceSettings(rate_limit_per_minute=3)}
    )
    app = create_app(Workspace(workspace.root, config), ops=ops_store)
    with TestClient(app, raise_server_exceptions=False) as client:
        codes = [client.get("/v1/hooks/getcourse/lb_x_y").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        limited = client.get("/u/token/sig")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        assert client.get("/healthz").status_code == 200  # not a public endpoint


def test_a_payment_ends_the_journey_even_without_published_thresholds(service: Any) -> None:
    now = service.client.app.state.livebase.now()
    with service.ops.begin() as con:
        con.execute(
            JOURNEYS.insert().values(
                customer_id="c9", playbook="winback", occurrence=2, entered_at=now,
                arm="treatment", state="active", updated_at=now,
            )
        )  # fmt: skip
        con.execute(
            OUTBOX.insert().values(
                key="c9|winback|2|email", customer_id="c9", playbook="winback", occurrence=2,
                step="email", channel="email", due_at=now + timedelta(days=1), created_at=now,
                updated_at=now,
            )
        )  # fmt: skip
    state = service.client.app.state.livebase
    state.rules = LiveRules(exits={"winback": ExitWhen(events=frozenset({"purchase"}))})
    pending = {
        "event_id": "p0", "customer_id": "c9", "ts": "2026-07-01T11:00:00Z",
        "order": {"order_id": "o1", "amount": 100, "status": "pending"},
    }  # fmt: skip
    r = service.client.post("/v1/events", json=[pending], headers=service.auth())
    assert r.json()["cancelled_messages"] == 0
    paid = {**pending, "event_id": "p1", "order": {**pending["order"], "status": "paid"}}
    r = service.client.post("/v1/events", json=[paid], headers=service.auth())
    assert r.status_code == 200 and r.json()["status_updated"] == []
    assert r.json()["cancelled_messages"] == 1
    with service.ops.read() as con:
        assert con.execute(sa.select(OUTBOX.c.status)).scalar_one() == "cancelled"


def test_a_plugged_router_is_served_and_keeps_its_own_csp(
    workspace: Workspace, ops_store: Any
) -> None:
    from fastapi import APIRouter, Depends, Response
    from fastapi.testclient import TestClient

    from livebase.web.app import ServiceState, create_app
    from livebase.web.deps import service_state

    router = APIRouter()

    @router.get("/dashboard/ping")
    def ping(state: ServiceState = Depends(service_state)) -> Response:
        return Response(state.ops.dialect, headers={"Content-Security-Policy": "script-src 'self'"})

    app = create_app(workspace, ops=ops_store, routers=[router])
    with TestClient(app) as client:
        r = client.get("/dashboard/ping")
    assert r.status_code == 200 and r.text == ops_store.dialect
    assert r.headers["content-security-policy"] == "script-src 'self'"
    assert r.headers["x-frame-options"] == "DENY"
