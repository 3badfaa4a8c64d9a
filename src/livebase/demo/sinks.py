"""Where the demo's messages land: local receivers on 127.0.0.1, for the length of the demo.

E-mail goes over SMTP to the sink of :mod:`livebase.delivery.sink` (one ``.eml`` file per
message, which a mail client opens); push and SMS go over HTTP to :class:`WebhookSink`, which
answers like a provider (``200 {"id": …}``) and appends each request's JSON body as one line to
``<channel>.jsonl``. The mentor-call tasks use the school's export channel (``tasks/calls.csv``).

The demo workspace's ``livebase.yaml`` declares these channels with fixed loopback addresses
(:data:`DEMO_CHANNELS`); :func:`local_sinks` starts the receivers on free ports and hands back
the workspace with its channels pointed at them, so the real worker sends to them.

>>> import json, tempfile, pathlib, urllib.request
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with WebhookSink(folder) as sink:
...     request = urllib.request.Request(f"{sink.url}/push", data=b'{"text": "hi"}',
...                                      method="POST")
...     answer = json.loads(urllib.request.urlopen(request).read())
>>> answer, (folder / "push.jsonl").read_text(encoding="utf-8")
({'id': 'push-1'}, '{"text": "hi"}\\n')
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from livebase.errors import ConfigError
from livebase.workspace import Workspace

__all__ = [
    "DEMO_CHANNELS",
    "EMAIL_DIR",
    "SENT_DIR",
    "WebhookSink",
    "local_sinks",
    "write_demo_channels",
]

SENT_DIR = "sent"
"""The demo workspace's folder of delivered messages (``sent/email/*.eml``, ``sent/*.jsonl``)."""
EMAIL_DIR = "email"

DEMO_CHANNELS = """\
# Channels: the demo sends for real, to receivers on this machine that `livebase demo` runs
# while it sends (on free ports, in place of the ports below): e-mail lands as .eml files in
# sent/email/ (open them in a mail client), push and SMS as JSON lines in sent/push.jsonl and
# sent/sms.jsonl, mentor calls in tasks/calls.csv. Point them at your providers to go live.
channels:
  email: {type: smtp, host: 127.0.0.1, port: 1025, security: none, pool_size: 8,
          from: "Демо-школа <hello@school.example>", cost: 0.05}
  push: {type: webhook, url: "http://127.0.0.1:8025/push", cost: 0}
  sms: {type: webhook, url: "http://127.0.0.1:8025/sms", cost: 4.5}
  tasks: {type: export, path: tasks/calls.csv}
"""
_CHANNELS_BLOCK = re.compile(r"^channels:\n(?:[ \t]+\S.*\n)+", re.MULTILINE)


def write_demo_channels(ws: Workspace) -> Workspace:
    """Replace the ``channels:`` block of the workspace's livebase.yaml by :data:`DEMO_CHANNELS`
    and reload the workspace.

    >>> import tempfile, pathlib
    >>> from livebase.workspace import init_workspace
    >>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "school", template="school")
    >>> write_demo_channels(ws).config.channels["email"].type
    'smtp'
    """
    text = ws.config_path.read_text(encoding="utf-8")
    found = list(_CHANNELS_BLOCK.finditer(text))
    if len(found) != 1:
        raise ConfigError(
            f"{ws.config_path}: expected one 'channels:' block to replace with the demo's "
            f"local receivers, found {len(found)}; re-create the demo with --force"
        )
    block = found[0]
    text = text[: block.start()] + DEMO_CHANNELS + text[block.end() :]
    ws.config_path.write_text(text, encoding="utf-8")
    return Workspace.load(ws.root)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        name = re.sub(r"[^\w-]", "", self.path.rstrip("/").rsplit("/", 1)[-1]) or "webhook"
        number = self.server.append(name, body)
        answer = json.dumps({"id": f"{name}-{number}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the demo prints its own summary


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = folder
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def append(self, name: str, body: bytes) -> int:
        line = json.dumps(json.loads(body), ensure_ascii=False, sort_keys=True) + "\n"
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            with (self.folder / f"{name}.jsonl").open("a", encoding="utf-8") as out:
                out.write(line)
            return self.counts[name]


class WebhookSink:
    """An HTTP receiver on a free loopback port: each POST's JSON body becomes a line of
    ``<folder>/<last path segment>.jsonl``; the answer is ``200 {"id": "<name>-<n>"}``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._server = _Server(folder)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's base URL (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def local_sinks(ws: Workspace) -> Iterator[Workspace]:
    """Start the SMTP and webhook receivers under ``<workspace>/sent``; yield the workspace
    with its ``smtp`` and ``webhook`` channels pointed at them (livebase.yaml is unchanged)."""
    from livebase.delivery.sink import smtp_sink

    sent = ws.root / SENT_DIR
    with smtp_sink(sent / EMAIL_DIR) as (host, port), WebhookSink(sent) as hooks:
        channels = {}
        for name, settings in ws.config.channels.items():
            if settings.type == "smtp":
                settings = settings.model_copy(
                    update={"host": host, "port": port, "security": "none", "username": None}
                )
            elif settings.type == "webhook":
                settings = settings.model_copy(update={"url": f"{hooks.url}/{name}"})
            channels[name] = settings
        yield replace(ws, config=ws.config.model_copy(update={"channels": channels}))
