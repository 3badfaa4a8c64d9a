"""Consent with evidence, suppressions, and the one-click unsubscribe, in the operational store.

Russia's advertising law (38-FZ, art. 18) asks the sender to *prove* prior consent to e-mail
and SMS advertising, and to stop at once on request; 152-FZ and GDPR ask for the same evidence
of consent to process personal data. So consent is a ledger, not a flag: every grant and
withdrawal with its source, time and the version of the text the customer agreed to; the
latest row per customer, channel and purpose holds.

Consent file (CSV, UTF-8 or with a BOM, ``,`` or ``;``): ``customer_id``, ``status``
(granted / withdrawn), ``ts``, and optionally ``channel`` (default ``any``), ``purpose``
(marketing / service, default marketing), ``source``, ``text_version`` and any other columns,
kept as evidence (``ip``, ``form``…). Suppression file: ``address`` (e-mail, phone or Telegram
chat id) and/or ``customer_id``, optionally ``channel`` (default ``any``), ``reason``
(manual, bounce, complaint, unsubscribe, blocked; default manual), ``ts``, ``source``. Only
the address's one-way hash is stored. Both imports are idempotent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.delivery.links import TrackedMessage
from livebase.errors import InputValidationError, RowProblem
from livebase.ops.store import OpsStore
from livebase.ops.tables import CONSENTS, OUTBOX, SEND_LEDGER, SUPPRESSIONS
from livebase.ops.writes import insert_ignore
from livebase.orchestrate.send_check import address_hash

__all__ = [
    "ImportReport",
    "apply_unsubscribe",
    "customer_hash",
    "import_consents",
    "import_suppressions",
    "read_rows",
]

_CONSENT_COLUMNS = {"customer_id", "status", "ts", "channel", "purpose", "source", "text_version"}
_REASONS = ("manual", "bounce", "complaint", "unsubscribe", "blocked")


@dataclass(frozen=True)
class ImportReport:
    """Rows read, rows new in the store, rows already there."""

    read: int
    added: int

    @property
    def already(self) -> int:
        return self.read - self.added


def customer_hash(customer_id: str) -> str:
    """The one-way hash standing for a customer id when no address is known.

    >>> customer_hash("90001")[:12]
    'b64273f919cc'
    """
    return hashlib.sha256(f"customer:{customer_id}".encode()).hexdigest()


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file (UTF-8 with or without BOM, ``,`` or ``;``), headers lowercased."""
    text = path.read_text(encoding="utf-8-sig")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    return [
        {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader
    ]


def _when(value: str, default: datetime | None) -> datetime | None:
    if not value:
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.strptime(value, "%d.%m.%Y %H:%M")
        except ValueError:
            try:
                parsed = datetime.strptime(value, "%d.%m.%Y")
            except ValueError:
                return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def import_consents(ops: OpsStore, path: Path, *, now: datetime) -> ImportReport:
    """Add the consent rows of ``path`` (see the module docstring); nothing is written when a
    row is invalid."""
    rows = read_rows(path)
    problems: list[RowProblem] = []
    records: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=2):
        if not row.get("customer_id"):
            problems.append(RowProblem(n, "customer_id", row.get("customer_id"), "required"))
            continue
        status = row.get("status", "").lower()
        if status not in ("granted", "withdrawn"):
            problems.append(RowProblem(n, "status", row.get("status"), "granted or withdrawn"))
            continue
        purpose = (row.get("purpose") or "marketing").lower()
        if purpose not in ("marketing", "service"):
            problems.append(RowProblem(n, "purpose", row.get("purpose"), "marketing or service"))
            continue
        ts = _when(row.get("ts", ""), None)
        if ts is None:
            problems.append(
                RowProblem(n, "ts", row.get("ts"), "when consent was given: 2026-06-30T12:00")
            )
            continue
        evidence = {k: v for k, v in row.items() if k not in _CONSENT_COLUMNS and v}
        records.append(
            {
                "customer_id": row["customer_id"],
                "channel": (row.get("channel") or "any").lower(),
                "purpose": purpose,
                "status": status,
                "source": row.get("source") or f"file:{path.name}",
                "text_version": row.get("text_version") or None,
                "evidence": evidence or None,
                "ts": ts,
            }
        )
    if problems:
        raise InputValidationError(str(path), problems, hint="fix the file and import it again")
    added = 0
    with ops.begin() as con:
        existing = {
            (r[0], r[1], r[2], r[3], r[4])
            for r in con.execute(
                sa.select(
                    CONSENTS.c.customer_id,
                    CONSENTS.c.channel,
                    CONSENTS.c.purpose,
                    CONSENTS.c.status,
                    CONSENTS.c.ts,
                ).where(CONSENTS.c.customer_id.in_({r["customer_id"] for r in records}))
            )
        }
        new = []
        for record in records:
            identity = (
                record["customer_id"],
                record["channel"],
                record["purpose"],
                record["status"],
                record["ts"].astimezone(UTC),
            )
            if identity in existing:
                continue
            existing.add(identity)
            new.append(record)
        if new:
            con.execute(CONSENTS.insert(), new)
        added = len(new)
    return ImportReport(len(records), added)


def import_suppressions(ops: OpsStore, path: Path, *, now: datetime) -> ImportReport:
    """Add the suppressions of ``path`` (see the module docstring)."""
    rows = read_rows(path)
    problems: list[RowProblem] = []
    records: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=2):
        address, customer = row.get("address", ""), row.get("customer_id", "")
        if not address and not customer:
            problems.append(RowProblem(n, "address", address, "an address or a customer_id"))
            continue
        reason = (row.get("reason") or "manual").lower()
        if reason not in _REASONS:
            problems.append(
                RowProblem(n, "reason", row.get("reason"), "one of " + ", ".join(_REASONS))
            )
            continue
        ts = _when(row.get("ts", ""), now)
        if ts is None:
            problems.append(RowProblem(n, "ts", row.get("ts"), "a date and time"))
            continue
        records.append(
            {
                "address_hash": address_hash(address) if address else customer_hash(customer),
                "channel": (row.get("channel") or "any").lower(),
                "customer_id": customer or None,
                "reason": reason,
                "source": row.get("source") or f"file:{path.name}",
                "ts": ts,
            }
        )
    if problems:
        raise InputValidationError(str(path), problems, hint="fix the file and import it again")
    with ops.begin() as con:
        before = _count(con, SUPPRESSIONS)
        insert_ignore(con, SUPPRESSIONS, records)
        added = _count(con, SUPPRESSIONS) - before
    return ImportReport(len(records), added)


def _count(con: Connection, table: sa.Table) -> int:
    return int(con.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def apply_unsubscribe(
    con: Connection,
    message: TrackedMessage,
    *,
    now: datetime,
    source: str = "one-click",
    all_channels: bool = False,
) -> bool:
    """Unsubscribe the customer of ``message`` (the service's POST /u/…): a suppression of the
    address on that channel (or every channel), a withdrawn marketing consent, an
    ``unsubscribed`` ledger event, and queued marketing messages cancelled. Idempotent: returns
    whether it was new.
    """
    channel = "any" if all_channels else message.channel
    suppression = {
        "address_hash": message.address_hash or customer_hash(message.customer_id),
        "channel": channel,
        "customer_id": message.customer_id,
        "reason": "unsubscribe",
        "source": source,
        "ts": now,
    }
    new = (
        con.execute(
            sa.select(sa.func.count())
            .select_from(SUPPRESSIONS)
            .where(
                SUPPRESSIONS.c.address_hash == suppression["address_hash"],
                SUPPRESSIONS.c.channel == channel,
            )
        ).scalar_one()
        == 0
    )
    if new:
        insert_ignore(con, SUPPRESSIONS, [suppression])
        con.execute(
            CONSENTS.insert().values(
                customer_id=message.customer_id,
                channel=channel,
                purpose="marketing",
                status="withdrawn",
                source=source,
                ts=now,
            )
        )
    found = (
        con.execute(sa.select(OUTBOX).where(OUTBOX.c.key == message.message_key)).mappings().first()
    )
    row: Mapping[str, Any] | None = None if found is None else dict(found)
    insert_ignore(
        con,
        SEND_LEDGER,
        [
            {
                "event_id": f"{message.message_key}:unsubscribed",
                "message_key": message.message_key,
                "customer_id": message.customer_id,
                "playbook": None if row is None else row["playbook"],
                "occurrence": None if row is None else row["occurrence"],
                "step": None if row is None else row["step"],
                "channel": message.channel,
                "type": "unsubscribed",
                "reason": source,
                "ts": now,
            }
        ],
    )
    pending = [OUTBOX.c.customer_id == message.customer_id, OUTBOX.c.purpose == "marketing"]
    if not all_channels:
        pending.append(OUTBOX.c.channel == message.channel)
    con.execute(
        OUTBOX.update()
        .where(*pending, OUTBOX.c.status.in_(("queued", "retry")))
        .values(status="cancelled", last_error="unsubscribed", updated_at=now)
    )
    return new
