"""Webhooks: GetCourse's process "call URL" and the providers' delivery reports.

The ``{secret}`` in the URL is an API key with the scope ``hooks`` (GetCourse cannot send
headers); it is never logged (the access log records route templates only).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from livebase.ingest.getcourse_hook import getcourse_hook_event
from livebase.ingest.inbound import BatchRejected
from livebase.ops.keys import authenticate
from livebase.orchestrate.live import accept_events
from livebase.orchestrate.reactions import ProviderReport, UnknownMessage, record_provider_report
from livebase.web.app import ServiceState
from livebase.web.deps import service_state
from livebase.web.errors import ServiceError

__all__ = ["router"]

router = APIRouter()


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    body = await request.body()
    if body:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                document = json.loads(body)
            except ValueError:
                raise ServiceError(400, "invalid_request", "the body is not JSON") from None
            if not isinstance(document, Mapping):
                raise ServiceError(400, "invalid_request", "expected a JSON object of fields")
            params.update({str(k): "" if v is None else str(v) for k, v in document.items()})
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = body.decode("cp1251", errors="replace")
            params.update(dict(parse_qsl(text, keep_blank_values=True)))
    return params


def _getcourse(
    state: ServiceState, secret: str, params: dict[str, str], started: float
) -> dict[str, Any]:
    authenticate(state.ops, secret, "hooks", now=state.now())
    try:
        event = getcourse_hook_event(params, now=state.now(), timezone=state.rules.timezone)
        accepted = accept_events(
            state.ops, [event], state.rules, source="getcourse_hook", now=state.now()
        )
    except BatchRejected:
        state.metrics.events_rejected.labels("getcourse_hook").inc()
        raise
    state.metrics.events_received.labels("getcourse_hook", "new").inc(accepted.stored)
    state.metrics.events_received.labels("getcourse_hook", "duplicate").inc(accepted.duplicates)
    if accepted.statuses:
        state.metrics.status_latency.observe(time.perf_counter() - started)
    return {
        "ok": True,
        "event_id": event.event_id,
        "stored": accepted.stored,
        "status_updated": bool(accepted.statuses),
    }


@router.api_route("/v1/hooks/getcourse/{secret}", methods=["GET", "POST"])
async def getcourse_hook(
    secret: str, request: Request, state: ServiceState = Depends(service_state)
) -> dict[str, Any]:
    """What a GetCourse process's "call URL" sends (query string, form or JSON fields)."""
    started = time.perf_counter()
    params = await _params(request)
    return await run_in_threadpool(_getcourse, state, secret, params, started)


_KEY_FIELDS = ("key", "message_key", "idempotency_key", "outbox_key")
_ID_FIELDS = ("message_id", "id", "sms_id", "smtp-id", "msg_id", "messageid")
_STATUS_FIELDS = ("status", "event", "type", "state")


def _first(params: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in params.items()}
    for name in names:
        value = lowered.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def _provider(
    state: ServiceState, channel: str, secret: str, params: dict[str, str]
) -> dict[str, Any]:
    authenticate(state.ops, secret, "hooks", now=state.now())
    status = _first(params, _STATUS_FIELDS)
    if status is None:
        raise ServiceError(
            422, "invalid_request", "a report needs a status (delivered, bounced, complaint…)"
        )
    bounce = (params.get("bounce_type") or params.get("bounce") or "hard").lower()
    report = ProviderReport(
        key=_first(params, _KEY_FIELDS),
        message_id=_first(params, _ID_FIELDS),
        status=status,
        hard=bounce not in ("soft", "transient", "temporary"),
        reason=_first(params, ("reason", "description", "error")),
    )
    channels = dict(state.workspace.config.channels)
    try:
        with state.ops.begin() as con:
            written = record_provider_report(con, report, state.now(), channels=channels)
    except UnknownMessage as exc:
        raise ServiceError(404, "not_found", str(exc)) from None
    return {"ok": True, "recorded": written, "channel": channel}


@router.post("/v1/hooks/{channel}/{secret}")
async def provider_hook(
    channel: str, secret: str, request: Request, state: ServiceState = Depends(service_state)
) -> dict[str, Any]:
    """A provider's delivery report (JSON or form): message key or id, status, bounce type."""
    if channel not in state.workspace.config.channels:
        raise ServiceError(404, "not_found", "no such channel in livebase.yaml")
    params = await _params(request)
    return await run_in_threadpool(_provider, state, channel, secret, params)
