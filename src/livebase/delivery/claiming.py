"""Claiming a batch of due messages: pick them, re-check them as a set, commit ``sending``, then
render them and record their links.

One batch of one channel takes two short transactions and the rendering between them:

1. **claim**: select up to ``limit`` due rows (``queued`` or ``retry`` whose
   ``next_attempt_at``/``due_at`` has come; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   ``BEGIN IMMEDIATE`` on SQLite), decide them all with
   :func:`~livebase.orchestrate.send_check.check_batch` (a few queries for the whole batch, the
   batch's own approvals counted against the caps), and write the decisions with one batched
   statement per kind: deferred rows get their next attempt, skipped and cancelled rows are
   closed, the rest become ``sending`` under this worker's ``#claimed`` lease with
   ``attempts + 1`` — all with their ledger events.
2. **render** (no transaction open): templates, signed links, the unsubscribe URL. The
   renderer forgets its compiled templates only when a file under ``templates/`` was added,
   removed or changed since the last batch (compiling them again cost a few per cent of the
   worker's time when it was done for every batch).
3. **prepare**: record every rendered message's token and link targets (so a click resolves the
   moment the message arrives), and fail the rows whose template broke.

Nothing has reached a channel yet: a crash anywhere here leaves ``#claimed`` rows that are
released, never doubted (see :mod:`livebase.delivery.outbox`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.base import OutgoingMessage, message_token
from livebase.channels.email_message import message_id as email_message_id
from livebase.channels.settings import ChannelSettings
from livebase.delivery.claims import CLAIMED, Claim, DeliverySettings, Tally
from livebase.delivery.ledger import insert_new, ledger_row
from livebase.delivery.links import unsubscribe_url
from livebase.delivery.templates import TEMPLATES_DIR, Renderer
from livebase.errors import TemplateError
from livebase.ops.prepared import Prepared
from livebase.ops.tables import MESSAGE_LINKS, MESSAGE_REFS, OUTBOX, SEND_LEDGER
from livebase.orchestrate.send_check import address_hash, check_batch, contact_for
from livebase.orchestrate.settings import PolicySettings

__all__ = [
    "ClaimContext",
    "Claimed",
    "Rendered",
    "claim_due",
    "prepare",
    "render_claimed",
    "templates_state",
]

_DEFER = Prepared(
    OUTBOX.update()
    .where(OUTBOX.c.key == sa.bindparam("b_key"))
    .values(
        next_attempt_at=sa.bindparam("b_until"),
        updated_at=sa.bindparam("b_now"),
        last_error=sa.bindparam("b_reason"),
    ),
    ["b_key", "b_until", "b_now", "b_reason"],
)
_CLOSE = Prepared(
    OUTBOX.update()
    .where(OUTBOX.c.key == sa.bindparam("b_key"))
    .values(
        status=sa.bindparam("b_status"),
        lease_owner=None,
        lease_until=None,
        updated_at=sa.bindparam("b_now"),
        last_error=sa.bindparam("b_reason"),
    ),
    ["b_key", "b_status", "b_now", "b_reason"],
)
_TAKE = Prepared(
    OUTBOX.update()
    .where(OUTBOX.c.key == sa.bindparam("b_key"))
    .values(
        status="sending",
        lease_owner=sa.bindparam("b_owner"),
        lease_until=sa.bindparam("b_until"),
        attempts=sa.bindparam("b_attempt"),
        next_attempt_at=None,
        updated_at=sa.bindparam("b_now"),
        message_id=sa.bindparam("b_mid"),
    ),
    ["b_key", "b_owner", "b_until", "b_attempt", "b_now", "b_mid"],
)


@dataclass(frozen=True)
class ClaimContext:
    """Everything a claim needs besides the store: who claims, and the workspace's rules."""

    owner: str
    channels: Mapping[str, ChannelSettings]
    policy: PolicySettings
    workspace_tz: str
    renderer: Renderer
    settings: DeliverySettings
    templates_seen: dict[str, tuple[tuple[str, int, int], ...]] = field(default_factory=dict)
    """The template files as the renderer last loaded them (see :func:`render_claimed`)."""


def templates_state(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file under ``root/templates`` with its modification time and size: what changes
    when a template is added, removed or edited.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "templates" / "winback").mkdir(parents=True)
    >>> before = templates_state(root)
    >>> _ = (root / "templates" / "winback" / "ru.j2").write_text("Привет", encoding="utf-8")
    >>> before, [path for path, _, _ in templates_state(root)]
    ((), ['winback/ru.j2'])
    """
    folder = root / TEMPLATES_DIR
    found: list[tuple[str, int, int]] = []
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                stat = os.stat(path)
            except OSError:  # removed meanwhile: the next batch sees it gone
                continue
            found.append((os.path.relpath(path, folder), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Claimed:
    """Rows committed as ``sending`` by a claim, with the status rows to render them with."""

    rows: list[dict[str, Any]]
    """The outbox rows as claimed: ``attempts`` counts this attempt, ``status`` is the one
    before the claim."""
    statuses: dict[str, dict[str, Any]]
    processed: int
    """Due rows the claim looked at (sent on, skipped, deferred or cancelled)."""


def _due_query(channel: str, limit: int, now: datetime, skip_locked: bool) -> sa.Select[Any]:
    due = sa.func.coalesce(OUTBOX.c.next_attempt_at, OUTBOX.c.due_at)
    query = (
        sa.select(OUTBOX)
        .where(OUTBOX.c.channel == channel, OUTBOX.c.status.in_(("queued", "retry")), due <= now)
        .order_by(OUTBOX.c.priority.desc(), due, OUTBOX.c.key)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=OUTBOX)
    return query


def claim_due(
    con: Connection,
    channel: str,
    limit: int,
    now: datetime,
    context: ClaimContext,
    tally: Tally,
    *,
    skip_locked: bool,
) -> Claimed:
    """Step 1 of the module docstring, inside the caller's transaction."""
    rows = [dict(r) for r in con.execute(_due_query(channel, limit, now, skip_locked)).mappings()]
    check = check_batch(
        con,
        rows,
        policy=context.policy,
        channels=context.channels,
        workspace_tz=context.workspace_tz,
        now=now,
    )
    deferred: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    taken: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    approved: list[dict[str, Any]] = []
    settings = context.channels.get(channel)
    sender = settings.sender if settings is not None and settings.type == "smtp" else None
    lease_until, owner = now + context.settings.lease, context.owner + CLAIMED  # one object each
    for row, decision in zip(rows, check.decisions, strict=True):
        key, reason = row["key"], decision.reason
        if decision.action == "defer":
            until = decision.not_before
            if until is None or until <= now:  # never spin on a row that stays due
                until = now + timedelta(minutes=1)
            deferred.append({"b_key": key, "b_until": until, "b_now": now, "b_reason": reason})
            event = f"deferred:{until.strftime('%Y%m%dT%H%M%S')}"
            ledger.append(ledger_row(row, event, "deferred", now, reason=reason))
            tally.add("deferred")
        elif decision.action in ("skip", "cancel"):
            kind = "skipped" if decision.action == "skip" else "cancelled"
            closed.append({"b_key": key, "b_status": "cancelled", "b_now": now, "b_reason": reason})
            ledger.append(ledger_row(row, kind, kind, now, reason=reason))
            tally.add(kind)
        else:
            row["attempts"] = int(row["attempts"]) + 1
            mid = email_message_id(key, sender) if sender else row.get("message_id")
            taken.append(
                {
                    "b_key": key,
                    "b_owner": owner,
                    "b_until": lease_until,
                    "b_attempt": row["attempts"],
                    "b_now": now,
                    "b_mid": mid,
                }
            )
            approved.append(row)
    for statement, params in ((_DEFER, deferred), (_CLOSE, closed), (_TAKE, taken)):
        statement.execute(con, params)
    insert_new(con, SEND_LEDGER, ledger)
    return Claimed(approved, check.statuses, len(rows))


@dataclass(frozen=True)
class Rendered:
    """The outcome of rendering a claimed batch: what can be sent, what broke."""

    claims: list[Claim]
    broken: list[tuple[dict[str, Any], str]]
    """(row, the template error) of rows that cannot be rendered."""


def render_claimed(claimed: Claimed, context: ClaimContext, now: datetime) -> Rendered:
    """Step 2 of the module docstring: no store access."""
    claims: list[Claim] = []
    broken: list[tuple[dict[str, Any], str]] = []
    renderer = context.renderer
    state = templates_state(renderer.root)
    if context.templates_seen.get("files") != state:  # added, removed or edited since
        renderer.refresh()
        context.templates_seen["files"] = state
    for row in claimed.rows:
        key = str(row["key"])
        settings = context.channels[row["channel"]]
        status = claimed.statuses.get(str(row["customer_id"]))
        address = contact_for(settings, status) or str(row["customer_id"])
        unsubscribe = None
        if row["purpose"] == "marketing":
            unsubscribe = unsubscribe_url(renderer.base_url, renderer.keys, key)
        try:
            rendered = renderer.render(
                row, status, unsubscribe_url=unsubscribe, track=settings.type != "sms"
            )
        except TemplateError as exc:
            broken.append((row, str(exc)))
            continue
        message = OutgoingMessage(
            key=key,
            customer_id=str(row["customer_id"]),
            channel=str(row["channel"]),
            purpose="transactional" if row["purpose"] == "transactional" else "marketing",
            address=address,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            name=None if status is None else status.get("name"),
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
        claims.append(
            Claim(row, message, int(row["attempts"]), str(row["status"]), tuple(rendered.links))
        )
    return Rendered(claims, broken)


def prepare(con: Connection, rendered: Rendered, now: datetime, tally: Tally) -> None:
    """Step 3 of the module docstring, inside the caller's transaction."""
    refs = [
        {
            "token": message_token(claim.key),
            "message_key": claim.key,
            "customer_id": claim.message.customer_id,
            "channel": claim.message.channel,
            "purpose": claim.message.purpose,
            "address_hash": address_hash(claim.message.address),
            "created_at": now,
        }
        for claim in rendered.claims
    ]
    links = [
        {"token": message_token(claim.key), "idx": i, "url": url}
        for claim in rendered.claims
        for i, url in enumerate(claim.links, start=1)
    ]
    insert_new(con, MESSAGE_REFS, refs)
    insert_new(con, MESSAGE_LINKS, links)
    if not rendered.broken:
        return
    _CLOSE.execute(
        con,
        [
            {"b_key": row["key"], "b_status": "failed", "b_now": now, "b_reason": error[:2000]}
            for row, error in rendered.broken
        ],
    )
    insert_new(
        con,
        SEND_LEDGER,
        [
            ledger_row(row, f"failed:{row['attempts']}", "failed", now, reason=f"template: {error}")
            for row, error in rendered.broken
        ],
    )
    tally.add("failed", len(rendered.broken))
