"""The service's one error handler: every error is JSON with a stable code, never a traceback.

Codes: ``invalid_batch``, ``invalid_request``, ``unauthorized``, ``forbidden``, ``not_found``,
``too_large``, ``rate_limited``, ``conflict``, ``unavailable``, ``internal``.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["ServiceError", "error_body", "install_error_handlers"]

log = logging.getLogger("livebase.web")


class ServiceError(Exception):
    """An answer other than success: HTTP status, stable code, message for the caller."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON of an error answer.

    >>> error_body("not_found", "no such customer")
    {'error': {'code': 'not_found', 'message': 'no such customer'}}
    """
    return {"error": {"code": code, "message": message, **extra}}


_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def install_error_handlers(app: Any) -> None:
    """Register the handlers on a FastAPI app."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from livebase.errors import LivebaseError, StoreError
    from livebase.ingest.inbound import BatchRejected
    from livebase.ops.keys import KeyNotValid, ScopeMissing

    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers
        )

    async def rejected(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BatchRejected)
        return JSONResponse(
            error_body("invalid_batch", str(exc), problems=[p.as_dict() for p in exc.problems]),
            422,
        )

    async def key_invalid(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("unauthorized", str(exc)), 401, headers={"WWW-Authenticate": "Bearer"}
        )

    async def scope_missing(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body("forbidden", str(exc)), 403)

    async def store_error(_: Request, exc: Exception) -> JSONResponse:
        log.error("store error: %s", exc)
        return JSONResponse(
            error_body("unavailable", "the operational store is busy; retry shortly"),
            503,
            headers={"Retry-After": "1"},
        )

    async def livebase_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", str(exc)), 400)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "expected": e.get("msg", "")}
            for e in exc.errors()[:20]
        ]
        return JSONResponse(
            error_body("invalid_request", "the request is not valid", problems=problems), 422
        )

    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("internal", "internal error; it was logged on the server"), 500
        )

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(BatchRejected, rejected)
    app.add_exception_handler(KeyNotValid, key_invalid)
    app.add_exception_handler(ScopeMissing, scope_missing)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(LivebaseError, livebase_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal)
