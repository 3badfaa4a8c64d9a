"""Telegram Bot API (``type: telegram``): ``sendMessage`` to the customer's chat id.

The chat id comes from the customer's ``attributes.telegram_chat_id`` (a bot cannot start a
chat: the customer must have pressed /start). Answers map as: ``ok`` → sent (the Telegram
message_id is kept); 429 → retry after ``parameters.retry_after`` seconds; 403 ("bot was
blocked by the user", "user is deactivated") → suppress with reason ``blocked``; 400 "chat not
found" → suppress; other 4xx → failed; 5xx → retry. The bot token is part of the URL, so it
never appears in an outcome or an error message.

>>> telegram_outcome(403, {"ok": False, "error_code": 403,
...     "description": "Forbidden: bot was blocked by the user"}).status
'suppress'
>>> telegram_outcome(429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
...     "parameters": {"retry_after": 7}}).retry_after
7.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from livebase.channels.base import OutgoingMessage, SendOutcome
from livebase.channels.settings import ChannelSettings
from livebase.channels.webhook import http_client, request_error_outcome
from livebase.errors import ChannelError

__all__ = ["TELEGRAM_API", "TelegramChannel", "telegram_outcome"]

TELEGRAM_API = "https://api.telegram.org"


def telegram_outcome(status: int, payload: Mapping[str, Any] | None) -> SendOutcome:
    """The outcome of a ``sendMessage`` answer (see the module docstring)."""
    payload = payload or {}
    description = str(payload.get("description") or "")[:200]
    detail = f"telegram {status}: {description}".rstrip(": ")
    if status == 200 and payload.get("ok"):
        result = payload.get("result") or {}
        message_id = result.get("message_id") if isinstance(result, Mapping) else None
        return SendOutcome.sent(None if message_id is None else str(message_id), detail=detail)
    if status == 429:
        params = payload.get("parameters") or {}
        retry_after = params.get("retry_after") if isinstance(params, Mapping) else None
        return SendOutcome.retry(
            detail, retry_after=None if retry_after is None else float(retry_after)
        )
    if status == 403:
        return SendOutcome.suppress(detail, reason="blocked")
    if status == 400 and "chat not found" in description.lower():
        return SendOutcome.suppress(detail, reason="blocked")
    if status >= 500:
        return SendOutcome.retry(detail)
    return SendOutcome.failed(detail)


class TelegramChannel:
    """Send text through a Telegram bot (see the module docstring)."""

    def __init__(self, name: str, settings: ChannelSettings, *, token: str) -> None:
        if not token:
            raise ChannelError("the bot token is empty", channel=name, key="token_env")
        self.name = name
        self.settings = settings
        self._base = (settings.base_url or TELEGRAM_API).rstrip("/")
        self._token = token
        self._client = http_client(settings)

    def _url(self, method: str) -> str:
        return f"{self._base}/bot{self._token}/{method}"

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        body: dict[str, Any] = {
            "chat_id": message.address,
            "text": message.text,
            "link_preview_options": {"is_disabled": True},
        }
        if self.settings.parse_mode != "none":
            body["parse_mode"] = self.settings.parse_mode
        try:
            response = await self._client.post(self._url("sendMessage"), json=body)
        except httpx.HTTPError as exc:
            return request_error_outcome(exc, what="telegram")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return telegram_outcome(
            response.status_code, payload if isinstance(payload, dict) else None
        )

    async def check(self) -> str:
        """``getMe``: the token is valid; returns the bot's username."""
        try:
            response = await self._client.get(self._url("getMe"))
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChannelError(
                f"cannot reach {self._base} ({type(exc).__name__})",
                channel=self.name,
                key="base_url",
            ) from None
        if response.status_code != 200 or not payload.get("ok"):
            raise ChannelError(
                f"Telegram refused the bot token ({response.status_code}): check the secret named "
                f"by token_env ({self.settings.token_env})",
                channel=self.name,
                key="token_env",
            )
        return f"bot @{(payload.get('result') or {}).get('username', '?')}"

    async def close(self) -> None:
        await self._client.aclose()
