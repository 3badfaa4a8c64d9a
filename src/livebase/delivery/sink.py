"""A local SMTP sink for the demo: sending for real, to a server on 127.0.0.1 that writes every
message it receives as an ``.eml`` file a user can open in a mail client.

:func:`send_to_sink` starts the sink, points the workspace's e-mail channels at it, sends what
is due (through the real worker: claims, re-checks, templates, signed links, ledger) and stops.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with smtp_sink(folder) as (host, port):
...     import smtplib
...     with smtplib.SMTP(host, port) as smtp:
...         _ = smtp.sendmail("a@school.ru", ["b@example.ru"], b"Subject: hi\\r\\n\\r\\nhello")
>>> [p.name for p in folder.glob("*.eml")]
['0001.eml']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from livebase.delivery.outbox import DeliverySettings, Tally

if TYPE_CHECKING:
    from livebase.workspace import Workspace

__all__ = ["SinkReport", "send_to_sink", "smtp_sink"]


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.count += 1
            headers = BytesHeaderParser().parsebytes(raw)
            token = re.sub(r"[^0-9a-f]", "", str(headers.get("Message-ID", "")).split(".")[0])[:8]
            name = f"{self.count:04d}-{token}.eml" if token else f"{self.count:04d}.eml"
            (self.folder / name).write_bytes(raw)
        return "250 OK saved"


@contextmanager
def smtp_sink(folder: Path) -> Iterator[tuple[str, int]]:
    """An SMTP server on a free loopback port saving each message to ``folder``; yields the
    (host, port) to send to."""
    import socket

    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(_Writer(folder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port
    finally:
        controller.stop()


@dataclass(frozen=True)
class SinkReport:
    """What the demo sent: the ``.eml`` files written and the worker's tally."""

    files: list[Path]
    tally: Tally


def send_to_sink(
    workspace: Workspace,
    folder: Path,
    *,
    clock: Callable[[], datetime],
    limit: int | None = None,
) -> SinkReport:
    """Send the due e-mail of ``workspace`` to a local sink writing ``.eml`` files in
    ``folder`` (every ``type: smtp`` channel is pointed at it; other channels wait)."""
    from livebase.delivery.run import build_worker

    config = workspace.config
    before = set(folder.glob("*.eml")) if folder.exists() else set()
    with smtp_sink(folder) as (host, port):
        channels = {
            name: settings.model_copy(
                update={"host": host, "port": port, "security": "none", "username": None}
            )
            for name, settings in config.channels.items()
            if settings.type == "smtp"
        }
        if not channels:
            return SinkReport([], Tally())
        ops = workspace.open_ops()
        try:
            worker, _unavailable = build_worker(
                ops,
                root=workspace.root,
                channels={**config.channels, **channels},
                policy=config.policy,
                workspace_tz=config.timezone,
                base_url=config.service.base_url,
                secrets=workspace.secrets(),
                clock=clock,
                language=config.language,
                settings=DeliverySettings(),
                only=channels,
            )
            import asyncio

            async def go() -> Tally:
                try:
                    return await worker.run(limit=limit)
                finally:
                    await worker.close()

            tally = asyncio.run(go())
        finally:
            ops.close()
    files = sorted(set(folder.glob("*.eml")) - before)
    return SinkReport(files, tally)
