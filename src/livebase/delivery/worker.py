"""The outbox worker: claims due messages, sends them through their channels, records outcomes.

The loop, per turn: recover abandoned claims; for every channel, claim as many due messages as
its window of sends in flight (``pool_size``: every claimed message starts at once, none waits
for a connection) and its rate limit allow; start the sends; record the outcomes of those that
finished. A claim commits ``sending`` before the send starts, so a crash leaves at most one
window per channel in doubt. ``livebase send`` runs the loop until nothing is due;
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
from dataclasses import dataclass
from datetime import datetime

from livebase.channels.base import Channel, SendOutcome
from livebase.delivery.outbox import Claim, Outbox, Tally

__all__ = ["RateLimiter", "Worker", "install_signal_handlers"]

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
        self.recover_every = min(5.0, outbox.settings.lease.total_seconds() / 3)
        rates = rates or {}
        self.limiters = {
            name: RateLimiter(rates.get(name), monotonic=monotonic) for name in self.channels
        }
        self.windows = {
            name: min(window, (windows or {}).get(name, window)) for name in self.channels
        }
        self.tally = Tally()

    async def _send(self, channel: Channel, claim: Claim) -> SendOutcome:
        try:
            return await asyncio.wait_for(channel.send(claim.message), self.send_timeout)
        except TimeoutError:
            return SendOutcome.uncertain(f"{channel.name}: no answer in {self.send_timeout:g} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a channel bug after the message may have left: in doubt
            return SendOutcome.uncertain(f"{channel.name}: {type(exc).__name__}")

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
        flights: dict[str, list[_Flight]] = {name: [] for name in self.channels}
        claimed_total = 0
        last_tick: float | None = None
        last_recover: float | None = None
        while True:
            stopping = stop.is_set()
            if forever and tick is not None and not stopping:
                moment = self.monotonic()
                if last_tick is None or moment - last_tick >= tick_every:
                    last_tick = moment
                    await asyncio.to_thread(tick, self.clock())
            started = processed = 0
            batch: list[tuple[str, Channel, Claim]] = []
            room = None if limit is None else limit - claimed_total
            if not stopping and (room is None or room > 0):
                now = self.clock()
                moment = self.monotonic()
                if last_recover is None or moment - last_recover >= self.recover_every:
                    last_recover = moment
                    self.outbox.recover(now, self.tally)
                for name, channel in self.channels.items():
                    free = self.windows[name] - len(flights[name])
                    if flights[name] and free < max(1, self.windows[name] // 2):
                        continue  # claim in batches, not one by one
                    count = min(free, self.limiters[name].available())
                    if room is not None:
                        count = min(count, room - started)
                    if count <= 0:
                        continue
                    claims = self.outbox.claim(name, count, now, self.tally)
                    processed += self.outbox.last_processed
                    batch.extend((name, channel, claim) for claim in claims)
                    started += len(claims)
                self.outbox.hand_over([claim for _, _, claim in batch], self.clock())
                for name, channel, claim in batch:
                    self.limiters[name].take()
                    task = asyncio.create_task(self._send(channel, claim))
                    flights[name].append(_Flight(claim, task))
                claimed_total += started
            in_flight = [f for fs in flights.values() for f in fs]
            if not in_flight:
                if stopping:
                    break
                if processed:  # rows were skipped, deferred or failed: look again at once
                    continue
                blocked = [
                    lim.wait_hint() for lim in self.limiters.values() if lim.available() == 0
                ]
                reached = limit is not None and claimed_total >= limit
                if not forever and (reached or not blocked):
                    break
                if blocked and not reached:
                    await asyncio.sleep(min(min(blocked), self.poll_seconds))
                else:
                    await self._idle(stop)
                continue
            done, _ = await asyncio.wait(
                [f.task for f in in_flight],
                timeout=self._hint(),
                return_when=asyncio.FIRST_COMPLETED,
            )
            finished: list[tuple[Claim, SendOutcome]] = []
            for name in flights:
                keep = []
                for flight in flights[name]:
                    if flight.task in done:
                        outcome = flight.task.result()
                        finished.append((flight.claim, outcome))
                        if outcome.status == "retry" and outcome.retry_after:
                            self.limiters[name].pause(outcome.retry_after)
                    else:
                        keep.append(flight)
                flights[name] = keep
            self.outbox.record(finished, self.clock(), self.tally)
        return self.tally

    def _hint(self) -> float:
        hints = [lim.wait_hint() for lim in self.limiters.values()]
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
