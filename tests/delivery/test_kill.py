"""The reliability figure: SIGKILL the worker at 50 random points while it sends 2,000 messages
to a real SMTP server and a local Telegram/SMS.ru server, restart it each time, and count what
arrived. Every message must have arrived exactly once, or be ``uncertain`` and have arrived at
most once: duplicates at the servers = 0. The messages a kill leaves in doubt are those the
victim had handed over to a channel and not yet recorded: at most the worker's
``most_in_doubt()`` (each channel's ``ahead``) per kill, so ``uncertain`` stays within
kills × that bound.

The worker runs in a forked process (the test process has already imported everything, so a
restart costs milliseconds, not an interpreter start); it is a real process with its own store
connections and sockets, and SIGKILL gives it no chance to clean up.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import signal
import socket
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _world import add_customers, add_messages, write_templates

from _peers import SMS_KEY, TOKEN, provider_server, smtp_sink
from livebase.channels.base import message_token
from livebase.channels.settings import ChannelSettings
from livebase.delivery.outbox import DeliverySettings
from livebase.delivery.run import build_worker
from livebase.ops import OUTBOX, OpsStore, sqlite_url
from livebase.orchestrate.settings import PolicySettings
from livebase.secrets import ensure_secrets, load_secrets

KILLS = int(os.environ.get("LB_KILL_POINTS", "50"))
LEASE = 1.5
SEED = 20261130
SPLIT = {"email": 1000, "telegram": 600, "sms": 400}


def _worker(url: str, root: str, channels: dict[str, Any], ready: Any, bound: Any) -> None:
    """The child: open the store and the channels, say how many messages a kill can leave in
    doubt and that it is ready, send until nothing is due."""
    settings = {n: ChannelSettings.model_validate(v) for n, v in channels.items()}
    ops = OpsStore.open(url, migrate=False)
    worker, unavailable = build_worker(
        ops,
        root=Path(root),
        channels=settings,
        policy=PolicySettings(),
        workspace_tz="Europe/Moscow",
        base_url="https://lb.school.test",
        secrets=load_secrets(Path(root)),
        clock=lambda: datetime.now(UTC),
        settings=DeliverySettings(lease=timedelta(seconds=LEASE)),
        window=16,
        poll_seconds=0.05,
    )
    assert not unavailable, unavailable
    bound.value = worker.most_in_doubt()
    ready.set()

    async def go() -> None:
        try:
            await worker.run()
        finally:
            await worker.close()

    asyncio.run(go())
    os._exit(0)


def _progress(ops: OpsStore) -> int:
    with ops.read() as con:
        return int(
            con.execute(
                sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.status != "queued")
            ).scalar_one()
        )


def _working(ops: OpsStore, child: Any, *, before: int) -> None:
    """Wait (bounded) until the worker has claimed something since it started."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.is_alive() and _progress(ops) == before:
        time.sleep(0.01)


def _until(ops: OpsStore, child: Any, *, seconds: float, rows: int) -> None:
    """Wait ``seconds``, or less once ``rows`` more rows left the queue, or the child ended."""
    deadline = time.monotonic() + seconds
    start = _progress(ops)
    while time.monotonic() < deadline and child.is_alive() and _progress(ops) - start < rows:
        time.sleep(0.005)


def _handed_over_by(ops: OpsStore, pid: int) -> int:
    """Rows the worker ``pid`` left ``sending`` after handing them to a channel (its lease
    owner is ``host:pid:start``; ``#claimed`` rows were never handed over and are released)."""
    owner = f"{socket.gethostname()}:{pid}:%"
    with ops.read() as con:
        return int(
            con.execute(
                sa.select(sa.func.count())
                .select_from(OUTBOX)
                .where(
                    OUTBOX.c.status == "sending",
                    OUTBOX.c.lease_owner.like(owner),
                    OUTBOX.c.lease_owner.notlike("%#claimed"),
                )
            ).scalar_one()
        )


@pytest.mark.slow
def test_sigkill_at_50_points_gives_no_duplicates(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    rng = random.Random(SEED)
    url = sqlite_url(tmp_path / "ops.sqlite")
    ops = OpsStore.open(url)
    write_templates(tmp_path)
    ensure_secrets(tmp_path)
    os.environ["LB_KILL_TG"] = TOKEN
    os.environ["LB_KILL_SMS"] = SMS_KEY
    with smtp_sink() as sink, provider_server() as server:
        channels = {
            "email": {
                "type": "smtp",
                "host": "127.0.0.1",
                "port": sink.port,
                "security": "none",
                "from": "Школа <hello@school.ru>",
                "timeout_seconds": 10,
                "pool_size": 4,
            },
            "telegram": {
                "type": "telegram",
                "token_env": "LB_KILL_TG",
                "base_url": server.base_url,
                "rate_per_second": 2000,
                "timeout_seconds": 10,
                "pool_size": 4,
            },
            "sms": {
                "type": "sms",
                "provider": "smsru",
                "api_key_env": "LB_KILL_SMS",
                "base_url": server.base_url,
                "rate_per_second": 2000,
                "cost": 4.5,
                "timeout_seconds": 10,
                "pool_size": 4,
            },
        }
        start = 1
        keys: dict[str, list[str]] = {}
        for channel, count in SPLIT.items():
            ids = add_customers(ops, count, start=start)
            start += count
            template = "winback_email" if channel == "email" else "winback_text"
            keys[channel] = add_messages(ops, ids, channel, template=template)

        caught: list[int] = []  # rows each victim left handed over and unrecorded
        kills = 0  # a worker that found nothing due ended before its kill point
        bound = context.Value("i", 0)
        started = time.monotonic()
        for _ in range(KILLS):
            ready = context.Event()
            child = context.Process(
                target=_worker, args=(url, str(tmp_path), channels, ready, bound)
            )
            child.start()
            assert ready.wait(60), "the worker did not start"
            _working(ops, child, before=_progress(ops))  # kill while it sends, not while it starts
            # the kill point: a random moment within 0.2 s, or sooner once the worker has
            # claimed a random number of rows more (a fast machine would otherwise send the
            # whole outbox in fewer than 50 lives)
            _until(ops, child, seconds=rng.uniform(0.0, 0.2), rows=rng.randint(8, 40))
            if child.is_alive():
                with contextlib.suppress(ProcessLookupError):  # it may end meanwhile
                    os.kill(child.pid or 0, signal.SIGKILL)
                    kills += 1
            child.join(10)
            caught.append(_handed_over_by(ops, child.pid or 0))
        time.sleep(LEASE + 0.2)  # the last victim's leases run out
        ready = context.Event()
        final = context.Process(target=_worker, args=(url, str(tmp_path), channels, ready, bound))
        final.start()
        for _ in range(600):  # generous for a loaded machine; quiet: a few seconds
            final.join(1)
            if final.exitcode is not None:
                break
            if os.environ.get("LB_KILL_DEBUG"):
                with ops.read() as con:
                    print(
                        dict(
                            con.execute(
                                sa.select(OUTBOX.c.status, sa.func.count()).group_by(
                                    OUTBOX.c.status
                                )
                            ).all()
                        ),
                        flush=True,
                    )
        assert final.exitcode == 0
        elapsed = time.monotonic() - started

        with ops.read() as con:
            status = dict(con.execute(sa.select(OUTBOX.c.key, OUTBOX.c.status)).all())
        email_ids = Counter(str(m["Message-ID"]) for m in sink.parsed())
        tg_chats = Counter(str(m["chat_id"]) for m in server.telegram)
        sms_phones = Counter(m["to"] for m in server.sms)
        received: dict[str, int] = {}
        for key in keys["email"]:
            received[key] = email_ids[f"<{message_token(key)}.lb@school.ru>"]
        for key in keys["telegram"]:
            received[key] = tg_chats[f"7{key.split('|')[0]}"]
        for key in keys["sms"]:
            received[key] = sms_phones[f"7912{int(key.split('|')[0]):07d}"]
    ops.close()

    duplicates = sum(n - 1 for n in received.values() if n > 1)
    uncertain = [k for k, s in status.items() if s == "uncertain"]
    lost = [k for k, s in status.items() if s == "sent" and received[k] != 1]
    most = int(bound.value)
    print(
        f"\nkill test: {kills} SIGKILLs in {KILLS} lives, {sum(SPLIT.values())} messages, "
        f"{sum(1 for c in caught if c)} kills caught sends handed over "
        f"(up to {max(caught)} rows per kill; the design's bound {most}), "
        f"uncertain {len(uncertain)} (bound {KILLS} x {most} = {KILLS * most}; "
        f"of which arrived {sum(received[k] for k in uncertain)}), duplicates {duplicates}, "
        f"{elapsed:.1f} s"
    )
    assert duplicates == 0
    assert kills >= KILLS * 4 // 5  # nearly every life was killed, not run out of work
    assert most > 0 and max(caught) <= most  # a kill leaves at most the bound in doubt
    assert len(uncertain) <= sum(caught) <= KILLS * most
    assert set(status.values()) <= {"sent", "uncertain"}
    assert lost == []
    assert all(received[k] <= 1 for k in uncertain)
    assert sum(1 for c in caught if c) >= 10  # the kills did land mid-send
