"""``livebase serve`` itself: starts from the CLI, answers, refuses oversized request heads."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from _servers import free_port
from livebase.workspace import init_workspace

LIVEBASE = str(Path(sys.executable).parent / "livebase")


def _status_of(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        try:
            return s.recv(200)
        except ConnectionResetError:
            return b""


def test_serve_answers_and_refuses_oversized_headers(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "shop")
    port = free_port()
    server = subprocess.Popen(
        [LIVEBASE, "--workspace", str(ws.root), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert "server" not in r.headers
        limit = ws.config.service.max_header_bytes
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (limit + 100) + b"\r\n\r\n"
        answer = _status_of(port, big)
        assert not answer.startswith(b"HTTP/1.1 200"), answer
        assert answer == b"" or answer.split(b" ")[1] in (b"400", b"431")
        ok = _status_of(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
    finally:
        server.terminate()
        server.wait(timeout=20)
    log = server.stderr.read().decode() if server.stderr else ""
    assert '"route": "/healthz"' in log and "/v1/hooks" not in log
