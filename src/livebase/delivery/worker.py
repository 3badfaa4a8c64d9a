"""The outbox worker: claims due messages, sends them through their channels, records outcomes.

Each channel is a *lane* of the worker:

- **ready**: claims of the lane, committed ``sending`` under this worker's ``#claimed`` lease,
  re-checked and rendered (a claim takes up to ``batch`` rows in one transaction: two windows
  at first, doubling while claims come back full). A crash here only releases them.
- **queue**: claims handed over to the channel (the ``#claimed`` suffix dropped, committed
  before any of them is sent);
- **senders**: ``window`` long-lived coroutines (one per connection of the channel's pool),
  each taking the next claim from the queue, pacing it by the channel's rate limit, sending it
  and putting the outcome aside;
- **finished**: outcomes waiting to be recorded.

The main loop does the store work on the same event loop, between sends: it recovers abandoned
claims, refills the lanes whose ready claims ran low, and in one transaction records the
finished sends and hands the next group over (``window`` claims at a time, so one transaction
serves several sends). A lane never has more than ``ahead`` messages handed over and not yet
recorded, so a crash (kill -9) leaves at most ``ahead`` messages per channel in doubt. Senders
wake the main loop only when their lane has room for the next group (or ran dry), not after
every message.

``livebase send`` runs the loop until nothing is due; ``livebase worker`` runs it for ever,
with a planner tick every few minutes, and stops cleanly on SIGTERM/SIGINT: no new claims,
claims not yet started are released, the sends in flight finish and are recorded.

Time comes in through ``clock`` (the wall clock in UTC, for every decision written to the
store) and ``monotonic``/``sleep`` (pacing only).

>>> limiter = RateLimiter(2.0, monotonic=lambda: 10.0)
>>> limiter.available(), limiter.take(), limiter.take(), limiter.available()
(2, None, None, 0)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from livebase.channels.base import Channel, SendOutcome
from livebase.delivery.claims import Claim, Tally
from livebase.delivery.outbox import Outbox

__all__ = ["DEFAULT_AHEAD", "DEFAULT_BATCH", "RateLimiter", "Worker", "install_signal_handlers"]

DEFAULT_BATCH = 200
"""Due rows one claim takes per channel (one transaction re-checks them all)."""
DEFAULT_AHEAD = 2
"""Messages of a channel handed over and not yet recorded, in windows: at most this many times
the channel's window (its connection pool) are in doubt when the worker dies mid-send."""

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
class _Lane:
    """One channel's state in the loop (see the module docstring)."""

    channel: Channel
    limiter: RateLimiter
    window: int
    """Senders of the lane (the channel's pool: every send has a connection)."""
    batch: int
    """Most rows one claim takes."""
    ahead: int
    """Most messages handed over and not yet recorded (at least one window and one more): the
    senders' window, and the next group waiting for them."""
    size: int = 0
    """Rows the next claim takes: two windows at first (the first sends start at once), then
    doubling up to ``batch`` while claims come back full."""
    ready: dict[str, Claim] = field(default_factory=dict)
    queue: deque[Claim] = field(default_factory=deque)
    flying: int = 0
    finished: list[tuple[Claim, SendOutcome]] = field(default_factory=list)
    has_work: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while the queue holds claims (idle senders wait on it)."""
    rest_until: float = 0.0
    """After a claim that found nothing due: do not ask again before then while other lanes
    are busy (monotonic seconds)."""

    def __post_init__(self) -> None:
        self.ahead = max(self.ahead, self.window + 1)
        self.size = min(self.batch, 2 * self.window)

    def claimed(self, count: int, asked: int) -> None:
        """Grow the next claim after a full one."""
        if count >= asked:
            self.size = min(self.batch, 2 * self.size)

    @property
    def busy(self) -> bool:
        return bool(self.queue) or self.flying > 0

    def wants_main_loop(self) -> bool:
        """Whether a group can be handed over (or the lane ran dry): the senders' cue."""
        return len(self.queue) + self.flying <= self.window

    def to_hand_over(self) -> list[Claim]:
        """The next group to hand over: ``ahead - window`` claims (at least one), and only
        while the lane stays within ``ahead`` once the finished sends are recorded (they are,
        in the same transaction); none while the provider's pause runs; no more than the rate
        limit lets start within about a window's time."""
        if not self.ready or self.limiter.paused():
            return []
        group = max(1, self.ahead - self.window)
        room = min(group, self.ahead - len(self.queue) - self.flying)
        if self.limiter.rate is not None:
            room = min(room, self.limiter.available() + self.window - len(self.queue))
        if room <= 0:
            return []
        keys = list(itertools.islice(self.ready, room))
        return [self.ready.pop(key) for key in keys]

    def enqueue(self, claims: list[Claim]) -> None:
        self.queue.extend(claims)
        if self.queue:
            self.has_work.set()

    def drain_queue(self) -> list[Claim]:
        """Take back the claims no sender has started."""
        waiting = list(self.queue)
        self.queue.clear()
        self.has_work.clear()
        return waiting


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
        self.lanes: dict[str, _Lane] = {}
        for name, channel in self.channels.items():
            rate = rates.get(name)
            # a claim waiting for its turn under a rate limit must start well within its lease
            most = batch if rate is None else max(1, min(batch, int(rate * lease / 2)))
            lane_window = min(window, (windows or {}).get(name, window))
            self.lanes[name] = _Lane(
                channel,
                RateLimiter(rate, monotonic=monotonic),
                lane_window,
                most,
                max(1, ahead) * lane_window,
            )
        self.tally = Tally()
        self._wake = asyncio.Event()
        self._record_every = max(1, min((lane.window for lane in self.lanes.values()), default=1))
        """Finished sends recorded together when no hand-over comes first."""

    def most_in_doubt(self) -> int:
        """The most messages a crash of this worker can leave ``uncertain``: every lane's
        ``ahead`` (handed over to the channel, outcome not yet recorded)."""
        return sum(lane.ahead for lane in self.lanes.values())

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

    async def _sender(self, lane: _Lane) -> None:
        """One connection's loop: next handed-over claim, pace, send, put the outcome aside."""
        queue, limiter, wake = lane.queue, lane.limiter, self._wake
        while True:
            if not queue:
                lane.has_work.clear()
                await lane.has_work.wait()
                continue
            claim = queue.popleft()
            lane.flying += 1
            try:
                while (wait := limiter.wait_hint()) > 0:
                    await asyncio.sleep(wait)
                limiter.take()
                outcome = await self._send(lane.channel, claim)
            finally:
                lane.flying -= 1
            lane.finished.append((claim, outcome))
            if outcome.status == "retry" and outcome.retry_after:
                limiter.pause(outcome.retry_after)
            if lane.wants_main_loop():
                wake.set()

    def _claim(self, now: datetime, room: int | None, *, idle: bool) -> tuple[int, int]:
        """Refill the lanes whose ready claims ran low; returns (claimed, rows processed). A
        lane whose last claim found nothing is asked again once the worker is idle or after
        ``poll_seconds``, not at every turn while other lanes send."""
        claimed = processed = 0
        moment = self.monotonic()
        for lane_name, lane in self.lanes.items():
            left = None if room is None else room - claimed
            if left is not None and left <= 0:
                break
            if len(lane.ready) >= lane.window or lane.limiter.paused():
                continue
            if not idle and moment < lane.rest_until:
                continue
            count = lane.size if left is None else min(lane.size, left)
            claims = self.outbox.claim(lane_name, count, now, self.tally)
            for claim in claims:
                lane.ready.pop(claim.key, None)  # a stale copy of a claim released meanwhile
                lane.ready[claim.key] = claim
            seen = self.outbox.last_processed
            claimed += len(claims)
            processed += seen
            lane.claimed(seen, count)
            lane.rest_until = moment + self.poll_seconds if seen == 0 else 0.0
        return claimed, processed

    def _settle(self, *, hand_over: bool, idle: bool) -> None:
        """One transaction: record finished sends (when a window's worth gathered, or the
        worker is idle, or a hand-over goes with them) and hand the next groups over."""
        handing = (
            {name: lane.to_hand_over() for name, lane in self.lanes.items()} if hand_over else {}
        )
        starting = [claim for group in handing.values() for claim in group]
        finished = sum(len(lane.finished) for lane in self.lanes.values())
        if not starting and not (finished and (idle or finished >= self._record_every)):
            return
        done: list[tuple[Claim, SendOutcome]] = []
        for lane in self.lanes.values():
            done += lane.finished
            lane.finished = []
        handed = self.outbox.settle(done, starting, self.clock(), self.tally)
        if len(handed) < len(starting):  # released meanwhile: another worker recovered them
            keep = {claim.key for claim in handed}
            handing = {n: [c for c in group if c.key in keep] for n, group in handing.items()}
        for name, group in handing.items():
            if group:
                self.lanes[name].enqueue(group)

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
        self._wake = asyncio.Event()  # events of this run's loop
        for lane in self.lanes.values():
            lane.has_work = asyncio.Event()
        senders = [
            asyncio.create_task(self._sender(lane))
            for lane in self.lanes.values()
            for _ in range(lane.window)
        ]
        try:
            await self._loop(limit=limit, forever=forever, stop=stop, tick=tick, every=tick_every)
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
        return self.tally

    async def _loop(
        self,
        *,
        limit: int | None,
        forever: bool,
        stop: asyncio.Event,
        tick: Tick | None,
        every: float,
    ) -> None:
        claimed_total = 0
        last_tick: float | None = None
        last_recover: float | None = None
        lanes = list(self.lanes.values())
        while True:
            stopping = stop.is_set()
            if forever and tick is not None and not stopping:
                moment = self.monotonic()
                if last_tick is None or moment - last_tick >= every:
                    last_tick = moment
                    await asyncio.to_thread(tick, self.clock())
            idle = not any(lane.busy for lane in lanes)
            processed = 0
            if stopping:
                waiting = [c for lane in lanes for c in [*lane.ready.values(), *lane.drain_queue()]]
                self.outbox.release(waiting, self.clock())  # none of them has started
                for lane in lanes:
                    lane.ready.clear()
            else:
                now = self.clock()
                moment = self.monotonic()
                if last_recover is None or moment - last_recover >= self.recover_every:
                    last_recover = moment
                    self.outbox.recover(now, self.tally)
                room = None if limit is None else limit - claimed_total
                claimed, processed = self._claim(now, room, idle=idle)
                claimed_total += claimed
            self._settle(hand_over=not stopping, idle=idle)
            if not any(lane.busy for lane in lanes):
                if any(lane.finished for lane in lanes):
                    continue  # record before anything else
                if stopping:
                    return
                if processed:  # rows were skipped, deferred or failed: look again at once
                    continue
                waits = [lane.limiter.wait_hint() for lane in lanes if lane.ready]
                if waits:  # claims wait for the rate limit (or a provider's pause)
                    await asyncio.sleep(max(0.001, min(min(waits), self.poll_seconds)))
                    continue
                if not forever:
                    return
                await self._idle(stop)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._hint()):
                    await self._wake.wait()

    def _hint(self) -> float:
        hints = [lane.limiter.wait_hint() for lane in self.lanes.values() if lane.ready]
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
