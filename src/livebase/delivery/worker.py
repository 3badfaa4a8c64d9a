"""The outbox worker: claims due messages, sends them through their channels, records outcomes.

The loop, per turn: recover abandoned claims; for every channel whose claims ran low, claim a
batch of due messages (two windows at first, doubling up to ``batch``, default 200: one
transaction re-checks them as a set, then they are rendered); start as many as its window of sends in flight (``pool_size``: every
started message has a connection, none waits for one) and its rate limit allow; then, in one
transaction, record the outcomes of the sends that finished and hand over the ones about to
start. A hand-over commits before the send starts, so a crash leaves at most one window per
channel in doubt; claims not yet handed over are released, not doubted. ``livebase send`` runs the loop until nothing is due;
``livebase worker`` runs it for ever, with a planner tick every few minutes, and stops cleanly
on SIGTERM/SIGINT: no new claims, the sends in flight finish and are recorded.

Time comes in through ``clock`` (the wall clock in UTC, for every decision written to the
store) and ``monotonic``/``sleep`` (pacing only).

>>> limiter = RateLimiter(2.0, monotonic=lambda: 10.0)
>>> limiter.available(), limiter.take(), limiter.take(), limiter.available()
(2, None, None, 0)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from livebase.channels.base import Channel, SendOutcome
from livebase.delivery.claims import Claim, Tally
from livebase.delivery.outbox import Outbox

__all__ = ["DEFAULT_AHEAD", "DEFAULT_BATCH", "RateLimiter", "Worker", "install_signal_handlers"]

DEFAULT_BATCH = 200
"""Due rows one claim takes per channel (one transaction re-checks them all)."""
DEFAULT_AHEAD = 16
"""Claims handed over to a channel in one transaction (at most this many are in doubt per
channel when the worker dies mid-send)."""

Clock = Callable[[], datetime]
Tick = Callable[[datetime], object]


class RateLimiter:
    """A token bucket: ``rate`` messages per second, bursts of up to one second's worth."""

    def __init__(
        self, rate: float | None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self._monotonic = monotonic
        self._tokens = float(rate or 0)
        self._last = monotonic()
        self._paused_until = 0.0

    def _refill(self) -> float:
        now = self._monotonic()
        if self.rate is not None:
            self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return now

    def available(self) -> int:
        """Messages that may start now (a large number when unlimited)."""
        now = self._refill()
        if now < self._paused_until:
            return 0
        if self.rate is None:
            return 1_000_000
        return int(self._tokens)

    def take(self) -> None:
        self._refill()
        if self.rate is not None:
            self._tokens -= 1

    def pause(self, seconds: float) -> None:
        """The provider asked to wait (429 retry_after): nothing starts before then."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def paused(self) -> bool:
        """Whether the provider's pause (429 retry_after) is still running."""
        return self._monotonic() < self._paused_until

    def wait_hint(self) -> float:
        """Seconds until the next message may start."""
        now = self._refill()
        if now < self._paused_until:
            return self._paused_until - now
        if self.rate is None or self._tokens >= 1:
            return 0.0
        return (1 - self._tokens) / self.rate


@dataclass
class _Flight:
    claim: Claim
    task: asyncio.Task[SendOutcome]


@dataclass
class _Lane:
    """One channel's state in the loop: claims waiting for their hand-over, claims handed over
    and waiting for a free slot of the window, sends in flight."""

    channel: Channel
    limiter: RateLimiter
    window: int
    """Most sends in flight (the channel's pool: every send has a connection)."""
    batch: int
    """Most rows one claim takes."""
    ahead: int = 0
    """Most claims handed over at once: a hand-over is a transaction, so it goes in groups."""
    size: int = 0
    """Rows the next claim takes: two windows at first (the first sends start at once), then
    doubling up to ``batch`` while claims come back full."""
    ready: dict[str, Claim] = field(default_factory=dict)
    handed: list[Claim] = field(default_factory=list)
    flights: list[_Flight] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.size = min(self.batch, 2 * self.window)
        self.ahead = max(self.ahead, self.window)

    def claimed(self, count: int, asked: int) -> None:
        """Grow the next claim after a full one."""
        if count >= asked:
            self.size = min(self.batch, 2 * self.size)

    def to_hand_over(self) -> list[Claim]:
        """The next group to hand over: when fewer than a window's worth are handed over and
        the channel is not paused by its provider; no more than the rate limit lets start
        within about a window's time."""
        if len(self.handed) >= self.window or not self.ready or self.limiter.paused():
            return []
        room = self.ahead - len(self.handed)
        if self.limiter.rate is not None:
            room = min(room, self.limiter.available() + self.window)
        keys = list(self.ready)[: max(room, 0)]
        return [self.ready.pop(key) for key in keys]

    def to_start(self) -> list[Claim]:
        """Handed-over claims that may start now (free slots, rate limit)."""
        count = min(self.window - len(self.flights), self.limiter.available(), len(self.handed))
        starting, self.handed = self.handed[: max(count, 0)], self.handed[max(count, 0) :]
        return starting


class Worker:
    """Send what is due through ``channels`` (see the module docstring)."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        *,
        clock: Clock,
        rates: Mapping[str, float | None] | None = None,
        windows: Mapping[str, int] | None = None,
        window: int = 32,
        batch: int = DEFAULT_BATCH,
        ahead: int = DEFAULT_AHEAD,
        poll_seconds: float = 1.0,
        send_timeout: float = 120.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox
        self.channels = dict(channels)
        self.clock = clock
        self.window = window
        self.poll_seconds = poll_seconds
        self.send_timeout = send_timeout
        self.monotonic = monotonic
        lease = outbox.settings.lease.total_seconds()
        self.recover_every = min(5.0, lease / 3)
        rates = rates or {}
        self.record_every = max(1, ahead // 2)
        """Finished sends recorded together (sooner when a hand-over or the end comes first)."""
        self.lanes: dict[str, _Lane] = {}
        for name, channel in self.channels.items():
            rate = rates.get(name)
            # a claim waiting for its turn under a rate limit must start well within its lease
            most = batch if rate is None else max(1, min(batch, int(rate * lease / 2)))
            self.lanes[name] = _Lane(
                channel,
                RateLimiter(rate, monotonic=monotonic),
                min(window, (windows or {}).get(name, window)),
                most,
                ahead,
            )
        self.tally = Tally()

    async def _send(self, channel: Channel, claim: Claim) -> SendOutcome:
        try:
            async with asyncio.timeout(self.send_timeout):  # no extra task, unlike wait_for
                return await channel.send(claim.message)
        except TimeoutError:
            return SendOutcome.uncertain(f"{channel.name}: no answer in {self.send_timeout:g} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a channel bug after the message may have left: in doubt
            return SendOutcome.uncertain(f"{channel.name}: {type(exc).__name__}")

    def _claim(self, now: datetime, room: int | None) -> tuple[int, int]:
        """Refill the lanes whose ready claims ran low; returns (claimed, rows processed)."""
        claimed = processed = 0
        for name, lane in self.lanes.items():
            left = None if room is None else room - claimed
            if left is not None and left <= 0:
                break
            if len(lane.ready) >= lane.window or lane.limiter.paused():
                continue
            count = lane.size if left is None else min(lane.size, left)
            claims = self.outbox.claim(name, count, now, self.tally)
            for claim in claims:
                lane.ready.pop(claim.key, None)  # a stale copy of a claim released meanwhile
                lane.ready[claim.key] = claim
            claimed += len(claims)
            lane.claimed(self.outbox.last_processed, count)
            processed += self.outbox.last_processed
        return claimed, processed

    async def run(
        self,
        *,
        limit: int | None = None,
        forever: bool = False,
        stop: asyncio.Event | None = None,
        tick: Tick | None = None,
        tick_every: float = 300.0,
    ) -> Tally:
        """Send until nothing is due (or ``limit`` messages were claimed); with ``forever``,
        keep polling, calling ``tick(now)`` every ``tick_every`` seconds (the planner), until
        ``stop`` is set. Returns the tally of outcomes."""
        stop = stop or asyncio.Event()
        claimed_total = 0
        last_tick: float | None = None
        last_recover: float | None = None
        finished: list[tuple[Claim, SendOutcome]] = []
        while True:
            stopping = stop.is_set()
            if forever and tick is not None and not stopping:
                moment = self.monotonic()
                if last_tick is None or moment - last_tick >= tick_every:
                    last_tick = moment
                    await asyncio.to_thread(tick, self.clock())
            processed = 0
            handing: list[Claim] = []
            if stopping:
                waiting = [
                    claim
                    for lane in self.lanes.values()
                    for claim in [*lane.ready.values(), *lane.handed]
                ]
                self.outbox.release(waiting, self.clock())  # none of them has started
                for lane in self.lanes.values():
                    lane.ready.clear()
                    lane.handed.clear()
            else:
                now = self.clock()
                moment = self.monotonic()
                if last_recover is None or moment - last_recover >= self.recover_every:
                    last_recover = moment
                    self.outbox.recover(now, self.tally)
                room = None if limit is None else limit - claimed_total
                claimed, processed = self._claim(now, room)
                claimed_total += claimed
                for lane in self.lanes.values():
                    handing += lane.to_hand_over()
            flying = sum(len(lane.flights) for lane in self.lanes.values())
            if handing or len(finished) >= self.record_every or (finished and not flying):
                for claim in self.outbox.settle(finished, handing, self.clock(), self.tally):
                    self.lanes[str(claim.row["channel"])].handed.append(claim)
                finished = []
            for lane in self.lanes.values():
                for claim in lane.to_start():
                    lane.limiter.take()
                    task = asyncio.create_task(self._send(lane.channel, claim))
                    lane.flights.append(_Flight(claim, task))
            in_flight = [f.task for lane in self.lanes.values() for f in lane.flights]
            if not in_flight:
                if finished:  # record before anything else
                    continue
                if stopping:
                    break
                if processed:  # rows were skipped, deferred or failed: look again at once
                    continue
                waits = [
                    lane.limiter.wait_hint()
                    for lane in self.lanes.values()
                    if lane.ready or lane.handed
                ]
                if waits:  # claims wait for the rate limit (or a provider's pause)
                    await asyncio.sleep(max(0.001, min(min(waits), self.poll_seconds)))
                    continue
                if not forever:
                    break
                await self._idle(stop)
                continue
            done, _ = await asyncio.wait(
                in_flight, timeout=self._hint(), return_when=asyncio.FIRST_COMPLETED
            )
            for lane in self.lanes.values():
                keep = []
                for flight in lane.flights:
                    if flight.task in done:
                        outcome = flight.task.result()
                        finished.append((flight.claim, outcome))
                        if outcome.status == "retry" and outcome.retry_after:
                            lane.limiter.pause(outcome.retry_after)
                    else:
                        keep.append(flight)
                lane.flights = keep
        return self.tally

    def _hint(self) -> float:
        hints = [lane.limiter.wait_hint() for lane in self.lanes.values()]
        return max(0.005, min([h for h in hints if h > 0] + [self.poll_seconds]))

    async def _idle(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.poll_seconds)

    async def close(self) -> None:
        """Close every channel and the worker's store connection."""
        for channel in self.channels.values():
            await channel.close()
        self.outbox.close()


def install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set ``stop`` (the loop finishes what is in flight and exits);
    returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove
