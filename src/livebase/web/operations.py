"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Response

from livebase.web.app import ServiceState
from livebase.web.deps import service_state
from livebase.web.errors import ServiceError

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz")
def healthz(state: ServiceState = Depends(service_state)) -> dict[str, Any]:
    """``{"status": "ok"}`` when the operational store answers; 503 otherwise."""
    try:
        with state.ops.read() as con:
            con.execute(sa.text("SELECT 1"))
    except Exception:
        raise ServiceError(503, "unavailable", "the operational store does not answer") from None
    return {"status": "ok", "store": state.ops.dialect}


@router.get("/metrics")
def metrics(state: ServiceState = Depends(service_state)) -> Response:
    """Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(state.metrics.render(state.ops, state.now()), media_type=CONTENT_TYPE_LATEST)
