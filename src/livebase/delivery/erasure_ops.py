"""Erasure in the operational store: addresses suppressed under their hashes, personal rows
deleted, pending messages cancelled, history kept under the pseudonym, free text cleared.

>>> swap_key("90001|winback|1|email", "90001", "erased:x")
'erased:x|winback|1|email'
>>> swap_key("90002|winback|1|email", "90001", "erased:x")
'90002|winback|1|email'
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.delivery.consent import customer_hash
from livebase.delivery.erasure_subject import ErasureReport, Person
from livebase.ops.store import OpsStore
from livebase.ops.tables import (
    ASSIGNMENTS,
    CONSENTS,
    CUSTOMER_STATUS,
    INBOX,
    JOURNEYS,
    MESSAGE_LINKS,
    MESSAGE_REFS,
    METADATA,
    OUTBOX,
    SEGMENT_CHANGES,
    SEND_LEDGER,
    SUPPRESSIONS,
)
from livebase.ops.writes import insert_ignore
from livebase.orchestrate.send_check import address_hash

__all__ = ["erase_ops", "swap_key", "vacuum_sqlite"]


def _rekey(
    con: Connection,
    table: sa.Table,
    id_column: str,
    keyed: tuple[str, ...],
    customer_id: str,
    alias: str,
    **cleared: object,
) -> int:
    """Move ``customer_id``'s rows of ``table`` to ``alias``: the key columns ``keyed`` get the
    alias in place of the id (:func:`swap_key`), ``cleared`` columns their new values; returns
    how many rows moved."""
    wanted = dict.fromkeys((id_column, *keyed))
    rows = con.execute(
        sa.select(*(table.c[name] for name in wanted)).where(table.c.customer_id == customer_id)
    ).all()
    for row in rows:
        found = row._mapping
        con.execute(
            table.update()
            .where(table.c[id_column] == found[id_column])
            .values(
                customer_id=alias,
                **{name: swap_key(found[name], customer_id, alias) for name in keyed},
                **cleared,
            )
        )
    return len(rows)


def swap_key(key: str | None, customer_id: str, alias: str) -> str | None:
    """``key`` with its leading customer id replaced by ``alias`` (keys start with the id)."""
    if key is None:
        return None
    head, sep, rest = key.partition("|")
    return f"{alias}{sep}{rest}" if head == customer_id else key


def erase_ops(
    con: Connection, person: Person, alias: str, *, now: datetime, report: ErasureReport
) -> None:
    """Step 1 of :func:`~livebase.delivery.erasure.forget_customer`, in the caller's
    transaction: suppress the person's addresses, delete their personal rows, cancel pending
    messages, keep history under ``alias``, clear free text; counts go to ``report.ops``."""
    cid = person.customer_id
    hashes = {address_hash(a) for a in person.emails | person.phones | person.chats} | {
        customer_hash(cid)
    }
    insert_ignore(
        con,
        SUPPRESSIONS,
        [
            {
                "address_hash": h,
                "channel": "any",
                "customer_id": None,
                "reason": "erased",
                "source": "forget",
                "ts": now,
            }
            for h in sorted(hashes)
        ],
    )
    report.ops["suppressions_added"] = len(hashes)
    count = con.execute(
        SUPPRESSIONS.update()
        .where(SUPPRESSIONS.c.customer_id == cid)
        .values(customer_id=None, source="erased")
    )
    report.ops["suppressions"] = int(count.rowcount or 0)
    tokens = [
        r[0]
        for r in con.execute(
            sa.select(MESSAGE_REFS.c.token).where(MESSAGE_REFS.c.customer_id == cid)
        )
    ]
    for table, where in (
        (CUSTOMER_STATUS, CUSTOMER_STATUS.c.customer_id == cid),
        (INBOX, INBOX.c.customer_id == cid),
        (MESSAGE_LINKS, MESSAGE_LINKS.c.token.in_(tokens)),
    ):
        report.ops[table.name] = int(con.execute(table.delete().where(where)).rowcount or 0)
    con.execute(
        OUTBOX.update()
        .where(OUTBOX.c.customer_id == cid, OUTBOX.c.status.in_(("queued", "retry", "sending")))
        .values(status="cancelled", last_error="erased", updated_at=now)
    )
    report.ops["outbox"] = _rekey(
        con, OUTBOX, "key", ("key",), cid, alias, payload=None, last_error=None, updated_at=now
    )
    report.ops["send_ledger"] = _rekey(
        con, SEND_LEDGER, "event_id", ("event_id", "message_key"), cid, alias, detail=None
    )
    report.ops["message_refs"] = _rekey(con, MESSAGE_REFS, "token", ("message_key",), cid, alias)
    for table, extra in (
        (JOURNEYS, {}),
        (ASSIGNMENTS, {}),
        (CONSENTS, {"evidence": None}),
        (SEGMENT_CHANGES, {}),
    ):
        result = con.execute(
            table.update().where(table.c.customer_id == cid).values(customer_id=alias, **extra)
        )
        report.ops[table.name] = int(result.rowcount or 0)
    scan_ops_text(con, person, report)


def scan_ops_text(con: Connection, person: Person, report: ErasureReport) -> None:
    """Clear any other text of the operational store that names the person (nullable text and
    JSON columns of every table but the erasure records)."""
    for table in METADATA.sorted_tables:
        if table.name in ("erasures", "alembic_version"):
            continue
        texts = [
            c
            for c in table.columns
            if isinstance(c.type, sa.String | sa.Text | sa.JSON)
            and not c.primary_key
            and c.nullable is not False
        ]
        if not texts:
            continue
        keys = list(table.primary_key.columns)
        for row in con.execute(sa.select(*keys, *texts)).all():
            values = dict(zip([c.name for c in keys] + [c.name for c in texts], row, strict=True))
            hits = {
                c.name: None
                for c in texts
                if values[c.name] is not None and person.mentioned_in(str(values[c.name]))
            }
            if hits:
                con.execute(
                    table.update().where(*(k == values[k.name] for k in keys)).values(**hits)
                )
                report.ops[f"{table.name}_text"] = report.ops.get(f"{table.name}_text", 0) + 1


def vacuum_sqlite(ops: OpsStore) -> None:
    """SQLite: rewrite the file and truncate its WAL, so erased values leave no bytes behind."""
    if ops.dialect != "sqlite":
        return
    raw = ops.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()
