"""Sending for a workspace: open its channels, build the worker, run it once or for ever.

What ``livebase send`` and ``livebase worker`` call (and the service or a scheduler may call):
:func:`send_due` sends what is due now and returns; :func:`run_worker` keeps going, with a
planner tick every few minutes, until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from livebase.channels.base import Channel
from livebase.channels.registry import open_channel
from livebase.channels.settings import ChannelSettings
from livebase.delivery.claims import DeliverySettings, Tally
from livebase.delivery.outbox import Outbox
from livebase.delivery.templates import Renderer
from livebase.delivery.worker import (
    DEFAULT_AHEAD,
    DEFAULT_BATCH,
    Worker,
    install_signal_handlers,
)
from livebase.errors import ChannelError
from livebase.ops.store import OpsStore
from livebase.ops.tables import OUTBOX
from livebase.orchestrate.settings import PolicySettings
from livebase.secrets import Secrets

if TYPE_CHECKING:
    from livebase.workspace import Workspace

__all__ = [
    "PLANNER_TICK",
    "SendReport",
    "build_worker",
    "owner_id",
    "planner_tick",
    "run_worker",
    "send_due",
]

PLANNER_TICK = ("livebase.jobs", "worker_tick")
"""Where ``livebase worker`` finds the planner: ``worker_tick(workspace, now)`` plans one tick
(journeys, assignments, outbox rows) as of ``now``."""


def planner_tick(workspace: Workspace) -> Callable[[datetime], object] | None:
    """The planner's tick bound to ``workspace``, or None when this livebase has no planner
    (the worker then only sends)."""
    import importlib

    module_name, function = PLANNER_TICK
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    tick = getattr(module, function, None)
    if tick is None:
        return None

    def bound(now: datetime) -> object:
        return tick(workspace, now)

    return bound


Clock = Callable[[], datetime]


def owner_id() -> str:
    """This process's lease owner: host, pid and start instant."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.times().elapsed:.3f}"


@dataclass
class SendReport:
    """What one run did: outcome counts, cost, and channels that could not be opened."""

    tally: Tally
    unavailable: dict[str, str] = field(default_factory=dict)

    def uncertain(self) -> int:
        return self.tally["uncertain"]


@dataclass(frozen=True)
class _WorkspaceParts:
    root: Path
    channels: dict[str, ChannelSettings]
    policy: PolicySettings
    timezone: str
    language: str
    base_url: str
    secrets: Secrets


def _parts(workspace: Workspace) -> _WorkspaceParts:
    config = workspace.config
    return _WorkspaceParts(
        root=workspace.root,
        channels=dict(config.channels),
        policy=config.policy,
        timezone=config.timezone,
        language=config.language,
        base_url=config.service.base_url,
        secrets=workspace.secrets(),
    )


def _channels_with_work(ops: OpsStore, names: Iterable[str]) -> list[str]:
    with ops.read() as con:
        pending = {
            str(r[0])
            for r in con.execute(
                sa.select(OUTBOX.c.channel)
                .where(OUTBOX.c.status.in_(("queued", "retry", "sending")))
                .distinct()
            )
        }
    return [n for n in names if n in pending]


def build_worker(
    ops: OpsStore,
    *,
    root: Path,
    channels: dict[str, ChannelSettings],
    policy: PolicySettings,
    workspace_tz: str,
    base_url: str,
    secrets: Secrets,
    clock: Clock,
    language: str = "ru",
    settings: DeliverySettings | None = None,
    owner: str | None = None,
    only: Iterable[str] | None = None,
    window: int = 32,
    poll_seconds: float = 1.0,
    batch: int = DEFAULT_BATCH,
    ahead: int = DEFAULT_AHEAD,
) -> tuple[Worker, dict[str, str]]:
    """A worker over the sendable channels (``only`` those, when given); returns it and the
    channels that could not be opened, with the reason. ``batch``: due rows one claim takes
    per channel; ``window``: most sends in flight per channel (and at most its ``pool_size``);
    ``ahead``: most messages of a channel handed over and not yet recorded, in windows (a crash
    leaves at most that many in doubt; see :meth:`Worker.most_in_doubt`)."""
    from livebase.connectors.getcourse.channel import register as register_getcourse_groups

    register_getcourse_groups()  # the getcourse_group channel type of playbook steps
    opened: dict[str, Channel] = {}
    unavailable: dict[str, str] = {}
    names = [n for n, s in channels.items() if s.type is not None]
    if only is not None:
        wanted = set(only)
        names = [n for n in names if n in wanted]
    for name in names:
        try:
            opened[name] = open_channel(name, channels[name], secrets=secrets, root=root)
        except ChannelError as exc:
            unavailable[name] = str(exc)
    renderer = Renderer(
        root,
        base_url=base_url,
        signing_keys=secrets.signing_keys(),
        default_language=language,
    )
    outbox = Outbox(
        ops,
        owner=owner or owner_id(),
        channels=channels,
        policy=policy,
        workspace_tz=workspace_tz,
        renderer=renderer,
        settings=settings,
    )
    worker = Worker(
        outbox,
        opened,
        clock=clock,
        rates={n: channels[n].effective_rate for n in opened},
        windows={n: channels[n].pool_size for n in opened},
        window=window,
        batch=batch,
        ahead=ahead,
        poll_seconds=poll_seconds,
        send_timeout=max(channels[n].timeout_seconds for n in opened) * 3 if opened else 120.0,
    )
    return worker, unavailable


def _worker_of(
    ops: OpsStore,
    parts: _WorkspaceParts,
    *,
    clock: Clock,
    settings: DeliverySettings | None,
    **options: Any,
) -> tuple[Worker, dict[str, str]]:
    """:func:`build_worker` over a workspace's parts (channels, policy, zone, secrets)."""
    return build_worker(
        ops,
        root=parts.root,
        channels=parts.channels,
        policy=parts.policy,
        workspace_tz=parts.timezone,
        base_url=parts.base_url,
        secrets=parts.secrets,
        clock=clock,
        language=parts.language,
        settings=settings,
        **options,
    )


def send_due(
    workspace: Workspace,
    *,
    clock: Clock,
    limit: int | None = None,
    settings: DeliverySettings | None = None,
    window: int = 32,
    batch: int = DEFAULT_BATCH,
) -> SendReport:
    """Send every message due at ``clock()`` (at most ``limit``), once; stop on SIGTERM.
    ``batch``: due rows one claim takes per channel.

    >>> import tempfile, pathlib
    >>> from datetime import UTC, datetime
    >>> from livebase.workspace import init_workspace
    >>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "school", template="school")
    >>> send_due(ws, clock=lambda: datetime(2026, 6, 30, tzinfo=UTC)).tally.counts
    {}
    """
    parts = _parts(workspace)
    ops = workspace.open_ops()
    try:
        names = _channels_with_work(ops, parts.channels)
        worker, unavailable = _worker_of(
            ops,
            parts,
            clock=clock,
            settings=settings,
            only=names,
            window=window,
            batch=batch,
        )

        async def go() -> Tally:
            stop = asyncio.Event()
            remove = install_signal_handlers(stop)
            try:
                return await worker.run(limit=limit, stop=stop)
            finally:
                remove()
                await worker.close()

        tally = asyncio.run(go()) if worker.channels else Tally()
        return SendReport(tally, unavailable)
    finally:
        ops.close()


def run_worker(
    workspace: Workspace,
    *,
    clock: Clock,
    tick: Callable[[datetime], object] | None = None,
    tick_every: float = 300.0,
    poll_seconds: float = 2.0,
    settings: DeliverySettings | None = None,
    on_ready: Callable[[dict[str, str]], None] | None = None,
    batch: int = DEFAULT_BATCH,
) -> SendReport:
    """Send continuously; every ``tick_every`` seconds call ``tick(now)`` (the planner) in a
    thread; return when SIGTERM or SIGINT arrives and what was in flight is recorded."""
    parts = _parts(workspace)
    ops = workspace.open_ops()
    try:
        worker, unavailable = _worker_of(
            ops,
            parts,
            clock=clock,
            settings=settings,
            poll_seconds=poll_seconds,
            batch=batch,
        )
        if on_ready is not None:
            on_ready(unavailable)

        async def go() -> Tally:
            stop = asyncio.Event()
            remove = install_signal_handlers(stop)
            try:
                return await worker.run(forever=True, stop=stop, tick=tick, tick_every=tick_every)
            finally:
                remove()
                await worker.close()

        return SendReport(asyncio.run(go()), unavailable)
    finally:
        ops.close()
