"""Tasks as a CSV file (``type: export``): a row per message for a call centre or the managers
(mentor calls to students at risk), in the form Russian Excel opens directly: UTF-8 with a BOM,
``;`` between fields.

The file is appended to and flushed to disk before the outcome is reported; the ``message``
column holds the opaque token of the outbox key, and a token already in the file is not written
again, so a restart after a crash adds no second row.

>>> import asyncio, tempfile, pathlib
>>> from livebase.channels.base import OutgoingMessage
>>> path = pathlib.Path(tempfile.mkdtemp()) / "calls.csv"
>>> channel = ExportChannel("calls", path)
>>> m = OutgoingMessage(key="90001|risk|1|call", customer_id="90001", channel="calls",
...     purpose="marketing", address="90001", text="Позвонить: не заходит 14 дней",
...     name="Анна", data={"phone": "+79120001122"})
>>> asyncio.run(channel.send(m)).status, asyncio.run(channel.send(m)).detail
('sent', 'already in the file')
>>> path.read_bytes()[:3] == b"\\xef\\xbb\\xbf"
True
>>> path.read_text(encoding="utf-8-sig").splitlines()[0]
'message;date;customer_id;name;phone;email;playbook;step;text'
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from livebase.channels.base import OutgoingMessage, SendOutcome

__all__ = ["EXPORT_COLUMNS", "ExportChannel"]

EXPORT_COLUMNS = (
    "message",
    "date",
    "customer_id",
    "name",
    "phone",
    "email",
    "playbook",
    "step",
    "text",
)


class ExportChannel:
    """Append a task row per message to a CSV file (see the module docstring)."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self._written: set[str] | None = None

    def _load(self) -> set[str]:
        if self._written is None:
            self._written = set()
            if self.path.exists():
                with self.path.open(encoding="utf-8-sig", newline="") as handle:
                    for row in csv.DictReader(handle, delimiter=";"):
                        self._written.add(row.get("message") or "")
        return self._written

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        written = self._load()
        if message.token in written:
            return SendOutcome.sent(message.token, detail="already in the file")
        row = {
            "message": message.token,
            "date": message.date.isoformat(timespec="seconds") if message.date else "",
            "customer_id": message.customer_id,
            "name": message.name or "",
            "phone": str(message.data.get("phone") or ""),
            "email": str(message.data.get("email") or ""),
            "playbook": message.playbook or "",
            "step": message.step or "",
            "text": message.text,
        }
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=EXPORT_COLUMNS, delimiter=";", lineterminator="\r\n"
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists() or self.path.stat().st_size == 0
            if new:
                writer.writeheader()
            writer.writerow(row)
            data = buffer.getvalue().encode("utf-8")
            with self.path.open("ab") as handle:
                handle.write((b"\xef\xbb\xbf" if new else b"") + data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            return SendOutcome.retry(f"export: cannot write {self.path} ({exc.strerror})")
        written.add(message.token)
        return SendOutcome.sent(message.token, detail=f"row in {self.path.name}")

    async def check(self) -> str:
        """Whether the folder of the file can be written."""
        from livebase.errors import ChannelError

        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise ChannelError(f"cannot write {folder}", channel=self.name, key="path")
        return f"writes {self.path}"

    async def close(self) -> None:
        self._written = None
