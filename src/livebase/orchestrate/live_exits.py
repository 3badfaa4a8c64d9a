"""Running journeys that end live: on a counted payment, a named event or a segment entered.

:func:`cancel_journey` ends one journey and cancels its pending outbox rows (ledger
``cancelled``) before any worker sends them; :func:`end_journeys` applies each playbook's
:class:`~livebase.orchestrate.live_rules.ExitWhen` to one customer's event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.ingest.inbound import InboundEvent
from livebase.ops.tables import JOURNEYS, OUTBOX, SEND_LEDGER
from livebase.ops.writes import insert_ignore
from livebase.orchestrate.live_rules import LiveRules, SegmentChange

__all__ = ["cancel_journey", "counted_payment", "end_journeys"]


def counted_payment(event: InboundEvent) -> bool:
    """A paid or partly paid order with money received: what a purchase means for exits."""
    order = event.order
    return (
        event.kind == "order"
        and order is not None
        and order.get("status") in ("paid", "partially_paid")
        and float(order.get("paid_amount") or 0) > 0
    )


def cancel_journey(
    con: Connection,
    customer_id: str,
    playbook: str,
    occurrence: int,
    *,
    reason: str,
    now: datetime,
) -> list[str]:
    """End a running journey and cancel its pending outbox rows (ledger ``cancelled``).

    Returns the cancelled outbox keys. A row a worker already claims (``sending``) is left to
    the worker's own send-time check, which sees the exited journey.
    """
    con.execute(
        JOURNEYS.update()
        .where(
            JOURNEYS.c.customer_id == customer_id,
            JOURNEYS.c.playbook == playbook,
            JOURNEYS.c.occurrence == occurrence,
            JOURNEYS.c.state == "active",
        )
        .values(
            state="exited",
            exit_reason=reason[:64],
            exited_at=now,
            next_due_at=None,
            updated_at=now,
            version=JOURNEYS.c.version + 1,
        )
    )
    pending = con.execute(
        sa.select(OUTBOX.c.key, OUTBOX.c.channel, OUTBOX.c.step).where(
            OUTBOX.c.customer_id == customer_id,
            OUTBOX.c.playbook == playbook,
            OUTBOX.c.occurrence == occurrence,
            OUTBOX.c.status.in_(("queued", "retry")),
        )
    ).all()
    keys = [str(r.key) for r in pending]
    if keys:
        con.execute(
            OUTBOX.update()
            .where(OUTBOX.c.key.in_(keys), OUTBOX.c.status.in_(("queued", "retry")))
            .values(status="cancelled", updated_at=now, last_error=f"exit: {reason}"[:500])
        )
        insert_ignore(
            con,
            SEND_LEDGER,
            [
                {
                    "event_id": f"{r.key}:cancelled",
                    "message_key": r.key,
                    "customer_id": customer_id,
                    "playbook": playbook,
                    "occurrence": occurrence,
                    "step": r.step,
                    "channel": r.channel,
                    "type": "cancelled",
                    "reason": f"exit: {reason}"[:256],
                    "ts": now,
                }
                for r in pending
            ],
        )
    return keys


def end_journeys(
    con: Connection,
    customer_id: str,
    event_names: set[str],
    changes: Sequence[SegmentChange],
    rules: LiveRules,
    now: datetime,
) -> list[str]:
    if not rules.exits:
        return []
    running = con.execute(
        sa.select(JOURNEYS.c.playbook, JOURNEYS.c.occurrence).where(
            JOURNEYS.c.customer_id == customer_id,
            JOURNEYS.c.state == "active",
            JOURNEYS.c.playbook.in_(list(rules.exits)),
        )
    ).all()
    cancelled: list[str] = []
    for playbook, occurrence in running:
        rule = rules.exits[playbook]
        reason = next(iter(sorted(event_names & rule.events)), None)
        if reason is None:
            for change in changes:
                if change.to_segment in rule.segments.get(change.scheme, frozenset()):
                    reason = f"{change.scheme}:{change.to_segment}"
                    break
        if reason is not None:
            cancelled += cancel_journey(
                con, customer_id, playbook, int(occurrence), reason=reason, now=now
            )
    return cancelled
