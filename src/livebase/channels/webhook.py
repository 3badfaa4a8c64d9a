"""Webhooks over HTTP (httpx): a signed JSON POST with an Idempotency-Key, for push providers
and any system that takes messages by HTTP (``type: webhook``).

Every request carries ``Idempotency-Key: <outbox key>`` (the same on every resend) and, when
``secret_env`` is set, ``X-Livebase-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`` so the receiver can check it came from this workspace (:func:`verify_signature`).

Answers map as: 2xx → sent (``id`` and ``cost`` of a JSON answer are kept); 409 (the same key in
flight) and 429 → retry, honouring ``Retry-After``; 410 → suppress; other 4xx → failed;
5xx → retry. A refused connection is retry; a timeout after the request left is uncertain.

>>> sig = signature_header(b"secret", b'{"a":1}', timestamp=1700000000)
>>> sig
't=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686'
>>> verify_signature(b"secret", b'{"a":1}', sig, now=1700000100)
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from livebase.channels.base import OutgoingMessage, SendOutcome
from livebase.channels.settings import ChannelSettings
from livebase.errors import ChannelError

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookChannel",
    "http_outcome",
    "request_error_outcome",
    "signature_header",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Livebase-Signature"


def signature_header(secret: bytes, body: bytes, *, timestamp: int) -> str:
    """The value of ``X-Livebase-Signature`` for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: bytes, body: bytes, header: str, *, now: int, tolerance: int = 300
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature_header(secret, body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _retry_after(response: httpx.Response, payload: Mapping[str, Any] | None) -> float | None:
    if payload is not None:
        params = payload.get("parameters")
        if isinstance(params, Mapping) and "retry_after" in params:
            try:
                return float(params["retry_after"])
            except (TypeError, ValueError):
                pass
    header = response.headers.get("Retry-After")
    if header is not None:
        try:
            return float(header)
        except ValueError:
            return None
    return None


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def http_outcome(response: httpx.Response, *, what: str) -> SendOutcome:
    """The outcome of a generic HTTP answer (see the module docstring)."""
    payload = _json(response)
    code = response.status_code
    detail = f"{what} {code}"
    if payload is not None and isinstance(payload.get("description") or payload.get("error"), str):
        detail += f": {payload.get('description') or payload.get('error')}"
    detail = detail[:300]
    if 200 <= code < 300:
        provider_id = None if payload is None else payload.get("id")
        cost = None if payload is None else payload.get("cost")
        return SendOutcome.sent(
            None if provider_id is None else str(provider_id),
            cost=None if cost is None else float(cost),
            detail=detail,
        )
    if code in (409, 429) or code >= 500:
        return SendOutcome.retry(detail, retry_after=_retry_after(response, payload))
    if code == 410:
        return SendOutcome.suppress(detail, reason="blocked")
    return SendOutcome.failed(detail)


def request_error_outcome(exc: httpx.HTTPError, *, what: str) -> SendOutcome:
    """The outcome of a request that got no answer: retry when the request never left
    (refused, pool or connect timeout), uncertain when it may have been processed."""
    text = f"{what}: {type(exc).__name__}"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return SendOutcome.retry(text)
    return SendOutcome.uncertain(text)


def http_client(settings: ChannelSettings) -> httpx.AsyncClient:
    """An HTTP client with the channel's timeout and ``pool_size`` connections."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout_seconds),
        limits=httpx.Limits(
            max_connections=settings.pool_size, max_keepalive_connections=settings.pool_size
        ),
        verify=settings.ca_file or True,
    )


class WebhookChannel:
    """POST each message as JSON to ``url`` (push providers, any HTTP receiver).

    The body: ``{"idempotency_key", "message", "customer_id", "to", "title", "text", "html",
    "playbook", "step", "data"}`` — ``message`` is the opaque token of the key.
    """

    def __init__(
        self,
        name: str,
        settings: ChannelSettings,
        *,
        secret: str | None = None,
    ) -> None:
        url = settings.url or settings.base_url
        if url is None:
            raise ChannelError("a webhook channel needs url", channel=name, key="url")
        self.name = name
        self.settings = settings
        self.url = url
        self._secret = None if secret is None else secret.encode()
        self._client = http_client(settings)

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "idempotency_key": message.key,
            "message": message.token,
            "customer_id": message.customer_id,
            "to": message.address,
            "title": message.subject,
            "text": message.text,
            "html": message.html,
            "playbook": message.playbook,
            "step": message.step,
            "data": dict(message.data),
        }

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        body = json.dumps(self.body(message), ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.key}
        if self._secret is not None:
            timestamp = int(message.date.timestamp()) if message.date is not None else 0
            headers[SIGNATURE_HEADER] = signature_header(self._secret, body, timestamp=timestamp)
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return request_error_outcome(exc, what="webhook")
        return http_outcome(response, what="webhook")

    async def check(self) -> str:
        """Whether the receiver answers at all (any HTTP status counts as reachable)."""
        try:
            response = await self._client.request("HEAD", self.url)
        except httpx.HTTPError as exc:
            raise ChannelError(
                f"cannot reach {self.url} ({type(exc).__name__})", channel=self.name, key="url"
            ) from None
        return f"{self.url} answers {response.status_code}"

    async def close(self) -> None:
        await self._client.aclose()
