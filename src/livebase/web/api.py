"""``POST /v1/events`` (scope events:write) and ``GET /v1/customers/{id}`` (customers:read)."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from livebase.ingest.inbound import BatchRejected, parse_batch
from livebase.orchestrate.customer import customer_view
from livebase.orchestrate.live import Accepted, accept_events
from livebase.web._auth import require_key
from livebase.web.app import ServiceState
from livebase.web.deps import service_state
from livebase.web.errors import ServiceError, error_body
from livebase.web.idempotency import InFlight, KeyReused

__all__ = ["router"]

router = APIRouter()


def _answer(accepted: Accepted) -> dict[str, Any]:
    return {
        "stored": accepted.stored,
        "duplicates": accepted.duplicates,
        "status_updated": sorted(set(accepted.statuses)),
        "segment_changes": [
            {
                "customer_id": c.customer_id,
                "scheme": c.scheme,
                "from": c.from_segment,
                "to": c.to_segment,
            }
            for c in accepted.changes
        ],
        "cancelled_messages": len(accepted.cancelled),
    }


def _process(state: ServiceState, body: bytes, started: float) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ServiceError(
            400, "invalid_request", "the body is not JSON: send an array of events"
        ) from None
    items = document.get("events") if isinstance(document, dict) else document
    try:
        events = parse_batch(
            items, max_batch=state.settings.max_batch, timezone=state.rules.timezone
        )
    except BatchRejected:
        state.metrics.events_rejected.labels("api").inc(
            len(items) if isinstance(items, list) else 1
        )
        raise
    try:
        accepted = accept_events(state.ops, events, state.rules, source="api", now=state.now())
    except BatchRejected:
        state.metrics.events_rejected.labels("api").inc(len(events))
        raise
    state.metrics.events_received.labels("api", "new").inc(accepted.stored)
    state.metrics.events_received.labels("api", "duplicate").inc(accepted.duplicates)
    if accepted.statuses:
        state.metrics.status_latency.observe(time.perf_counter() - started)
    return _answer(accepted)


@router.post("/v1/events")
async def post_events(request: Request, state: ServiceState = Depends(service_state)) -> Response:
    """Store a batch of events and payments; update live statuses. See the README."""
    started = time.perf_counter()
    key = await run_in_threadpool(require_key, state, request, "events:write")
    body = await request.body()
    idem = request.headers.get("idempotency-key")
    if idem is not None:
        if not 0 < len(idem) <= 255:
            raise ServiceError(
                400, "invalid_request", "Idempotency-Key must be 1 to 255 characters"
            )
        try:
            replay = state.idempotency.begin(key.id, idem, body, now=time.monotonic())
        except InFlight as exc:
            raise ServiceError(409, "conflict", str(exc)) from None
        except KeyReused as exc:
            raise ServiceError(422, "idempotency_key_reused", str(exc)) from None
        if replay is not None:
            return Response(
                replay[1],
                replay[0],
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
    try:
        answer = await run_in_threadpool(_process, state, body, started)
    except (BatchRejected, ServiceError) as exc:
        if idem is not None:
            if isinstance(exc, BatchRejected):
                payload = error_body(
                    "invalid_batch", str(exc), problems=[p.as_dict() for p in exc.problems]
                )
                state.idempotency.finish(key.id, idem, 422, json.dumps(payload).encode())
            else:
                state.idempotency.abandon(key.id, idem)
        raise
    except BaseException:
        if idem is not None:
            state.idempotency.abandon(key.id, idem)
        raise
    content = json.dumps(answer).encode()
    if idem is not None:
        state.idempotency.finish(key.id, idem, 200, content)
    return Response(content, 200, media_type="application/json")


@router.get("/v1/customers/{customer_id}")
def get_customer(
    customer_id: str, request: Request, state: ServiceState = Depends(service_state)
) -> dict[str, Any]:
    """A customer's live status: segments with since, features, thresholds, journeys."""
    require_key(state, request, "customers:read")
    try:
        customer_id.encode("utf-8")
    except UnicodeEncodeError:
        raise ServiceError(404, "not_found", "no such customer") from None
    if len(customer_id) > 128:
        raise ServiceError(404, "not_found", "no such customer")
    view = customer_view(state.ops, customer_id)
    if view is None:
        raise ServiceError(404, "not_found", "no such customer in the operational store")
    return view
