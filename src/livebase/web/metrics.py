"""The service's Prometheus metrics (one registry per app, so tests and apps do not mix).

``/metrics`` answers the text format: events received and rejected, the latency from an
accepted request to the committed live status, request counts and durations by route, and —
read from the operational store when scraped — outbox depth and inbox lag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from livebase.ops.store import OpsStore
from livebase.ops.tables import INBOX, OUTBOX, WATERMARKS

__all__ = ["INBOX_WATERMARK", "ServiceMetrics", "store_gauges"]

INBOX_WATERMARK = "bridge:inbox"
"""The ``watermarks.source`` the analytics bridge advances when it copies the inbox
(:data:`livebase.ingest.inbox.SOURCE`; its position is the newest ``received_at`` copied)."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)


@dataclass
class ServiceMetrics:
    """The metric objects of one app."""

    registry: Any
    events_received: Any
    events_rejected: Any
    status_latency: Any
    requests: Any
    request_seconds: Any
    outbox_depth: Any
    inbox_lag: Any

    @classmethod
    def create(cls) -> ServiceMetrics:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        registry = CollectorRegistry()
        return cls(
            registry=registry,
            events_received=Counter(
                "livebase_events_received",
                "Events accepted into the inbox (new or repeated)",
                ["source", "outcome"],
                registry=registry,
            ),
            events_rejected=Counter(
                "livebase_events_rejected",
                "Events in rejected batches or webhooks",
                ["source"],
                registry=registry,
            ),
            status_latency=Histogram(
                "livebase_status_latency_seconds",
                "From the accepted request to the committed live status",
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            requests=Counter(
                "livebase_http_requests",
                "Requests by route and status",
                ["route", "status"],
                registry=registry,
            ),
            request_seconds=Histogram(
                "livebase_http_request_seconds",
                "Request duration by route",
                ["route"],
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            outbox_depth=Gauge(
                "livebase_outbox_depth",
                "Outbox messages waiting, by status",
                ["status"],
                registry=registry,
            ),
            inbox_lag=Gauge(
                "livebase_inbox_lag_seconds",
                "Age of the oldest inbox event not yet copied to the analytics store",
                registry=registry,
            ),
        )

    def render(self, ops: OpsStore, now: datetime) -> bytes:
        """The text format, with the store gauges read now."""
        from prometheus_client import generate_latest

        depth, lag = store_gauges(ops, now)
        for status, count in depth.items():
            self.outbox_depth.labels(status).set(count)
        self.inbox_lag.set(lag)
        return bytes(generate_latest(self.registry))


def store_gauges(ops: OpsStore, now: datetime) -> tuple[dict[str, int], float]:
    """Outbox rows by waiting status, and the inbox lag in seconds (0 when all is copied)."""
    waiting = ("queued", "retry", "sending", "uncertain")
    with ops.read() as con:
        counts: dict[str, int] = {
            str(status): int(n)
            for status, n in con.execute(
                sa.select(OUTBOX.c.status, sa.func.count())
                .where(OUTBOX.c.status.in_(waiting))
                .group_by(OUTBOX.c.status)
            ).all()
        }
        position = con.execute(
            sa.select(WATERMARKS.c.position).where(WATERMARKS.c.source == INBOX_WATERMARK)
        ).scalar()
        query = sa.select(sa.func.min(INBOX.c.received_at))
        if position is not None:
            mark = datetime.fromisoformat(str(position))
            query = query.where(INBOX.c.received_at > mark)
        oldest = con.execute(query).scalar()
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    lag = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        lag = max(0.0, (now - oldest).total_seconds())
    return {s: int(counts.get(s, 0)) for s in waiting}, lag
