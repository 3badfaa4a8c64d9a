"""GetCourse's HTTP API as used by the sync: the two-step export and the user import.

Protocol (GetCourse help, "API"; the export calls as used by public clients):

- export, step 1: ``GET /pl/api/account/{deals|users|payments}?key=…&created_at[from]=…``
  answers ``{"success": true, "info": {"export_id": 123}}``;
- export, step 2: ``GET /pl/api/account/exports/123?key=…`` answers
  ``{"success": false, "error_code": 909, "error_message": "Файл еще не создан"}`` until it
  is ready, then ``{"success": true, "info": {"fields": [...], "items": [[...], ...]}}``;
- import: ``POST /pl/api/users`` with ``action=add``, ``key`` and ``params`` = base64 of
  ``{"user": {"email": …, "group_name": [...]}, "system": {"refresh_if_exists": 1}}``,
  answering ``{"success": true, "result": {"success": true, "user_id": …, …}}``.

Errors come back as ``success: false`` with an ``error_message`` in Russian; they are sorted
into the stable reasons of :class:`~livebase.errors.SyncError` (wrong key, no API access,
quota, another export running, not ready). The key never appears in a message or a log line:
while a client is open, a filter masks it in httpx's request log.

>>> classify_error("Неверный ключ API", None)
'wrong_key'
>>> classify_error("Файл еще не создан", 909)
'not_ready'
>>> classify_error("Слишком много запросов на экспорт", None)
'quota'
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from livebase.errors import SyncError

__all__ = [
    "NOT_READY_CODE",
    "ExportTable",
    "GetCourseClient",
    "ImportResult",
    "classify_error",
]

NOT_READY_CODE = 909
"""``error_code`` of an export that is still being built."""

_HTTP_LOGGERS = ("httpx", "httpcore")


def _norm(text: str) -> str:
    return text.lower().replace("ё", "е")


def classify_error(message: str, code: int | None) -> str:
    """The stable reason of a GetCourse error answer (see :class:`SyncError`)."""
    text = _norm(message)
    if code == NOT_READY_CODE or "еще не создан" in text or "not ready" in text:
        return "not_ready"
    if "слишком много" in text or "лимит" in text or "too many" in text or "limit" in text:
        return "quota"
    if "уже выполняется" in text or "already running" in text or "in progress" in text:
        return "busy"
    if "ключ" in text or "key" in text:
        return "wrong_key"
    if "тариф" in text or "доступ" in text or "access" in text or "plan" in text:
        return "no_api_access"
    return "api"


@dataclass(frozen=True)
class ExportTable:
    """A finished export: the header (field names, Russian like the CSV export) and rows."""

    object: str
    export_id: str
    fields: tuple[str, ...]
    items: tuple[tuple[str | None, ...], ...]


@dataclass(frozen=True)
class ImportResult:
    """GetCourse's answer about one imported user."""

    ok: bool
    user_id: str | None
    user_status: str | None
    error_message: str


class _MaskKey(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.secret in text:
            record.msg = text.replace(self.secret, "***")
            record.args = ()
        return True


class GetCourseClient:
    """One account's API, with its key; ``transport`` lets tests inject a network.

    Use as a context manager: it closes the connection pool and removes the log mask.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        key_name: str = "LIVEBASE_GETCOURSE_KEY",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_name = key_name
        """The secret's name, for messages (never the key)."""
        self._key = api_key
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json; q=1.0, */*; q=0.1"},
            follow_redirects=False,
        )
        self._mask = _MaskKey(api_key)
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._mask)
        self.requests = 0
        """How many HTTP requests this client made (tests bound it)."""

    def close(self) -> None:
        self._http.close()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._mask)

    def __enter__(self) -> GetCourseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request; answers the JSON object or raises a SyncError naming ``what``."""
        self.requests += 1
        try:
            if method == "GET":
                response = self._http.get(path, params={**(params or {}), "key": self._key})
            else:
                response = self._http.post(
                    path, params=params or None, data={**(data or {}), "key": self._key}
                )
        except httpx.TimeoutException:
            raise SyncError(
                f"{what}: GetCourse ({self.base_url}) did not answer within {self._timeout:g} s "
                "(network timeout); run it again, or raise sync.getcourse.timeout_seconds",
                reason="timeout",
            ) from None
        except httpx.HTTPError as exc:
            raise SyncError(
                f"{what}: cannot reach GetCourse at {self.base_url} "
                f"({self._redact(type(exc).__name__ + ': ' + str(exc))}); check the account "
                "name (sync.getcourse.account) and the network",
                reason="network",
            ) from None
        if response.status_code in (401, 403):
            raise SyncError(
                f"{what}: GetCourse refused the API key (HTTP {response.status_code})",
                reason="wrong_key",
            )
        if response.status_code == 429:
            raise SyncError(
                f"{what}: GetCourse answered HTTP 429 (too many requests)", reason="quota"
            )
        if response.status_code >= 400:
            raise SyncError(
                f"{what}: GetCourse answered HTTP {response.status_code}; try again later",
                reason="http",
            )
        try:
            payload = response.json()
        except ValueError:
            start = self._redact(response.text[:80]).replace("\n", " ")
            raise SyncError(
                f"{what}: GetCourse's answer is not JSON ({start!r}…): is {self.base_url} a "
                "GetCourse account? (check sync.getcourse.account / base_url)",
                reason="malformed",
            ) from None
        if not isinstance(payload, dict):
            raise SyncError(f"{what}: GetCourse's answer is not a JSON object", reason="malformed")
        return payload

    @staticmethod
    def _failure(payload: Mapping[str, Any]) -> tuple[str, str, int | None] | None:
        """(reason, message, code) of a ``success: false`` answer, or None on success."""
        success = payload.get("success")
        if success is True or success == "true":
            return None
        message = str(payload.get("error_message") or payload.get("message") or "")
        raw_code = payload.get("error_code")
        code = (
            int(raw_code) if isinstance(raw_code, int | str) and str(raw_code).isdigit() else None
        )
        return classify_error(message, code), message, code

    # -----------------------------------------------------------------------------------------

    def request_export(self, obj: str, filters: Mapping[str, str]) -> tuple[str | None, str, str]:
        """Step 1: ask for an export of ``obj`` (deals, users, payments) with ``filters``.

        Returns (export id, "", "") or (None, reason, server message) for a refusal the
        caller handles (quota, busy, wrong key, no API access).
        """
        payload = self._call(
            "GET", f"/pl/api/account/{obj}", params=filters, what=f"export of {obj}"
        )
        failure = self._failure(payload)
        if failure is not None:
            return None, failure[0], failure[1]
        info = payload.get("info")
        export_id = info.get("export_id") if isinstance(info, dict) else None
        if export_id is None or str(export_id).strip() == "":
            raise SyncError(
                f"export of {obj}: GetCourse answered success without an export_id",
                reason="malformed",
            )
        return str(export_id), "", ""

    def fetch_export(self, obj: str, export_id: str) -> tuple[ExportTable | None, str, str]:
        """Step 2: the finished export, or (None, reason, message) while it is not ready or
        when GetCourse refuses."""
        what = f"export {export_id} of {obj}"
        payload = self._call("GET", f"/pl/api/account/exports/{export_id}", what=what)
        failure = self._failure(payload)
        if failure is not None:
            return None, failure[0], failure[1]
        info = payload.get("info")
        if not isinstance(info, dict) or "items" not in info:
            return (
                None,
                "not_ready",
                str((info or {}).get("status", "")) if isinstance(info, dict) else "",
            )
        return _table(obj, export_id, info), "", ""

    def add_user(
        self, user: Mapping[str, Any], *, groups: Sequence[str], refresh_if_exists: bool = True
    ) -> ImportResult:
        """Import one user (by e-mail) into ``groups``; an existing user keeps the rest of their
        profile (``refresh_if_exists`` updates only the fields sent)."""
        body = {
            "user": {**user, "group_name": list(groups)},
            "system": {"refresh_if_exists": 1 if refresh_if_exists else 0},
        }
        params = base64.b64encode(json.dumps(body, ensure_ascii=False).encode("utf-8")).decode()
        payload = self._call(
            "POST",
            "/pl/api/users",
            data={"action": "add", "params": params},
            what=f"import of a user into {', '.join(groups)}",
        )
        failure = self._failure(payload)
        if failure is not None:
            reason, message, _code = failure
            if reason in ("wrong_key", "no_api_access", "quota"):
                raise SyncError(
                    _refusal(reason, message, "user import", self.key_name), reason=reason
                )
            raise SyncError(
                f"user import: GetCourse refused the call ({message or 'no message'})",
                reason=reason,
            )
        result = payload.get("result")
        if not isinstance(result, dict):
            raise SyncError("user import: GetCourse's answer has no result", reason="malformed")
        ok = (result.get("success") in (True, "true")) and not result.get("error")
        user_id = result.get("user_id")
        return ImportResult(
            ok=bool(ok),
            user_id=None if user_id in (None, "") else str(user_id),
            user_status=None if result.get("user_status") is None else str(result["user_status"]),
            error_message=str(result.get("error_message") or ""),
        )


def _refusal(reason: str, message: str, what: str, key_name: str) -> str:
    """The message of a refusal that no retry fixes."""
    said = f" (GetCourse: «{message}»)" if message else ""
    if reason == "wrong_key":
        return (
            f"{what}: GetCourse refused the API key{said}. Generate a key in GetCourse "
            f'(account settings → API) and put it in livebase.secrets as {key_name} = "…" '
            f"(or export {key_name}=…); its name is sync.getcourse.api_key_env"
        )
    if reason == "no_api_access":
        return (
            f"{what}: this GetCourse account has no API access{said}: import and export "
            "through the API need a paid GetCourse plan"
        )
    return f"{what}: GetCourse's request quota is spent{said}"


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | str):
        return str(value)
    raise TypeError(type(value).__name__)


def _table(obj: str, export_id: str, info: Mapping[str, Any]) -> ExportTable:
    """Check the shape of a finished export: a list of field names and rows of that width."""
    where = f"GetCourse export {export_id} of {obj} is malformed"
    fields = info.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise SyncError(
            f"{where}: no list of field names ('fields'); nothing was loaded", reason="malformed"
        )
    items = info.get("items")
    if not isinstance(items, list):
        raise SyncError(f"{where}: 'items' is not a list; nothing was loaded", reason="malformed")
    rows: list[tuple[str | None, ...]] = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, dict):
            item = [item.get(f) for f in fields]
        if not isinstance(item, list):
            raise SyncError(
                f"{where}: item {index} is a {type(item).__name__}, not a row of values; "
                "nothing was loaded",
                reason="malformed",
            )
        if len(item) != len(fields):
            raise SyncError(
                f"{where}: item {index} has {len(item)} values where the header has "
                f"{len(fields)} fields; nothing was loaded",
                reason="malformed",
            )
        try:
            rows.append(tuple(_cell(v) for v in item))
        except TypeError as exc:
            raise SyncError(
                f"{where}: item {index} holds a nested {exc} where a value belongs; "
                "nothing was loaded",
                reason="malformed",
            ) from None
    return ExportTable(obj, export_id, tuple(fields), tuple(rows))
