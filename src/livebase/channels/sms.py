"""SMS gateways (``type: sms``) in the style of SMS.ru and SMSC.ru: one HTTP call per message,
a status and a cost per number in the answer.

SMS.ru (``provider: smsru``): ``POST /sms/send`` with ``api_id``, ``to``, ``msg``, ``from``,
``json=1``; the answer holds ``sms.<number>.status_code`` (100 = accepted) and, on our side of
the contract, the per-number ``cost``. SMSC (``provider: smsc``): ``POST /sys/send.php`` with
``apikey`` (or ``login`` + ``psw``), ``phones``, ``mes``, ``sender``, ``fmt=3`` (JSON),
``cost=3`` (send and return the cost) and ``id`` (the message token, so SMSC drops a repeat).

Per-number codes: accepted → sent; an invalid or forbidden number (SMS.ru 202, 207; SMSC 7,
8) → suppress; provider overload or limits (SMS.ru 220, 230–232; SMSC 9) → retry; a bad key or
an empty balance → failed, naming ``api_key_env``.

>>> smsru_outcome({"status": "OK", "status_code": 100, "sms": {"79120001122": {
...     "status": "OK", "status_code": 100, "sms_id": "000-1", "cost": "4.10"}}}, "79120001122")
SendOutcome(status='sent', detail='smsru 100', provider_id='000-1', cost=4.1, retry_after=None, reason=None)
>>> smsc_outcome({"error": "invalid number", "error_code": 7}).status
'suppress'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from livebase.channels.base import OutgoingMessage, SendOutcome
from livebase.channels.settings import ChannelSettings
from livebase.channels.webhook import http_client, request_error_outcome
from livebase.errors import ChannelError

__all__ = [
    "SMSC_API",
    "SMSRU_API",
    "SmsChannel",
    "normalize_phone",
    "smsc_outcome",
    "smsru_outcome",
]

SMSRU_API = "https://sms.ru"
SMSC_API = "https://smsc.ru"
_SMSRU_SUPPRESS = {202, 207}
_SMSRU_RETRY = {220, 230, 231, 232}
_SMSC_SUPPRESS = {7, 8}
_SMSC_RETRY = {9}


def normalize_phone(phone: str) -> str:
    """Digits only; a Russian 8XXXXXXXXXX becomes 7XXXXXXXXXX.

    >>> normalize_phone("+7 (912) 000-11-22"), normalize_phone("89120001122")
    ('79120001122', '79120001122')
    """
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits


def _cost(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def smsru_outcome(payload: Mapping[str, Any] | None, phone: str) -> SendOutcome:
    """The outcome of an SMS.ru ``/sms/send`` answer for ``phone``."""
    if payload is None:
        return SendOutcome.uncertain("smsru: unreadable answer")
    if payload.get("status") != "OK":
        code = payload.get("status_code")
        text = str(payload.get("status_text") or "")[:200]
        if code in _SMSRU_RETRY:
            return SendOutcome.retry(f"smsru {code}: {text}")
        return SendOutcome.failed(f"smsru {code}: {text} (check api_key_env and the balance)")
    entry = (payload.get("sms") or {}).get(phone)
    if not isinstance(entry, Mapping):
        return SendOutcome.uncertain("smsru: no status for the number in the answer")
    code = entry.get("status_code")
    if entry.get("status") == "OK" and code == 100:
        sms_id = entry.get("sms_id")
        return SendOutcome.sent(
            None if sms_id is None else str(sms_id),
            cost=_cost(entry.get("cost")),
            detail="smsru 100",
        )
    text = f"smsru {code}: {str(entry.get('status_text') or '')[:200]}"
    if code in _SMSRU_SUPPRESS:
        return SendOutcome.suppress(text, reason="bounce")
    if code in _SMSRU_RETRY:
        return SendOutcome.retry(text)
    return SendOutcome.failed(text)


def smsc_outcome(payload: Mapping[str, Any] | None) -> SendOutcome:
    """The outcome of an SMSC ``send.php?fmt=3`` answer."""
    if payload is None:
        return SendOutcome.uncertain("smsc: unreadable answer")
    if "error_code" in payload or "error" in payload:
        code = payload.get("error_code")
        text = f"smsc {code}: {str(payload.get('error') or '')[:200]}"
        if code in _SMSC_SUPPRESS:
            return SendOutcome.suppress(text, reason="bounce")
        if code in _SMSC_RETRY:
            return SendOutcome.retry(text)
        return SendOutcome.failed(text + " (check api_key_env and the balance)")
    sms_id = payload.get("id")
    return SendOutcome.sent(
        None if sms_id is None else str(sms_id), cost=_cost(payload.get("cost")), detail="smsc ok"
    )


class SmsChannel:
    """Send SMS through SMS.ru or SMSC (see the module docstring)."""

    def __init__(self, name: str, settings: ChannelSettings, *, api_key: str) -> None:
        if not api_key:
            raise ChannelError("the API key is empty", channel=name, key="api_key_env")
        if settings.provider is None:
            raise ChannelError("say which gateway: smsru or smsc", channel=name, key="provider")
        self.name = name
        self.settings = settings
        self.provider = settings.provider
        default = SMSRU_API if self.provider == "smsru" else SMSC_API
        self._base = (settings.base_url or default).rstrip("/")
        self._key = api_key
        self._client = http_client(settings)

    def _request(self, message: OutgoingMessage, phone: str) -> tuple[str, dict[str, str]]:
        if self.provider == "smsru":
            form = {"api_id": self._key, "to": phone, "msg": message.text, "json": "1"}
            if self.settings.sender:
                form["from"] = self.settings.sender
            return f"{self._base}/sms/send", form
        form = {"phones": phone, "mes": message.text, "fmt": "3", "cost": "3", "charset": "utf-8"}
        form["id"] = message.token
        if self.settings.account:
            form.update(login=self.settings.account, psw=self._key)
        else:
            form["apikey"] = self._key
        if self.settings.sender:
            form["sender"] = self.settings.sender
        return f"{self._base}/sys/send.php", form

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        phone = normalize_phone(message.address)
        if len(phone) < 10:
            return SendOutcome.suppress("sms: not a phone number", reason="bounce")
        url, form = self._request(message, phone)
        try:
            response = await self._client.post(url, data=form)
        except httpx.HTTPError as exc:
            return request_error_outcome(exc, what=f"sms {self.provider}")
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            return SendOutcome.retry(
                f"sms {self.provider} http {response.status_code}",
                retry_after=_cost(retry_after),
            )
        if response.status_code >= 400:
            return SendOutcome.failed(f"sms {self.provider} http {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else None
        if self.provider == "smsru":
            return smsru_outcome(payload, phone)
        return smsc_outcome(payload)

    async def check(self) -> str:
        """Ask the gateway for the balance: the key is valid and the account can pay."""
        if self.provider == "smsru":
            url, params = f"{self._base}/my/balance", {"api_id": self._key, "json": "1"}
        else:
            url, params = f"{self._base}/sys/balance.php", {"apikey": self._key, "fmt": "3"}
            if self.settings.account:
                params = {"login": self.settings.account, "psw": self._key, "fmt": "3"}
        try:
            response = await self._client.get(url, params=params)
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChannelError(
                f"cannot reach {self._base} ({type(exc).__name__})",
                channel=self.name,
                key="base_url",
            ) from None
        if not isinstance(payload, dict) or "error" in payload or payload.get("status") == "ERROR":
            raise ChannelError(
                f"the gateway refused the key: check the secret named by api_key_env "
                f"({self.settings.api_key_env})",
                channel=self.name,
                key="api_key_env",
            )
        return f"{self.provider} balance {payload.get('balance', '?')}"

    async def close(self) -> None:
        await self._client.aclose()
