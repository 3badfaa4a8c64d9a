"""A local replay of GetCourse's export and import API, for tests, examples and dry runs.

It listens on 127.0.0.1 (a free port), speaks the protocol :mod:`.client` documents, and
records what was asked and pushed. Knobs reproduce what a real account does: exports that are
"not ready yet" for a few polls (or never), the export quota, another export running, a wrong
key, an account without API access, malformed items, slow answers.

>>> import httpx
>>> with ReplayServer(api_key="secret") as server:
...     server.add_export("users", ["id", "Email"], [["1", "a@b.ru"]])
...     answer = httpx.get(server.url + "/pl/api/account/users",
...                        params={"key": "secret", "created_at[from]": "2026-01-01"}).json()
>>> answer["success"], answer["info"]["export_id"]
(True, 1)
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ReplayServer"]

WRONG_KEY = "Неверный ключ API"
NO_ACCESS = "Импорт и экспорт данных по API доступны только на платных тарифах"
QUOTA = "Слишком много запросов на экспорт. Попробуйте позже"
BUSY = "В данный момент уже выполняется экспорт, дождитесь его завершения"
NOT_READY = "Файл еще не создан"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE_FIELDS = ("Дата создания", "Создан", "Дата регистрации")


@dataclass
class _Export:
    object: str
    rows: list[list[Any]]
    fields: list[str]
    polls: int = 0


@dataclass
class ReplayState:
    """What the replay serves and what it saw (see :class:`ReplayServer`)."""

    api_key: str
    tables: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)
    api_access: bool = True
    quota: int | None = None
    """Export requests left before GetCourse answers 'too many requests'; None: unlimited."""
    not_ready_polls: int = 1
    """Polls answered 'not ready yet' (error 909) before an export is ready."""
    never_ready: bool = False
    quota_on_poll: bool = False
    """Answer 'too many requests' to polls as well."""
    busy_requests: int = 0
    """Export requests answered 'another export is running' before one is accepted."""
    malformed: dict[str, Any] = field(default_factory=dict)
    """object → the raw ``info`` to answer instead of the real export."""
    delay_seconds: float = 0.0
    """Sleep before each answer (network timeout tests)."""
    exports: dict[int, _Export] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    """(method, path, parameters without the key) of every request."""
    keys_seen: list[str] = field(default_factory=list)
    imported: list[dict[str, Any]] = field(default_factory=list)
    """Decoded ``params`` of every user import."""
    groups: dict[str, set[str]] = field(default_factory=dict)
    """group name → e-mails of its members."""
    user_ids: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _params(self) -> dict[str, str]:
        parts = urlsplit(self.path)
        merged = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            merged.update({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})
        return merged

    def _answer(self, payload: dict[str, Any], status: int = 200) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        state = self.server.state
        params = self._params()
        key = params.pop("key", "")
        path = urlsplit(self.path).path
        with state.lock:
            state.requests.append((self.command, path, dict(params)))
            state.keys_seen.append(key)
        if state.delay_seconds:
            time.sleep(state.delay_seconds)
        if key != state.api_key:
            self._answer({"success": False, "error_message": WRONG_KEY})
            return
        if not state.api_access:
            self._answer({"success": False, "error_message": NO_ACCESS})
            return
        if path == "/pl/api/users":
            self._import(params)
        elif path.startswith("/pl/api/account/exports/"):
            self._poll(path.rsplit("/", 1)[-1])
        elif path.startswith("/pl/api/account/"):
            self._export(path.rsplit("/", 1)[-1], params)
        else:
            self._answer({"success": False, "error_message": "Неизвестный метод"}, 404)

    def _export(self, obj: str, params: dict[str, str]) -> None:
        state = self.server.state
        with state.lock:
            if state.quota is not None and state.quota <= 0:
                self._answer({"success": False, "error_message": QUOTA})
                return
            if state.quota is not None:
                state.quota -= 1
            if state.busy_requests > 0:
                state.busy_requests -= 1
                self._answer({"success": False, "error_message": BUSY})
                return
            if obj not in state.tables:
                self._answer({"success": False, "error_message": f"Неизвестный объект {obj}"})
                return
            fields, rows = state.tables[obj]
            since = params.get("created_at[from]", "")
            column = next((fields.index(f) for f in _DATE_FIELDS if f in fields), None)
            chosen = [
                list(r)
                for r in rows
                if not since or column is None or str(r[column] or "")[:10] >= since
            ]
            export_id = len(state.exports) + 1
            state.exports[export_id] = _Export(obj, chosen, list(fields))
        self._answer({"success": True, "info": {"export_id": export_id}})

    def _poll(self, raw_id: str) -> None:
        state = self.server.state
        with state.lock:
            export = state.exports.get(int(raw_id)) if raw_id.isdigit() else None
            if export is None:
                self._answer({"success": False, "error_message": "Экспорт не найден"})
                return
            export.polls += 1
            if state.quota_on_poll:
                self._answer({"success": False, "error_message": QUOTA})
                return
            if state.never_ready or export.polls <= state.not_ready_polls:
                self._answer({"success": False, "error_code": 909, "error_message": NOT_READY})
                return
            if export.object in state.malformed:
                self._answer({"success": True, "info": state.malformed[export.object]})
                return
            info = {"fields": export.fields, "items": export.rows}
        self._answer({"success": True, "info": info})

    def _import(self, params: dict[str, str]) -> None:
        state = self.server.state
        if params.get("action") != "add":
            self._answer({"success": False, "error_message": "Неизвестное действие"})
            return
        try:
            decoded = json.loads(base64.b64decode(params.get("params", "")).decode("utf-8"))
        except ValueError:
            self._answer({"success": False, "error_message": "Неверный формат параметров"})
            return
        user = decoded.get("user") or {}
        email = str(user.get("email") or "").strip().lower()
        with state.lock:
            state.imported.append(decoded)
            if not _EMAIL.fullmatch(email):
                result = {"success": False, "error": True, "error_message": "Неверный email"}
            else:
                existed = email in state.user_ids
                user_id = state.user_ids.setdefault(email, 100_000 + len(state.user_ids))
                for entry in user.get("group_name") or []:
                    name = entry[0] if isinstance(entry, list) else entry
                    state.groups.setdefault(str(name), set()).add(email)
                result = {
                    "success": True,
                    "error": False,
                    "error_message": "",
                    "user_id": user_id,
                    "user_status": "updated" if existed else "added",
                }
        self._answer({"success": True, "action": "add", "result": result})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ReplayState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class ReplayServer:
    """Serve :class:`ReplayState` on loopback in a thread; a context manager."""

    def __init__(self, *, api_key: str) -> None:
        self.state = ReplayState(api_key=api_key)
        self._server = _Server(self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_export(self, obj: str, fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """What an export of ``obj`` answers (rows may be changed later for a re-sync)."""
        with self.state.lock:
            self.state.tables[obj] = (list(fields), [list(r) for r in rows])

    def set_cell(self, obj: str, row_id: str, field_name: str, value: Any) -> None:
        """Change one value of the row whose first column is ``row_id``."""
        with self.state.lock:
            fields, rows = self.state.tables[obj]
            column = fields.index(field_name)
            for row in rows:
                if str(row[0]) == row_id:
                    row[column] = value

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
