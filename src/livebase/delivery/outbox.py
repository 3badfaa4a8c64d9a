"""The worker's side of the operational store: claim due messages, hand them to channels,
record what happened, recover what a dead worker left.

Every state change is a short transaction, and the order is what makes a message go out once:

1. **claim** a batch of one channel (:mod:`livebase.delivery.claiming`): due rows are re-checked
   as a set and committed as ``sending`` under the owner's ``#claimed`` lease with
   ``attempts + 1``, then rendered outside the transaction, and their links recorded.
2. **settle** (one transaction per turn of the worker): the outcomes of the sends that finished
   (:mod:`livebase.delivery.outcomes`), and the **hand-over** of the claims about to start:
   their ``#claimed`` suffix is dropped, committed **before** the channel is called. Only the
   claims whose suffix was still there are started (a claim released meanwhile is not).
3. **recover**: a ``sending`` row whose lease expired and that was never handed over is simply
   released (nothing can have left). One that was handed over belongs to a worker that died
   mid-send. Nobody knows whether the customer got it: marketing becomes ``uncertain`` and is
   not resent (at most once); transactional goes back to ``retry`` and is resent with the same
   Message-ID and Idempotency-Key (at least once, deduplicable). Both get an ``uncertain``
   ledger event.
4. **release**: claims never handed over go back as they were (shutdown).

The attempt number is the optimistic lock: a late outcome for attempt 2 never overwrites
attempt 3 claimed by another worker.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.base import SendOutcome
from livebase.channels.settings import ChannelSettings
from livebase.delivery.claiming import ClaimContext, claim_due, prepare, render_claimed
from livebase.delivery.claims import CLAIMED, Claim, DeliverySettings, Tally, backoff
from livebase.delivery.ledger import insert_new, ledger_row
from livebase.delivery.outcomes import OutcomeWrites
from livebase.delivery.templates import Renderer
from livebase.errors import StoreError
from livebase.ops.prepared import Prepared
from livebase.ops.store import OpsStore
from livebase.ops.tables import OUTBOX, SEND_LEDGER
from livebase.orchestrate.settings import PolicySettings

__all__ = ["CLAIMED", "Claim", "DeliverySettings", "Outbox", "Tally", "backoff"]

_RELEASE = (
    OUTBOX.update()
    .where(
        OUTBOX.c.key == sa.bindparam("b_key"),
        OUTBOX.c.attempts == sa.bindparam("b_attempt"),
        OUTBOX.c.status == "sending",
        OUTBOX.c.lease_owner.in_((sa.bindparam("b_owner"), sa.bindparam("b_claimed"))),
    )
    .values(
        status=sa.bindparam("b_status"),
        attempts=sa.bindparam("b_back"),
        lease_owner=None,
        lease_until=None,
        next_attempt_at=sa.bindparam("b_next"),
        updated_at=sa.bindparam("b_now"),
    )
)


@functools.lru_cache(maxsize=32)  # one per group size: a few
def _hand_over(count: int) -> Prepared:
    """Hand ``count`` claims over (``b_key0``…): drop their ``#claimed`` suffix, returning the
    keys that still had it. One statement per group size: a prepared statement takes no
    expanding ``IN`` list."""
    keys = [f"b_key{i}" for i in range(count)]
    statement = (
        OUTBOX.update()
        .where(
            OUTBOX.c.key.in_([sa.bindparam(key) for key in keys]),
            OUTBOX.c.status == "sending",
            OUTBOX.c.lease_owner == sa.bindparam("b_claimed"),
        )
        .values(
            lease_owner=sa.bindparam("b_owner"),
            lease_until=sa.bindparam("b_until"),
            updated_at=sa.bindparam("b_now"),
        )
        .returning(OUTBOX.c.key)
    )
    return Prepared(statement, [*keys, "b_claimed", "b_owner", "b_until", "b_now"])


_DOUBT = (
    OUTBOX.update()
    .where(OUTBOX.c.key == sa.bindparam("b_key"), OUTBOX.c.attempts == sa.bindparam("b_attempt"))
    .values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next"),
        updated_at=sa.bindparam("b_now"),
        last_error="lease expired mid-send",
    )
)


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
        self.context = ClaimContext(
            owner=owner,
            channels=channels,
            policy=policy,
            workspace_tz=workspace_tz,
            renderer=renderer,
            settings=self.settings,
        )
        self._con: Connection | None = None
        self.last_processed = 0
        """Due rows the last :meth:`claim` looked at (sent on, skipped, deferred or failed)."""

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
        ``retry``, or release them when they were never handed over; returns how many."""
        tally = tally if tally is not None else Tally()
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
            rows = [dict(r) for r in con.execute(query).mappings()]
            released = [r for r in rows if str(r["lease_owner"] or "").endswith(CLAIMED)]
            doubted = [r for r in rows if not str(r["lease_owner"] or "").endswith(CLAIMED)]
            if released:  # claimed, never handed to the channel: nothing can have left
                con.execute(
                    _RELEASE,
                    [
                        {
                            "b_key": r["key"],
                            "b_attempt": r["attempts"],
                            "b_owner": r["lease_owner"],
                            "b_claimed": r["lease_owner"],
                            "b_status": "retry" if r["attempts"] > 1 else "queued",
                            "b_back": r["attempts"] - 1,
                            "b_next": now,
                            "b_now": now,
                        }
                        for r in released
                    ],
                )
                tally.add("released", len(released))
            if doubted:
                resend = {r["key"]: self.settings.resends(str(r["purpose"])) for r in doubted}
                con.execute(
                    _DOUBT,
                    [
                        {
                            "b_key": r["key"],
                            "b_attempt": r["attempts"],
                            "b_status": "retry" if resend[r["key"]] else "uncertain",
                            "b_next": now if resend[r["key"]] else r["next_attempt_at"],
                            "b_now": now,
                        }
                        for r in doubted
                    ],
                )
                insert_new(
                    con,
                    SEND_LEDGER,
                    [
                        ledger_row(
                            r,
                            "uncertain",
                            "uncertain",
                            now,
                            reason="lease_expired",
                            detail={"attempt": r["attempts"], "resent": resend[r["key"]]},
                        )
                        for r in doubted
                    ],
                )
                tally.add("uncertain", len(doubted))
        return len(rows)

    # -- claim --------------------------------------------------------------------------------
    def claim(self, channel: str, limit: int, now: datetime, tally: Tally) -> list[Claim]:
        """Claim, re-check, render and prepare up to ``limit`` due messages of ``channel``
        (see :mod:`livebase.delivery.claiming`); returns the claims ready to hand over."""
        self.last_processed = 0
        if limit <= 0:
            return []
        with self._begin() as con:
            claimed = claim_due(
                con, channel, limit, now, self.context, tally, skip_locked=self.ops.skip_locked
            )
        self.last_processed = claimed.processed
        if not claimed.rows:
            return []
        rendered = render_claimed(claimed, self.context, now)
        with self._begin() as con:
            prepare(con, rendered, now, tally)
        return rendered.claims

    # -- settle -------------------------------------------------------------------------------
    def settle(
        self,
        finished: Sequence[tuple[Claim, SendOutcome]],
        starting: Sequence[Claim],
        now: datetime,
        tally: Tally,
    ) -> list[Claim]:
        """In one transaction: record the outcomes of ``finished`` sends and hand ``starting``
        claims over to their channel (from here on a crash leaves them ``uncertain``; before,
        it only releases them). Returns the claims handed over: only those may be sent."""
        if not finished and not starting:
            return []
        writes = OutcomeWrites(tally=tally)
        for claim, outcome in finished:
            writes.add(claim, outcome, now, self.channels[claim.row["channel"]], self.settings)
        with self._begin() as con:
            writes.write(con)
            if not starting:
                return []
            params: dict[str, Any] = {f"b_key{i}": claim.key for i, claim in enumerate(starting)}
            params.update(
                b_claimed=self.owner + CLAIMED,
                b_owner=self.owner,
                b_until=now + self.settings.lease,
                b_now=now,
            )
            handed = {str(key) for (key,) in _hand_over(len(starting)).fetch(con, params)}
        return [claim for claim in starting if claim.key in handed]

    def record(
        self, results: Sequence[tuple[Claim, SendOutcome]], now: datetime, tally: Tally
    ) -> None:
        """Write the outcomes of finished sends (one transaction)."""
        self.settle(results, [], now, tally)

    def hand_over(self, claims: Sequence[Claim], now: datetime) -> list[Claim]:
        """Hand claimed messages over to their channel (one transaction, just before the sends
        start); returns those handed over."""
        return self.settle([], claims, now, Tally())

    # -- release ------------------------------------------------------------------------------
    def release(self, claims: Sequence[Claim], now: datetime) -> int:
        """Give back claimed messages that were never handed to the channel (shutdown)."""
        if not claims:
            return 0
        with self._begin() as con:
            result = con.execute(
                _RELEASE,
                [
                    {
                        "b_key": claim.key,
                        "b_attempt": claim.attempt,
                        "b_owner": self.owner,
                        "b_claimed": self.owner + CLAIMED,
                        "b_status": claim.previous_status,
                        "b_back": claim.attempt - 1,
                        "b_next": claim.row.get("next_attempt_at"),
                        "b_now": now,
                    }
                    for claim in claims
                ],
            )
        return int(result.rowcount or 0)
