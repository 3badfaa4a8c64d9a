"""``livebase forget CUSTOMER``: erase a person's personal data from both stores and every file of
the workspace, keeping history only under a one-way hash (152-FZ art. 21, GDPR art. 17).

What happens, in order:

1. **Operational store** (one transaction): the person's addresses are suppressed on every
   channel under their hashes (reason ``erased``: an address imported again is never
   messaged); ``customer_status``, inbox events and recorded links are deleted; pending
   messages are cancelled; every other row (outbox, send ledger, journeys, assignments,
   consents, segment changes, message tokens) keeps its facts under the pseudonym
   ``erased:<hash>`` — keys included — with payloads, evidence and free text cleared.
2. **Analytics store** (under the workspace job lock): in every table, the customer id becomes
   the pseudonym, and every text value holding the person's e-mail, phone or name is cleared;
   then the DuckDB file is rewritten so no freed page keeps the old values.
3. **Files** of the workspace (exports, task lists, reports, saved messages): a CSV row naming
   the person is removed; any other text file naming the person is deleted (they are derived
   and can be produced again).
4. An ``erasures`` row records what was touched, when, and by whom — without personal data.

The SQLite file is vacuumed and its WAL truncated, so the bytes are gone too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.delivery.consent import customer_hash
from livebase.errors import DeliveryError
from livebase.ops.store import OpsStore
from livebase.ops.tables import (
    ASSIGNMENTS,
    CONSENTS,
    CUSTOMER_STATUS,
    ERASURES,
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

if TYPE_CHECKING:
    from livebase.workspace import Workspace

__all__ = ["ErasureReport", "forget_customer", "pseudonym"]

_TEXT_SUFFIXES = {
    ".csv",
    ".tsv",
    ".txt",
    ".json",
    ".jsonl",
    ".html",
    ".htm",
    ".eml",
    ".md",
    ".xml",
    ".log",
}
_SKIP_FILES = {"livebase.yaml", "livebase.secrets", "livebase.lock"}


def pseudonym(customer_id: str) -> str:
    """What stands for an erased customer in the history that is kept.

    >>> pseudonym("90001")
    'erased:3e42fd55b739fa10'
    """
    return "erased:" + hashlib.sha256(f"erased:{customer_id}".encode()).hexdigest()[:16]


@dataclass
class ErasureReport:
    """What ``forget`` touched: rows per table of each store, files changed or deleted."""

    subject_hash: str
    ops: dict[str, int] = field(default_factory=dict)
    analytics: dict[str, int] = field(default_factory=dict)
    files_changed: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {
            "ops": self.ops,
            "analytics": self.analytics,
            "files_changed": self.files_changed,
            "files_deleted": self.files_deleted,
        }


@dataclass(frozen=True)
class _Person:
    customer_id: str
    emails: set[str]
    phones: set[str]
    names: set[str]
    chats: set[str]

    def needles(self) -> list[str]:
        """Substrings that identify the person in free text (lowercase)."""
        found = {e.lower() for e in self.emails}
        found |= {p for p in self.phones if len(re.sub(r"\D", "", p)) >= 7}
        found |= {re.sub(r"\D", "", p) for p in self.phones if len(re.sub(r"\D", "", p)) >= 7}
        found |= {n.lower() for n in self.names if len(n) >= 4}
        return sorted(f for f in found if f)

    def mentioned_in(self, text: str) -> bool:
        lower = text.lower()
        if any(n in lower for n in self.needles()):
            return True
        digits = re.sub(r"\D", "", text)
        if any(
            len(d) >= 10 and d[-10:] in digits for d in (re.sub(r"\D", "", p) for p in self.phones)
        ):
            return True
        return re.search(rf"(?<![\w-]){re.escape(self.customer_id)}(?![\w-])", text) is not None


def _swap_key(key: str | None, customer_id: str, alias: str) -> str | None:
    if key is None:
        return None
    head, sep, rest = key.partition("|")
    return f"{alias}{sep}{rest}" if head == customer_id else key


def _person_from_ops(con: Connection, customer_id: str) -> _Person:
    row = (
        con.execute(sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id == customer_id))
        .mappings()
        .first()
    )
    emails, phones, names, chats = set(), set(), set(), set()
    if row is not None:
        if row["email"]:
            emails.add(str(row["email"]))
        if row["phone"]:
            phones.add(str(row["phone"]))
        if row["name"]:
            names.add(str(row["name"]))
        chat = (row["attributes"] or {}).get("telegram_chat_id")
        if chat:
            chats.add(str(chat))
    return _Person(customer_id, emails, phones, names, chats)


def _person_from_analytics(con: Any, person: _Person) -> None:
    tables = con.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'customer_id' "
        "AND table_schema = 'main' AND table_name IN ('customers', 'ops_customer_status')"
    ).fetchall()
    for (table,) in tables:
        columns = {
            c: t
            for c, t in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = 'main'",
                [table],
            ).fetchall()
        }
        wanted = [
            c
            for c in ("email", "phone", "name", "first_name", "last_name", "full_name")
            if c in columns
        ]
        if not wanted:
            continue
        select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in wanted)
        for values in con.execute(
            f'SELECT {select} FROM "{table}" WHERE CAST(customer_id AS VARCHAR) = ?',
            [person.customer_id],
        ).fetchall():
            for column, value in zip(wanted, values, strict=True):
                if not value:
                    continue
                if column == "email":
                    person.emails.add(value)
                elif column == "phone":
                    person.phones.add(value)
                else:
                    person.names.add(value)


def _erase_ops(
    con: Connection, person: _Person, alias: str, *, now: datetime, report: ErasureReport
) -> None:
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
    outbox_rows = (
        con.execute(sa.select(OUTBOX.c.key).where(OUTBOX.c.customer_id == cid)).scalars().all()
    )
    for key in outbox_rows:
        con.execute(
            OUTBOX.update()
            .where(OUTBOX.c.key == key)
            .values(
                key=_swap_key(key, cid, alias),
                customer_id=alias,
                payload=None,
                last_error=None,
                updated_at=now,
            )
        )
    report.ops["outbox"] = len(outbox_rows)
    ledger = con.execute(
        sa.select(SEND_LEDGER.c.event_id, SEND_LEDGER.c.message_key).where(
            SEND_LEDGER.c.customer_id == cid
        )
    ).all()
    for event_id, message_key in ledger:
        con.execute(
            SEND_LEDGER.update()
            .where(SEND_LEDGER.c.event_id == event_id)
            .values(
                event_id=_swap_key(event_id, cid, alias),
                message_key=_swap_key(message_key, cid, alias),
                customer_id=alias,
                detail=None,
            )
        )
    report.ops["send_ledger"] = len(ledger)
    refs = con.execute(
        sa.select(MESSAGE_REFS.c.token, MESSAGE_REFS.c.message_key).where(
            MESSAGE_REFS.c.customer_id == cid
        )
    ).all()
    for token, message_key in refs:
        con.execute(
            MESSAGE_REFS.update()
            .where(MESSAGE_REFS.c.token == token)
            .values(message_key=_swap_key(message_key, cid, alias), customer_id=alias)
        )
    report.ops["message_refs"] = len(refs)
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
    _scan_ops_text(con, person, report)


def _scan_ops_text(con: Connection, person: _Person, report: ErasureReport) -> None:
    """Any other text in the operational store that names the person is cleared."""
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


def _erase_analytics(con: Any, person: _Person, alias: str, report: ErasureReport) -> None:
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    needles = person.needles()
    phone_digits = [
        re.sub(r"\D", "", p)[-10:] for p in person.phones if len(re.sub(r"\D", "", p)) >= 10
    ]
    for table in tables:
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
            [table],
        ).fetchall()
        touched = 0
        names = {c for c, _ in columns}
        if "customer_id" in names:
            result = con.execute(
                f'UPDATE "{table}" SET customer_id = ? WHERE CAST(customer_id AS VARCHAR) = ?',
                [alias, person.customer_id],
            ).fetchall()
            touched += int(result[0][0]) if result else 0
        id_pattern = f"(^|[^A-Za-z0-9]){re.escape(person.customer_id)}($|[^A-Za-z0-9])"
        for column, kind in columns:
            if kind not in ("VARCHAR", "JSON") or column == "customer_id":
                continue
            if kind == "VARCHAR":  # ids built from the customer id (event or order digests)
                result = con.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE regexp_matches("{column}", ?)',
                    [person.customer_id, alias, id_pattern],
                ).fetchall()
                touched += int(result[0][0]) if result else 0
            conditions = [f'lower(CAST("{column}" AS VARCHAR)) LIKE ?' for _ in needles]
            params: list[Any] = [f"%{n}%" for n in needles]
            for digits in phone_digits:
                conditions.append(
                    f"regexp_replace(CAST(\"{column}\" AS VARCHAR), '\\D', '', 'g') LIKE ?"
                )
                params.append(f"%{digits}%")
            conditions.append(f'CAST("{column}" AS VARCHAR) = ?')
            params.append(person.customer_id)
            result = con.execute(
                f'UPDATE "{table}" SET "{column}" = NULL WHERE {" OR ".join(conditions)}', params
            ).fetchall()
            touched += int(result[0][0]) if result else 0
        if touched:
            report.analytics[table] = touched


def _rewrite_duckdb(path: Path) -> None:
    """Copy the database into a fresh file and replace it: freed pages keep no old values."""
    import duckdb

    fresh = path.with_name(path.name + ".erasing")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"ATTACH '{fresh}' AS fresh")
        db = con.execute("SELECT current_database()").fetchone()
        name = db[0] if db else "main"
        con.execute(f'COPY FROM DATABASE "{name}" TO fresh')
        con.execute("DETACH fresh")
    finally:
        con.close()
    fresh.replace(path)
    Path(str(path) + ".wal").unlink(missing_ok=True)


def _erase_files(root: Path, person: _Person, report: ErasureReport) -> None:
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name in _SKIP_FILES or ".livebase" in path.parts:
            continue
        if path.suffix.lower() not in _TEXT_SUFFIXES:
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1251", errors="replace")
        if not person.mentioned_in(text):
            continue
        rel = str(path.relative_to(root))
        if path.suffix.lower() in (".csv", ".tsv"):
            lines = text.splitlines(keepends=True)
            kept = (
                [lines[0], *(ln for ln in lines[1:] if not person.mentioned_in(ln))]
                if lines
                else []
            )
            if kept and not person.mentioned_in(kept[0]):
                bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
                path.write_bytes(bom + "".join(kept).encode("utf-8"))
                report.files_changed.append(rel)
                continue
        path.unlink()
        report.files_deleted.append(rel)


def _vacuum_sqlite(ops: OpsStore) -> None:
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


def forget_customer(
    workspace: Workspace,
    customer_id: str,
    *,
    requested_by: str,
    now: datetime,
    extra_identifiers: Iterable[str] = (),
) -> ErasureReport:
    """Erase ``customer_id`` from the workspace (see the module docstring); returns what was
    touched. Raises :class:`DeliveryError` when the customer is unknown to both stores."""
    from livebase.locks import acquire

    alias = pseudonym(customer_id)
    report = ErasureReport(subject_hash=hashlib.sha256(customer_id.encode()).hexdigest())
    release = acquire(workspace.root, exclusive=True, command="livebase forget")
    try:
        ops = workspace.open_ops()
        try:
            with ops.read() as con:
                person = _person_from_ops(con, customer_id)
            store = workspace.open_store() if workspace.store_path.exists() else None
            try:
                if store is not None:
                    _person_from_analytics(store.con, person)
                person.names.update(i for i in extra_identifiers if i)
                known = bool(person.emails or person.phones or person.names)
                with ops.read() as con:
                    known = (
                        known
                        or con.execute(
                            sa.select(sa.func.count())
                            .select_from(OUTBOX)
                            .where(OUTBOX.c.customer_id == customer_id)
                        ).scalar_one()
                        > 0
                    )
                if not known:
                    raise DeliveryError(
                        f"customer {customer_id} is unknown to this workspace: nothing to erase "
                        "(check the id: 'livebase template preview NAME --customer ID' shows one)"
                    )
                with ops.begin() as con:
                    _erase_ops(con, person, alias, now=now, report=report)
                if store is not None:
                    with store.transaction() as con:
                        _erase_analytics(con, person, alias, report)
                    store.con.execute("CHECKPOINT")
            finally:
                if store is not None:
                    store.close()
            if store is not None:
                _rewrite_duckdb(workspace.store_path)
            _erase_files(workspace.root, person, report)
            with ops.begin() as con:
                con.execute(
                    ERASURES.insert().values(
                        subject_hash=report.subject_hash,
                        what=report.as_record(),
                        requested_by=requested_by,
                        ts=now,
                    )
                )
            _vacuum_sqlite(ops)
        finally:
            ops.close()
    finally:
        release()
    return report
