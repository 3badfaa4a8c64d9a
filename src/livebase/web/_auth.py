"""API-key authentication of a request: ``Authorization: Bearer lb_…`` or ``X-Api-Key``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from livebase.ops.keys import ApiKey, authenticate

if TYPE_CHECKING:
    from fastapi import Request

    from livebase.web.app import ServiceState

__all__ = ["require_key"]


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key")


def require_key(state: ServiceState, request: Request, scope: str) -> ApiKey:
    """The request's key if it has ``scope`` (KeyNotValid → 401, ScopeMissing → 403)."""
    return authenticate(state.ops, presented_key(request), scope, now=state.now())
