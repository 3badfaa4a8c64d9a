"""What an operator checks before sending: every channel reachable with valid credentials, and
a template rendered for a real customer exactly as they would get it.

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.workspace import init_workspace
>>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "school", template="school")
>>> [(c.name, c.type, c.ok) for c in check_channels(ws)]  # the school's call-task export
[('tasks', 'export', True)]
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from livebase.channels.email_message import build_email, to_bytes
from livebase.channels.registry import open_channel
from livebase.delivery.links import unsubscribe_url
from livebase.delivery.templates import RenderedMessage, Renderer
from livebase.errors import ChannelError, DeliveryError, did_you_mean
from livebase.ops.tables import CUSTOMER_STATUS, outbox_key
from livebase.orchestrate.send_check import contact_for

if TYPE_CHECKING:
    from livebase.workspace import Workspace

__all__ = ["ChannelCheck", "Preview", "check_channels", "preview_template"]


@dataclass(frozen=True)
class ChannelCheck:
    """One channel's check: ``ok`` and what was seen, or the problem with the key to fix."""

    name: str
    type: str
    ok: bool
    detail: str


def check_channels(workspace: Workspace) -> list[ChannelCheck]:
    """Open each sendable channel of livebase.yaml and ask its server whether it would send
    (SMTP: connect, TLS, login; Telegram: getMe; SMS: the balance; webhook: reachable; export:
    the folder is writable)."""
    results: list[ChannelCheck] = []
    secrets = workspace.secrets()

    async def one(name: str, settings: Any) -> ChannelCheck:
        try:
            channel = open_channel(name, settings, secrets=secrets, root=workspace.root)
        except ChannelError as exc:
            return ChannelCheck(name, str(settings.type), False, str(exc))
        try:
            check = getattr(channel, "check", None)
            detail = await check() if check is not None else "no check for this type"
            return ChannelCheck(name, str(settings.type), True, str(detail))
        except ChannelError as exc:
            return ChannelCheck(name, str(settings.type), False, str(exc))
        finally:
            await channel.close()

    async def all_checks() -> list[ChannelCheck]:
        return [
            await one(name, settings)
            for name, settings in workspace.config.channels.items()
            if settings.type is not None
        ]

    results = asyncio.run(all_checks())
    return results


@dataclass(frozen=True)
class Preview:
    """A template rendered for one customer on one channel, and the e-mail as sent."""

    customer_id: str
    channel: str
    address: str | None
    rendered: RenderedMessage
    raw_email: str | None


def preview_template(
    workspace: Workspace,
    template: str,
    customer_id: str,
    *,
    now: datetime,
    channel: str | None = None,
    offer: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Preview:
    """Render ``template`` for ``customer_id`` as the worker would (links signed, pixel
    added; nothing is recorded or sent). ``channel`` defaults to the first e-mail channel."""
    config = workspace.config
    channels = config.channels
    if channel is None:
        channel = next((n for n, s in channels.items() if s.type == "smtp"), None) or next(
            iter(channels), "email"
        )
    settings = channels.get(channel)
    if settings is None and channels:
        raise DeliveryError(
            f"no channel '{channel}' in livebase.yaml{did_you_mean(channel, channels)}"
        )
    ops = workspace.open_ops()
    try:
        with ops.read() as con:
            found = (
                con.execute(
                    sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id == customer_id)
                )
                .mappings()
                .first()
            )
    finally:
        ops.close()
    if found is None:
        raise DeliveryError(
            f"customer {customer_id} has no live status yet: run 'livebase segment' (the "
            "latest run publishes every customer's status), or check the id"
        )
    status = dict(found)
    keys = workspace.secrets().signing_keys()
    renderer = Renderer(
        workspace.root,
        base_url=config.service.base_url,
        signing_keys=keys,
        default_language=config.language,
    )
    key = outbox_key(customer_id, "preview", 0, template)
    message = {
        "key": key,
        "customer_id": customer_id,
        "playbook": "preview",
        "occurrence": 0,
        "step": template,
        "channel": channel,
        "template": template,
        "offer": offer,
        "payload": payload or {},
    }
    unsubscribe = unsubscribe_url(config.service.base_url, keys, key)
    rendered = renderer.render(message, status, unsubscribe_url=unsubscribe)
    address = contact_for(settings, status) if settings is not None else None
    raw = None
    if settings is not None and settings.type == "smtp":
        from livebase.channels.base import OutgoingMessage

        email = build_email(
            OutgoingMessage(
                key=key,
                customer_id=customer_id,
                channel=channel,
                purpose="marketing",
                address=address or "",
                text=rendered.text,
                subject=rendered.subject,
                html=rendered.html,
                name=status.get("name"),
                unsubscribe_url=unsubscribe,
                date=now,
            ),
            sender=settings.sender or "",
            reply_to=settings.reply_to,
            unsubscribe_mailto=settings.unsubscribe_mailto,
        )
        raw = to_bytes(email).decode("utf-8", errors="replace")
    return Preview(customer_id, channel, address, rendered, raw)
