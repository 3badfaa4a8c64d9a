"""The service on real uvicorn keeps answering while ``livebase ingest`` and ``livebase segment``
run on the same workspace: no request fails, every event lands in the inbox once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from _servers import free_port
from livebase.ops.keys import create_key
from livebase.ops.tables import INBOX
from livebase.workspace import Workspace, init_workspace

LIVEBASE = str(Path(sys.executable).parent / "livebase")


def _cli(ws: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVEBASE, "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def served(tmp_path: Path, cdnow_sample: Path) -> Iterator[tuple[Workspace, str, str]]:
    ws = init_workspace(tmp_path / "shop")
    done = _cli(ws.root, "ingest", "orders", str(cdnow_sample), "--preset", "cdnow")
    assert done.returncode == 0, done.stderr
    with ws.open_ops() as ops:
        token = create_key(ops, "load", ["events:write"], now=datetime.now(UTC)).token
    port = free_port()
    server = subprocess.Popen(
        [LIVEBASE, "--workspace", str(ws.root), "serve", "--port", str(port),
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise AssertionError(f"livebase serve did not start: {server.stderr}")
            time.sleep(0.2)
        yield ws, base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.mark.slow
def test_no_request_fails_while_ingest_and_segment_run(
    served: tuple[Workspace, str, str], cdnow_master: Path
) -> None:
    ws, base, token = served
    stop = threading.Event()
    failures: list[str] = []
    sent: list[str] = []

    def send() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=30) as client:
            n = 0
            while n < 3000 and (not stop.is_set() or n < 40):
                batch = [
                    {"event_id": f"ev-{n}-{i}", "customer_id": str(1 + (n * 7 + i) % 2357),
                     "name": "lesson_done", "ts": "1997-09-01T10:00:00Z"}
                    for i in range(10)
                ]  # fmt: skip
                try:
                    r = client.post("/v1/events", json=batch, headers=headers)
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        sent.extend(e["event_id"] for e in batch)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                n += 1

    sender = threading.Thread(target=send)
    sender.start()
    try:
        ingest = _cli(ws.root, "ingest", "orders", str(cdnow_master), "--preset", "cdnow")
        segment = _cli(ws.root, "segment", "--as-of", "1997-09-30")
    finally:
        stop.set()
        sender.join(timeout=600)
    assert ingest.returncode == 0, ingest.stderr
    assert segment.returncode == 0, segment.stderr
    assert failures == []
    assert len(sent) >= 400
    with ws.open_ops() as ops, ops.read() as con:
        stored = con.execute(sa.select(sa.func.count()).select_from(INBOX)).scalar_one()
    assert stored == len(sent)
