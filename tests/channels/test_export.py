"""Task CSV: Russian Excel's dialect, and no second row for the same message after a restart."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from livebase.channels.base import OutgoingMessage
from livebase.channels.export import ExportChannel


def _message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        key=f"{n}|at_risk_call|1|call",
        customer_id=str(n),
        channel="calls",
        purpose="marketing",
        address=str(n),
        text="Позвонить; спросить, что мешает учиться",
        name="Анна Петрова",
        data={"phone": "+79120001122"},
    )


def test_rows_are_utf8_bom_semicolon_and_written_once_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "tasks" / "calls.csv"
    asyncio.run(ExportChannel("calls", path).send(_message(1)))
    again = ExportChannel("calls", path)  # a new process after a crash
    outcomes = [asyncio.run(again.send(_message(n))) for n in (1, 2)]
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert outcomes[0].detail == "already in the file"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert path.read_bytes().count(b"\xef\xbb\xbf") == 1
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert [r["customer_id"] for r in rows] == ["1", "2"]
    assert rows[0]["text"] == "Позвонить; спросить, что мешает учиться"
    assert rows[0]["phone"] == "+79120001122"
