"""Who ``forget`` erases and what it touched: the person's identifiers, found in both stores,
and how to recognise them in free text.

>>> person = Person("90001", {"anna@example.ru"}, {"+7 912 000-11-22"}, {"Анна Петрова"}, set())
>>> person.mentioned_in("call 8 (912) 000-11-22"), person.mentioned_in("order 90001-7")
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.ops.tables import CUSTOMER_STATUS

__all__ = ["ErasureReport", "Person", "person_from_analytics", "person_from_ops"]


@dataclass
class ErasureReport:
    """What ``forget`` touched: rows per table of each store, files changed or deleted."""

    subject_hash: str
    ops: dict[str, int] = field(default_factory=dict)
    analytics: dict[str, int] = field(default_factory=dict)
    files_changed: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        """The ``erasures.what`` record: counts and file names, no personal data."""
        return {
            "ops": self.ops,
            "analytics": self.analytics,
            "files_changed": self.files_changed,
            "files_deleted": self.files_deleted,
        }


@dataclass(frozen=True)
class Person:
    """The identifiers of the person being erased."""

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
        """Whether ``text`` names the person: an address, a name, the phone's last ten digits
        or the customer id as a whole word."""
        lower = text.lower()
        if any(n in lower for n in self.needles()):
            return True
        digits = re.sub(r"\D", "", text)
        if any(
            len(d) >= 10 and d[-10:] in digits for d in (re.sub(r"\D", "", p) for p in self.phones)
        ):
            return True
        return re.search(rf"(?<![\w-]){re.escape(self.customer_id)}(?![\w-])", text) is not None


def person_from_ops(con: Connection, customer_id: str) -> Person:
    """The person's contacts and name as the operational store's ``customer_status`` has them."""
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
    return Person(customer_id, emails, phones, names, chats)


def person_from_analytics(con: Any, person: Person) -> None:
    """Add the e-mails, phones and names the analytics store (DuckDB ``con``) knows."""
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
