"""ASGI middleware of the service: limits, rate limiting, security headers, access log.

- request heads over ``service.max_header_bytes`` get 431, bodies over
  ``service.max_body_bytes`` 413 (by Content-Length before reading,
  and while streaming when the length is not announced);
- public endpoints (tracking, unsubscribe, webhooks) allow ``rate_limit_per_minute`` requests
  per client IP (token bucket), then 429 with Retry-After;
- every answer carries security headers (no sniffing, no framing, no referrer, a strict CSP
  unless the router set its own, as the dashboard does for its scripts);
  no CORS headers are ever sent, so browsers keep other sites out;
- one JSON log line per request: method, route *template* (never the path, which holds tokens
  and webhook secrets), status, duration.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from livebase.web.errors import error_body
from livebase.web.metrics import ServiceMetrics

__all__ = ["PUBLIC_PREFIXES", "RateLimiter", "ServiceMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PREFIXES = ("/t/", "/u/", "/v1/hooks/")
log = logging.getLogger("livebase.web.access")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to the same.

    >>> limiter = RateLimiter(2)
    >>> [limiter.allow("1.2.3.4", now=0.0) for _ in range(3)]
    [True, True, False]
    >>> limiter.allow("1.2.3.4", now=30.0)
    True
    """

    def __init__(self, per_minute: int, *, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, *, now: float) -> bool:
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()
            self._buckets[key] = (tokens, now)
            return allowed

    def retry_after(self) -> int:
        return max(1, int(1 / self.rate + 0.999))


def _client_ip(scope: Scope, trust_forwarded: bool) -> str:
    if trust_forwarded:
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                return str(value.decode("latin-1")).split(",")[0].strip()
    client = scope.get("client")
    return str(client[0]) if client else "-"


class ServiceMiddleware:
    """Wraps the FastAPI app (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        limiter: RateLimiter,
        max_header_bytes: int = 16_384,
        metrics: ServiceMetrics,
        trust_forwarded: bool = False,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.limiter = limiter
        self.metrics = metrics
        self.trust_forwarded = trust_forwarded

    async def _refuse(
        self,
        send: Send,
        status: int,
        code: str,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = json.dumps(error_body(code, message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS,
                    *(headers or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope.get("path", "")
        status_holder = {"status": 500}
        route_label = "unmatched"

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
                # a router that sets its own header (the dashboard's CSP) keeps it
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = headers
            await send(message)

        try:
            ip = _client_ip(scope, self.trust_forwarded)
            if path.startswith(PUBLIC_PREFIXES) and not self.limiter.allow(
                ip, now=time.monotonic()
            ):
                status_holder["status"] = 429
                await self._refuse(
                    send,
                    429,
                    "rate_limited",
                    "too many requests from this address; slow down",
                    [(b"retry-after", str(self.limiter.retry_after()).encode())],
                )
                return
            head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            head += sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))
            if head > self.max_header_bytes:
                status_holder["status"] = 431
                await self._refuse(
                    send,
                    431,
                    "too_large",
                    f"request line and headers over {self.max_header_bytes} bytes",
                )
                return
            length = None
            for name, value in scope.get("headers", []):
                if name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = -1
            if length is not None and (length < 0 or length > self.max_body_bytes):
                status_holder["status"] = 413
                await self._refuse(
                    send,
                    413,
                    "too_large",
                    f"request body over {self.max_body_bytes} bytes: send smaller batches",
                )
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        # raised inside the handler that reads the body: the one error
                        # handler turns it into the JSON 413
                        from starlette.exceptions import HTTPException

                        raise HTTPException(
                            413,
                            f"request body over {self.max_body_bytes} bytes: send smaller batches",
                        )
                return message

            await self.app(scope, limited_receive, logged_send)
        finally:
            route = scope.get("route")
            route_label = getattr(route, "path", None) or route_label
            elapsed = time.perf_counter() - started
            status = status_holder["status"]
            self.metrics.requests.labels(route_label, str(status)).inc()
            self.metrics.request_seconds.labels(route_label).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    json.dumps(
                        {
                            "method": scope.get("method"),
                            "route": route_label,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                        }
                    )
                )
