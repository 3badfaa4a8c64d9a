"""Real peers the delivery tests talk to on 127.0.0.1: an SMTP server (aiosmtpd) and one HTTP
server speaking the documented subsets of the Telegram Bot API (``sendMessage``, ``getMe``),
SMS.ru (``/sms/send``, ``/my/balance``), SMSC (``/sys/send.php``) and a JSON push endpoint.

Both record what they received, so a test can count messages per key at the receiving end,
and can be told to misbehave: reject recipients (550), answer 4xx, be slow, drop the connection
mid-DATA; answer 429 with ``retry_after``, 403 "bot was blocked", 500.
"""

from __future__ import annotations

import asyncio
import email
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer

from _servers import free_port

TOKEN = "123456:TEST-TOKEN"
SMS_KEY = "sms-test-key"


@dataclass
class SinkBehaviour:
    reject: set[str] = field(default_factory=set)
    """Recipients answered 550 5.1.1 at RCPT."""
    busy: set[str] = field(default_factory=set)
    """Recipients answered 451 at RCPT."""
    reject_data: int = 0
    """The next N DATA commands are answered 554."""
    delay: float = 0.0
    """Seconds to wait before answering DATA."""
    rcpt_delay: float = 0.0
    """Seconds to wait before answering RCPT."""
    drop_data: int = 0
    """The next N DATA commands: keep the message, then drop the connection without a reply."""


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        behaviour = self.sink.behaviour
        if behaviour.rcpt_delay:
            await asyncio.sleep(behaviour.rcpt_delay)
        if address in behaviour.reject:
            return "550 5.1.1 no such user"
        if address in behaviour.busy:
            return "451 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        behaviour = self.sink.behaviour
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        with self.sink.lock:
            if behaviour.reject_data > 0:
                behaviour.reject_data -= 1
                return "554 5.7.1 rejected as spam"
            raw = bytes(envelope.original_content or envelope.content)
            self.sink.messages.append((list(envelope.rcpt_tos), raw))
            drop = behaviour.drop_data > 0
            if drop:
                behaviour.drop_data -= 1
        if drop:
            server.transport.close()
            return "421 closing"
        return "250 OK queued"


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 recording every accepted message."""

    def __init__(self, **controller_options: Any) -> None:
        self.behaviour = SinkBehaviour()
        self.messages: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **controller_options
        )

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def parsed(self) -> list[email.message.Message]:
        with self.lock:
            return [email.message_from_bytes(raw) for _, raw in self.messages]

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.parsed())


@contextmanager
def smtp_sink(**options: Any) -> Iterator[SmtpSink]:
    sink = SmtpSink(**options).start()
    try:
        yield sink
    finally:
        sink.stop()


@dataclass
class ProviderBehaviour:
    blocked_chats: set[str] = field(default_factory=set)
    throttle: int = 0
    """The next N Telegram requests get 429 with retry_after."""
    throttled_chats: set[str] = field(default_factory=set)
    """Telegram requests to these chats get 429 with retry_after (whatever the order)."""
    retry_after: int = 1
    fail_500: int = 0
    """The next N requests (any provider) get 500."""
    delay: float = 0.0
    bad_numbers: set[str] = field(default_factory=set)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the kill test) is expected: nothing to print."""


class ProviderServer:
    """A threaded HTTP server speaking the Telegram, SMS.ru, SMSC and push subsets."""

    def __init__(self) -> None:
        self.behaviour = ProviderBehaviour()
        self.lock = threading.Lock()
        self.telegram: list[dict[str, Any]] = []
        self.sms: list[dict[str, str]] = []
        self.push: list[dict[str, Any]] = []
        self.push_headers: list[dict[str, str]] = []
        self.requests = 0
        self.port = free_port()
        self.server = _QuietServer(("127.0.0.1", self.port), _make_handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProviderServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def provider_server() -> Iterator[ProviderServer]:
    server = ProviderServer().start()
    try:
        yield server
    finally:
        server.stop()


def _make_handler(state: ProviderServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_HEAD(self) -> None:
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == f"/bot{TOKEN}/getMe":
                self._reply(
                    200, {"ok": True, "result": {"id": 1, "is_bot": True, "username": "school_bot"}}
                )
            elif url.path.startswith("/bot") and url.path.endswith("/getMe"):
                self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            elif url.path == "/my/balance":
                if query.get("api_id") == SMS_KEY:
                    self._reply(200, {"status": "OK", "status_code": 100, "balance": 1000.5})
                else:
                    self._reply(
                        200,
                        {
                            "status": "ERROR",
                            "status_code": 200,
                            "status_text": "Неправильный api_id",
                        },
                    )
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            body = self._body()
            behaviour = state.behaviour
            with state.lock:
                state.requests += 1
                fail = behaviour.fail_500 > 0
                if fail:
                    behaviour.fail_500 -= 1
            if behaviour.delay:
                time.sleep(behaviour.delay)
            if fail:
                self._reply(
                    500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
                )
                return
            if url.path == f"/bot{TOKEN}/sendMessage":
                self._telegram(json.loads(body))
            elif url.path.startswith("/bot"):
                self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            elif url.path == "/sms/send":
                self._smsru({k: v[0] for k, v in parse_qs(body.decode()).items()})
            elif url.path == "/sys/send.php":
                self._smsc({k: v[0] for k, v in parse_qs(body.decode()).items()})
            elif url.path == "/push":
                with state.lock:
                    state.push.append(json.loads(body))
                    state.push_headers.append(dict(self.headers.items()) | {"_body": body.decode()})
                    n = len(state.push)
                self._reply(200, {"id": f"p{n}"})
            else:
                self._reply(404, {"error": "not found"})

        def _telegram(self, payload: dict[str, Any]) -> None:
            behaviour = state.behaviour
            chat = str(payload.get("chat_id"))
            with state.lock:
                throttled = behaviour.throttle > 0
                if throttled:
                    behaviour.throttle -= 1
                throttled = throttled or chat in behaviour.throttled_chats
            if throttled:
                self._reply(
                    429,
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {behaviour.retry_after}",
                        "parameters": {"retry_after": behaviour.retry_after},
                    },
                )
                return
            if chat in behaviour.blocked_chats:
                self._reply(
                    403,
                    {
                        "ok": False,
                        "error_code": 403,
                        "description": "Forbidden: bot was blocked by the user",
                    },
                )
                return
            with state.lock:
                state.telegram.append(payload)
                n = len(state.telegram)
            self._reply(
                200,
                {
                    "ok": True,
                    "result": {"message_id": n, "chat": {"id": chat}, "text": payload.get("text")},
                },
            )

        def _smsru(self, form: dict[str, str]) -> None:
            if form.get("api_id") != SMS_KEY:
                self._reply(
                    200,
                    {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"},
                )
                return
            phone = form.get("to", "")
            if phone in state.behaviour.bad_numbers:
                entry = {
                    "status": "ERROR",
                    "status_code": 207,
                    "status_text": "На этот номер нельзя отправлять сообщения",
                }
            else:
                with state.lock:
                    state.sms.append(form)
                    n = len(state.sms)
                entry = {
                    "status": "OK",
                    "status_code": 100,
                    "sms_id": f"0000-{n}",
                    "cost": "4.10",
                    "sms": 1,
                }
            self._reply(
                200, {"status": "OK", "status_code": 100, "sms": {phone: entry}, "balance": 1000.5}
            )

        def _smsc(self, form: dict[str, str]) -> None:
            if form.get("apikey") != SMS_KEY:
                self._reply(200, {"error": "authorise error", "error_code": 2})
                return
            if form.get("phones", "") in state.behaviour.bad_numbers:
                self._reply(200, {"error": "invalid number", "error_code": 7})
                return
            with state.lock:
                state.sms.append(form)
                n = len(state.sms)
            self._reply(200, {"id": n, "cnt": 1, "cost": "3.20", "balance": "100.00"})

    return Handler


__all__ = [
    "SMS_KEY",
    "TOKEN",
    "ProviderServer",
    "SMTPServer",
    "SmtpSink",
    "provider_server",
    "smtp_sink",
]
