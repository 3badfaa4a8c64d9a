"""Recording what the channels answered: every finished send of a turn in one batch of writes.

Each outcome becomes one outbox update (guarded by the attempt number, the optimistic lock: a
late answer for attempt 2 never overwrites attempt 3 claimed by another worker), one ledger
event, and for a hard bounce or a blocked chat one suppression:

===========  ===================================================  =====================
outcome      outbox row                                           ledger event
===========  ===================================================  =====================
sent         ``sent``                                             ``{key}:sent`` + cost
uncertain    ``uncertain``, or ``retry`` when its purpose resends  ``{key}:uncertain``
suppress     ``failed`` (+ a suppression of the address)          ``{key}:bounced``
retry        ``retry`` after a backoff, ``failed`` at max attempts ``{key}:failed:{n}``
failed       ``failed``                                           ``{key}:failed:{n}``
===========  ===================================================  =====================

>>> from livebase.channels.base import OutgoingMessage
>>> from datetime import UTC, datetime
>>> row = {"key": "7|w|1|email", "customer_id": "7", "playbook": "w", "occurrence": 1,
...        "step": "email", "channel": "email", "purpose": "marketing"}
>>> claim = Claim(row, OutgoingMessage("7|w|1|email", "7", "email", "marketing", "a@b.ru", "hi"),
...               1, "queued")
>>> plan = OutcomeWrites()
>>> plan.add(claim, SendOutcome.sent("m1"), datetime(2026, 6, 30, tzinfo=UTC),
...          ChannelSettings(cost=0.05), DeliverySettings())
>>> plan.outbox[0]["b_status"], plan.ledger[0]["event_id"], plan.tally.cost
('sent', '7|w|1|email:sent', 0.05)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.base import SendOutcome
from livebase.channels.settings import ChannelSettings
from livebase.delivery.claims import Claim, DeliverySettings, Tally, backoff
from livebase.delivery.ledger import insert_new, ledger_row
from livebase.ops.prepared import Prepared
from livebase.ops.tables import OUTBOX, SEND_LEDGER, SUPPRESSIONS
from livebase.orchestrate.send_check import address_hash

__all__ = ["OutcomeWrites"]

_SETTLE = Prepared(
    OUTBOX.update()
    .where(
        OUTBOX.c.key == sa.bindparam("b_key"),
        OUTBOX.c.attempts == sa.bindparam("b_attempt"),
        # spelled out: an IN list cannot be used in a batched (executemany) statement
        sa.or_(*(OUTBOX.c.status == s for s in ("sending", "uncertain", "retry"))),
    )
    .values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next"),
        sent_at=sa.bindparam("b_sent"),
        last_error=sa.bindparam("b_error"),
        lease_owner=None,
        lease_until=None,
        updated_at=sa.bindparam("b_now"),
    ),
    ["b_key", "b_attempt", "b_status", "b_next", "b_sent", "b_error", "b_now"],
)


@dataclass
class OutcomeWrites:
    """The writes of a group of finished sends, built in memory, written by :meth:`write`."""

    outbox: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    suppressions: list[dict[str, Any]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    def add(
        self,
        claim: Claim,
        outcome: SendOutcome,
        now: datetime,
        channel: ChannelSettings,
        settings: DeliverySettings,
    ) -> None:
        """Add the writes of one outcome (see the module docstring)."""
        row, attempt = claim.row, claim.attempt
        detail: dict[str, Any] = {"attempt": attempt, "answer": outcome.detail}
        if outcome.provider_id:
            detail["provider_id"] = outcome.provider_id
        update: dict[str, Any] = {
            "b_key": row["key"],
            "b_attempt": attempt,
            "b_next": None,
            "b_sent": None,
            "b_error": outcome.detail[:2000],
            "b_now": now,
        }
        if outcome.status == "sent":
            cost = outcome.cost if outcome.cost is not None else channel.cost
            update.update(b_status="sent", b_sent=now, b_error=None)
            self.ledger.append(ledger_row(row, "sent", "sent", now, cost=cost, detail=detail))
            self.tally.add("sent")
            self.tally.cost += cost
        elif outcome.status == "uncertain":
            resend = settings.resends(str(row["purpose"]))
            if resend and attempt < channel.max_attempts:
                wait = backoff(
                    attempt, row["key"], base=settings.backoff_base, cap=settings.backoff_cap
                )
                update.update(b_status="retry", b_next=now + wait)
            else:
                update.update(b_status="uncertain")
            detail["resent"] = bool(resend)
            self.ledger.append(
                ledger_row(row, "uncertain", "uncertain", now, reason=outcome.detail, detail=detail)
            )
            self.tally.add("uncertain")
        elif outcome.status == "suppress":
            reason = outcome.reason or "bounce"
            self.suppressions.append(
                {
                    "address_hash": address_hash(claim.message.address),
                    "channel": row["channel"],
                    "customer_id": row["customer_id"],
                    "reason": reason,
                    "source": f"{row['channel']}: {outcome.detail}"[:256],
                    "ts": now,
                }
            )
            update.update(b_status="failed")
            self.ledger.append(
                ledger_row(row, "bounced", "bounced", now, reason=reason, detail=detail)
            )
            self.tally.add("suppressed")
        else:
            final = outcome.status == "failed" or attempt >= channel.max_attempts
            if final:
                update.update(b_status="failed")
            else:
                wait = backoff(
                    attempt, row["key"], base=settings.backoff_base, cap=settings.backoff_cap
                )
                if outcome.retry_after is not None:
                    wait = max(wait, timedelta(seconds=outcome.retry_after))
                update.update(b_status="retry", b_next=now + wait)
            detail["final"] = final
            self.ledger.append(
                ledger_row(
                    row, f"failed:{attempt}", "failed", now, reason=outcome.detail, detail=detail
                )
            )
            self.tally.add("failed" if final else "retry")
        self.outbox.append(update)

    def write(self, con: Connection) -> None:
        """Write everything added, one batched statement per table, in the caller's
        transaction."""
        insert_new(con, SUPPRESSIONS, self.suppressions)
        if self.outbox:
            _SETTLE.execute(con, self.outbox)
        insert_new(con, SEND_LEDGER, self.ledger)
