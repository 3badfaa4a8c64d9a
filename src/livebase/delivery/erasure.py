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
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from livebase.delivery.erasure_analytics import erase_analytics, rewrite_duckdb
from livebase.delivery.erasure_files import erase_files
from livebase.delivery.erasure_ops import erase_ops, vacuum_sqlite
from livebase.delivery.erasure_subject import ErasureReport, person_from_analytics, person_from_ops
from livebase.errors import DeliveryError
from livebase.ops.tables import ERASURES, OUTBOX

if TYPE_CHECKING:
    from livebase.workspace import Workspace

__all__ = ["ErasureReport", "forget_customer", "pseudonym"]


def pseudonym(customer_id: str) -> str:
    """What stands for an erased customer in the history that is kept.

    >>> pseudonym("90001")
    'erased:3e42fd55b739fa10'
    """
    return "erased:" + hashlib.sha256(f"erased:{customer_id}".encode()).hexdigest()[:16]


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
                person = person_from_ops(con, customer_id)
            store = workspace.open_store() if workspace.store_path.exists() else None
            try:
                if store is not None:
                    person_from_analytics(store.con, person)
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
                    erase_ops(con, person, alias, now=now, report=report)
                if store is not None:
                    with store.transaction() as con:
                        erase_analytics(con, person, alias, report)
                    store.con.execute("CHECKPOINT")
            finally:
                if store is not None:
                    store.close()
            if store is not None:
                rewrite_duckdb(workspace.store_path)
            erase_files(workspace.root, person, report)
            with ops.begin() as con:
                con.execute(
                    ERASURES.insert().values(
                        subject_hash=report.subject_hash,
                        what=report.as_record(),
                        requested_by=requested_by,
                        ts=now,
                    )
                )
            vacuum_sqlite(ops)
        finally:
            ops.close()
    finally:
        release()
    return report
