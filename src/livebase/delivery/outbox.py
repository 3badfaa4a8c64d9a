"""The worker's side of the operational store: claim due messages, record what happened.

Every state change is a short transaction, and the order is what makes a message go out once:

1. **claim** (one transaction per small batch of one channel): pick due rows (``queued`` or
   ``retry`` whose ``next_attempt_at``/``due_at`` has come; ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), re-check each with
   :func:`~livebase.orchestrate.send_check.check_at_send`, render it, record its links, and set
   ``sending`` with a lease and ``attempts + 1`` — committed **before** the channel is called.
2. **record** (one transaction per group of finished sends): ``sent`` / ``retry`` (exponential
   backoff with jitter derived from the key) / ``failed`` / a suppression / ``uncertain``, each
   with its ledger event (``{key}:sent``, ``{key}:failed:{attempt}``, ``{key}:bounced``,
   ``{key}:uncertain``…), written with ``insert_ignore``.
   Between the claim and the start of the sends the lease owner carries a ``#claimed``
   suffix; :meth:`Outbox.hand_over` drops it in one transaction right before the sends start.
3. **recover**: a ``sending`` row whose lease expired and that was never handed over is simply
   released (nothing can have left). One that was handed over belongs to a worker that died
   mid-send.
   Nobody knows whether the customer got it: marketing becomes ``uncertain`` and is not resent
   (at most once); transactional goes back to ``retry`` and is resent with the same Message-ID
   and Idempotency-Key (at least once, deduplicable). Both get an ``uncertain`` ledger event.

The attempt number is the optimistic lock: a late outcome for attempt 2 never overwrites
attempt 3 claimed by another worker.

>>> backoff(1, "k", base=timedelta(minutes=1), cap=timedelta(hours=6)) <= timedelta(minutes=1)
True
>>> backoff(30, "k", base=timedelta(minutes=1), cap=timedelta(hours=6)) <= timedelta(hours=6)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.base import OutgoingMessage, SendOutcome
from livebase.channels.email_message import message_id as email_message_id
from livebase.channels.settings import ChannelSettings
from livebase.delivery.links import record_message, unsubscribe_url
from livebase.delivery.templates import Renderer
from livebase.errors import StoreError, TemplateError
from livebase.ops.store import OpsStore
from livebase.ops.tables import CUSTOMER_STATUS, OUTBOX, SEND_LEDGER, SUPPRESSIONS
from livebase.ops.writes import insert_ignore
from livebase.orchestrate.send_check import address_hash, check_at_send, contact_for
from livebase.orchestrate.settings import PolicySettings

__all__ = ["CLAIMED", "Claim", "DeliverySettings", "Outbox", "Tally", "backoff"]

CLAIMED = "#claimed"
"""Suffix of ``lease_owner`` between the claim and the hand-over to the channel."""


@dataclass(frozen=True)
class DeliverySettings:
    """How the worker treats time and doubt (defaults suit a school's volumes)."""

    lease: timedelta = timedelta(minutes=5)
    """How long a claim holds; past it, a ``sending`` row counts as abandoned mid-send."""
    backoff_base: timedelta = timedelta(minutes=1)
    backoff_cap: timedelta = timedelta(hours=6)
    resend_uncertain_marketing: bool = False
    """At most once: a marketing message that may have gone out is not sent again."""
    resend_uncertain_transactional: bool = True
    """At least once: a receipt or password mail is resent with the same ids."""


def backoff(attempt: int, key: str, *, base: timedelta, cap: timedelta) -> timedelta:
    """Wait before attempt ``attempt + 1``: ``base · 2^(attempt-1)``, capped, times a jitter in
    [0.5, 1) derived from the key (seeded, so a replay waits the same)."""
    digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
    jitter = 0.5 + int.from_bytes(digest[:4], "big") / 2**33
    raw: timedelta = base * (2 ** min(max(attempt - 1, 0), 30))
    wait: timedelta = min(raw, cap) * jitter
    return wait


@dataclass(frozen=True)
class Claim:
    """A message this worker committed as ``sending``: what to send and where it came from."""

    row: Mapping[str, Any]
    message: OutgoingMessage
    attempt: int
    previous_status: str


@dataclass
class Tally:
    """Counts of what happened, by outcome (printed by ``livebase send``)."""

    counts: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def __getitem__(self, what: str) -> int:
        return self.counts.get(what, 0)


def _ledger(
    row: Mapping[str, Any],
    event: str,
    kind: str,
    now: datetime,
    *,
    reason: str | None = None,
    cost: float = 0.0,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event_id": f"{row['key']}:{event}",
        "message_key": row["key"],
        "customer_id": row["customer_id"],
        "playbook": row["playbook"],
        "occurrence": row["occurrence"],
        "step": row["step"],
        "channel": row["channel"],
        "type": kind,
        "reason": None if reason is None else reason[:256],
        "cost": cost,
        "ts": now,
        "detail": dict(detail or {}),
    }


class Outbox:
    """Claims and outcomes for one worker process (see the module docstring)."""

    def __init__(
        self,
        ops: OpsStore,
        *,
        owner: str,
        channels: Mapping[str, ChannelSettings],
        policy: PolicySettings,
        workspace_tz: str,
        renderer: Renderer,
        settings: DeliverySettings | None = None,
    ) -> None:
        self.ops = ops
        self.owner = owner
        self.channels = channels
        self.policy = policy
        self.workspace_tz = workspace_tz
        self.renderer = renderer
        self.settings = settings or DeliverySettings()
        self._con: Connection | None = None
        self.last_processed = 0
        """Due rows the last :meth:`claim` looked at (sent, skipped, deferred or failed)."""

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A write transaction on this worker's own connection (kept open: on SQLite a new
        connection per transaction costs more than the transaction)."""
        if self.ops.dialect != "sqlite":
            with self.ops.begin() as con:
                yield con
            return
        try:
            if self._con is None or self._con.closed:
                self._con = self.ops.engine.connect()
            with self._con.begin():
                yield self._con
        except sa.exc.OperationalError as exc:
            self.close()
            raise StoreError(f"the operational store {self.ops.url} failed: {exc.orig}") from exc

    def close(self) -> None:
        """Close this worker's connection."""
        if self._con is not None:
            self._con.close()
            self._con = None

    # -- recover ------------------------------------------------------------------------------
    def recover(self, now: datetime, tally: Tally | None = None) -> int:
        """Turn abandoned ``sending`` rows (lease expired, another owner) into ``uncertain`` or
        ``retry``; returns how many."""
        with self._begin() as con:
            query = sa.select(OUTBOX).where(
                OUTBOX.c.status == "sending",
                OUTBOX.c.lease_until < now,
                sa.or_(
                    OUTBOX.c.lease_owner.is_(None),
                    OUTBOX.c.lease_owner.notin_([self.owner, self.owner + CLAIMED]),
                ),
            )
            if self.ops.skip_locked:
                query = query.with_for_update(skip_locked=True)
            rows = [dict(r) for r in con.execute(query).mappings().all()]
            for row in rows:
                if str(row["lease_owner"] or "").endswith(CLAIMED):
                    # claimed, never handed to the channel: nothing can have left
                    con.execute(
                        OUTBOX.update()
                        .where(OUTBOX.c.key == row["key"], OUTBOX.c.attempts == row["attempts"])
                        .values(
                            status="retry" if row["attempts"] > 1 else "queued",
                            attempts=row["attempts"] - 1,
                            lease_owner=None,
                            lease_until=None,
                            next_attempt_at=now,
                            updated_at=now,
                        )
                    )
                    if tally is not None:
                        tally.add("released")
                    continue
                resend = (
                    self.settings.resend_uncertain_transactional
                    if row["purpose"] == "transactional"
                    else self.settings.resend_uncertain_marketing
                )
                values: dict[str, Any] = {"updated_at": now, "last_error": "lease expired mid-send"}
                if resend:
                    values.update(status="retry", next_attempt_at=now)
                else:
                    values.update(status="uncertain")
                con.execute(
                    OUTBOX.update()
                    .where(OUTBOX.c.key == row["key"], OUTBOX.c.attempts == row["attempts"])
                    .values(**values)
                )
                insert_ignore(
                    con,
                    SEND_LEDGER,
                    [
                        _ledger(
                            row,
                            "uncertain",
                            "uncertain",
                            now,
                            reason="lease_expired",
                            detail={"attempt": row["attempts"], "resent": resend},
                        )
                    ],
                )
                if tally is not None:
                    tally.add("uncertain")
        return len(rows)

    # -- claim --------------------------------------------------------------------------------
    def claim(self, channel: str, limit: int, now: datetime, tally: Tally) -> list[Claim]:
        """Claim up to ``limit`` due messages of ``channel`` (see the module docstring)."""
        if limit <= 0:
            return []
        due = sa.func.coalesce(OUTBOX.c.next_attempt_at, OUTBOX.c.due_at)
        query = (
            sa.select(OUTBOX)
            .where(
                OUTBOX.c.channel == channel,
                OUTBOX.c.status.in_(("queued", "retry")),
                due <= now,
            )
            .order_by(OUTBOX.c.priority.desc(), due, OUTBOX.c.key)
            .limit(limit)
        )
        if self.ops.skip_locked:
            query = query.with_for_update(skip_locked=True, of=OUTBOX)
        claims: list[Claim] = []
        with self._begin() as con:
            rows = con.execute(query).mappings().all()
            self.last_processed = len(rows)
            for row in rows:
                claim = self._claim_one(con, dict(row), now, tally)
                if claim is not None:
                    claims.append(claim)
        return claims

    def _claim_one(
        self, con: Connection, row: dict[str, Any], now: datetime, tally: Tally
    ) -> Claim | None:
        decision = check_at_send(
            con,
            row,
            policy=self.policy,
            channels=self.channels,
            workspace_tz=self.workspace_tz,
            now=now,
        )
        key = row["key"]
        if decision.action == "defer":
            until = decision.not_before
            if until is None or until <= now:  # never spin on a row that stays due
                until = now + timedelta(minutes=1)
            con.execute(
                OUTBOX.update()
                .where(OUTBOX.c.key == key)
                .values(next_attempt_at=until, updated_at=now, last_error=decision.reason)
            )
            event = f"deferred:{until.strftime('%Y%m%dT%H%M%S')}"
            insert_ignore(
                con, SEND_LEDGER, [_ledger(row, event, "deferred", now, reason=decision.reason)]
            )
            tally.add("deferred")
            return None
        if decision.action in ("skip", "cancel"):
            kind = "skipped" if decision.action == "skip" else "cancelled"
            self._finish(con, row, "cancelled", now, error=decision.reason)
            insert_ignore(con, SEND_LEDGER, [_ledger(row, kind, kind, now, reason=decision.reason)])
            tally.add(kind)
            return None
        settings = self.channels[row["channel"]]
        found = (
            con.execute(
                sa.select(CUSTOMER_STATUS).where(
                    CUSTOMER_STATUS.c.customer_id == row["customer_id"]
                )
            )
            .mappings()
            .first()
        )
        status = None if found is None else dict(found)
        address = contact_for(settings, status) or str(row["customer_id"])
        unsubscribe = None
        if row["purpose"] == "marketing":
            unsubscribe = unsubscribe_url(self.renderer.base_url, self.renderer.keys, key)
        try:
            rendered = self.renderer.render(
                row, status, unsubscribe_url=unsubscribe, track=settings.type != "sms"
            )
        except TemplateError as exc:
            self._finish(con, row, "failed", now, error=str(exc))
            insert_ignore(
                con,
                SEND_LEDGER,
                [
                    _ledger(
                        row,
                        f"failed:{row['attempts'] + 1}",
                        "failed",
                        now,
                        reason=f"template: {exc}",
                    )
                ],
            )
            tally.add("failed")
            return None
        record_message(
            con,
            message_key=key,
            customer_id=str(row["customer_id"]),
            channel=str(row["channel"]),
            purpose=str(row["purpose"]),
            address_hash=address_hash(address),
            urls=rendered.links,
            now=now,
        )
        attempt = int(row["attempts"]) + 1
        mid = email_message_id(key, settings.sender or "") if settings.type == "smtp" else None
        con.execute(
            OUTBOX.update()
            .where(OUTBOX.c.key == key)
            .values(
                status="sending",
                lease_owner=self.owner + CLAIMED,
                lease_until=now + self.settings.lease,
                attempts=attempt,
                next_attempt_at=None,
                updated_at=now,
                message_id=mid or row.get("message_id"),
            )
        )
        name = None if status is None else status.get("name")
        message = OutgoingMessage(
            key=key,
            customer_id=str(row["customer_id"]),
            channel=str(row["channel"]),
            purpose="transactional" if row["purpose"] == "transactional" else "marketing",
            address=address,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            name=name,
            unsubscribe_url=unsubscribe,
            date=now,
            playbook=row["playbook"],
            step=row["step"],
            data={
                "offer": row.get("offer"),
                "phone": (status or {}).get("phone"),
                "email": (status or {}).get("email"),
                **dict(row.get("payload") or {}),
            },
        )
        return Claim(row=row, message=message, attempt=attempt, previous_status=row["status"])

    def _finish(
        self,
        con: Connection,
        row: Mapping[str, Any],
        status: str,
        now: datetime,
        *,
        error: str | None,
    ) -> None:
        con.execute(
            OUTBOX.update()
            .where(OUTBOX.c.key == row["key"])
            .values(
                status=status,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
                last_error=None if error is None else error[:2000],
            )
        )

    # -- record -------------------------------------------------------------------------------
    def record(
        self, results: Sequence[tuple[Claim, SendOutcome]], now: datetime, tally: Tally
    ) -> None:
        """Write the outcomes of finished sends (one transaction)."""
        if not results:
            return
        with self._begin() as con:
            for claim, outcome in results:
                self._record_one(con, claim, outcome, now, tally)

    def _record_one(
        self, con: Connection, claim: Claim, outcome: SendOutcome, now: datetime, tally: Tally
    ) -> None:
        row, attempt = claim.row, claim.attempt
        settings = self.channels[row["channel"]]
        mine = sa.and_(
            OUTBOX.c.key == row["key"],
            OUTBOX.c.attempts == attempt,
            OUTBOX.c.status.in_(("sending", "uncertain", "retry")),
        )
        detail: dict[str, Any] = {"attempt": attempt, "answer": outcome.detail}
        if outcome.provider_id:
            detail["provider_id"] = outcome.provider_id
        status = outcome.status
        if status == "sent":
            cost = outcome.cost if outcome.cost is not None else settings.cost
            con.execute(
                OUTBOX.update()
                .where(mine)
                .values(
                    status="sent",
                    sent_at=now,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                    last_error=None,
                )
            )
            insert_ignore(
                con, SEND_LEDGER, [_ledger(row, "sent", "sent", now, cost=cost, detail=detail)]
            )
            tally.add("sent")
            tally.cost += cost
            return
        if status == "uncertain":
            resend = (
                self.settings.resend_uncertain_transactional
                if row["purpose"] == "transactional"
                else self.settings.resend_uncertain_marketing
            )
            values: dict[str, Any] = {"updated_at": now, "last_error": outcome.detail[:2000]}
            if resend and attempt < settings.max_attempts:
                wait = backoff(
                    attempt,
                    row["key"],
                    base=self.settings.backoff_base,
                    cap=self.settings.backoff_cap,
                )
                values.update(
                    status="retry", next_attempt_at=now + wait, lease_owner=None, lease_until=None
                )
            else:
                values.update(status="uncertain", lease_owner=None, lease_until=None)
            con.execute(OUTBOX.update().where(mine).values(**values))
            detail["resent"] = bool(resend)
            insert_ignore(
                con,
                SEND_LEDGER,
                [_ledger(row, "uncertain", "uncertain", now, reason=outcome.detail, detail=detail)],
            )
            tally.add("uncertain")
            return
        if status == "suppress":
            address = claim.message.address
            insert_ignore(
                con,
                SUPPRESSIONS,
                [
                    {
                        "address_hash": address_hash(address),
                        "channel": row["channel"],
                        "customer_id": row["customer_id"],
                        "reason": outcome.reason or "bounce",
                        "source": f"{row['channel']}: {outcome.detail}"[:256],
                        "ts": now,
                    }
                ],
            )
            con.execute(
                OUTBOX.update()
                .where(mine)
                .values(
                    status="failed",
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                    last_error=outcome.detail[:2000],
                )
            )
            insert_ignore(
                con,
                SEND_LEDGER,
                [
                    _ledger(
                        row,
                        "bounced",
                        "bounced",
                        now,
                        reason=outcome.reason or "bounce",
                        detail=detail,
                    )
                ],
            )
            tally.add("suppressed")
            return
        final = status == "failed" or attempt >= settings.max_attempts
        values = {
            "updated_at": now,
            "last_error": outcome.detail[:2000],
            "lease_owner": None,
            "lease_until": None,
        }
        if final:
            values["status"] = "failed"
        else:
            wait = backoff(
                attempt, row["key"], base=self.settings.backoff_base, cap=self.settings.backoff_cap
            )
            if outcome.retry_after is not None:
                wait = max(wait, timedelta(seconds=outcome.retry_after))
            values.update(status="retry", next_attempt_at=now + wait)
        con.execute(OUTBOX.update().where(mine).values(**values))
        detail["final"] = final
        insert_ignore(
            con,
            SEND_LEDGER,
            [
                _ledger(
                    row, f"failed:{attempt}", "failed", now, reason=outcome.detail, detail=detail
                )
            ],
        )
        tally.add("failed" if final else "retry")

    # -- hand over ----------------------------------------------------------------------------
    def hand_over(self, claims: Sequence[Claim], now: datetime) -> None:
        """Mark claimed messages as handed to their channel (one transaction, just before the
        sends start): from here on a crash leaves them ``uncertain``; before it, a crash only
        releases them."""
        if not claims:
            return
        with self._begin() as con:
            for claim in claims:
                con.execute(
                    OUTBOX.update()
                    .where(
                        OUTBOX.c.key == claim.row["key"],
                        OUTBOX.c.attempts == claim.attempt,
                        OUTBOX.c.lease_owner == self.owner + CLAIMED,
                    )
                    .values(lease_owner=self.owner, updated_at=now)
                )

    # -- release ------------------------------------------------------------------------------
    def release(self, claims: Sequence[Claim], now: datetime) -> int:
        """Give back claimed messages that were never handed to the channel (shutdown)."""
        released = 0
        with self._begin() as con:
            for claim in claims:
                result = con.execute(
                    OUTBOX.update()
                    .where(
                        OUTBOX.c.key == claim.row["key"],
                        OUTBOX.c.attempts == claim.attempt,
                        OUTBOX.c.status == "sending",
                        OUTBOX.c.lease_owner.in_([self.owner, self.owner + CLAIMED]),
                    )
                    .values(
                        status=claim.previous_status,
                        attempts=claim.attempt - 1,
                        lease_owner=None,
                        lease_until=None,
                        next_attempt_at=claim.row.get("next_attempt_at"),
                        updated_at=now,
                    )
                )
                released += int(result.rowcount or 0)
        return released
