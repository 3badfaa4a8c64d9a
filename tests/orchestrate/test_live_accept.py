"""accept_events under concurrency: batches touching the same customers in opposite orders
never deadlock or fail, and every payment is counted once (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from livebase.ingest.inbound import parse_batch
from livebase.ops.tables import CUSTOMER_STATUS, INBOX, STATUS_THRESHOLDS
from livebase.orchestrate.live import LiveRules, accept_events
from livebase.segments.settings import QuantileScheme, SegmentsSettings

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
DOC = {
    "schemes": {
        "rfm": {
            "kind": "quantile",
            "dimensions": {
                "R": {"feature": "recency_days", "scores": [{"score": 1, "min": 0, "max": 999}]},
                "F": {"feature": "frequency", "scores": [{"score": 1, "min": 1, "max": 999}]},
                "M": {"feature": "monetary", "scores": [{"score": 1, "min": 0, "max": 1e9}]},
            },
        }
    }
}
FEATURES = {"recency_days": 10, "frequency": 1, "monetary": 100.0, "orders_total": 1, "ltv": 100.0,
            "paid_days_total": 1, "first_paid_date": "2026-06-21", "last_paid_date": "2026-06-21",
            "first_seen_date": "2026-06-21", "tenure_days": 10}  # fmt: skip


def test_concurrent_batches_count_every_payment_once(ops_store: Any) -> None:
    customers = [f"c{i:02d}" for i in range(12)]
    with ops_store.begin() as con:
        con.execute(
            STATUS_THRESHOLDS.insert().values(
                version="t1", as_of=date(2026, 7, 1), thresholds=DOC, created_at=NOW
            )
        )
        con.execute(CUSTOMER_STATUS.insert(), [
            {"customer_id": c, "features": FEATURES, "segments": {"rfm": "111"},
             "since": {"rfm": "2026-06-21"}, "thresholds_version": "t1",
             "as_of": date(2026, 7, 1), "updated_at": NOW, "source": "batch"}
            for c in customers
        ])  # fmt: skip
    rules = LiveRules(segments=SegmentsSettings(schemes={"rfm": QuantileScheme()}))
    errors: list[BaseException] = []
    per_thread, threads = 15, 4

    def work(t: int) -> None:
        rng = random.Random(t)
        for k in range(per_thread):
            chosen = rng.sample(customers, 6)
            if t % 2:
                chosen.sort(reverse=True)
            items = [
                {"event_id": f"t{t}-{k}-{c}", "customer_id": c, "ts": "2026-07-01T11:00:00Z",
                 "order": {"order_id": f"o-{t}-{k}-{c}", "amount": 10, "status": "paid"}}
                for c in chosen
            ]  # fmt: skip
            try:
                accept_events(
                    ops_store, parse_batch(items, max_batch=100, timezone="UTC"), rules,
                    source="api", now=NOW,
                )  # fmt: skip
            except BaseException as exc:
                errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    with ops_store.read() as con:
        stored = con.execute(sa.select(sa.func.count()).select_from(INBOX)).scalar_one()
        rows = con.execute(
            sa.select(CUSTOMER_STATUS.c.customer_id, CUSTOMER_STATUS.c.features)
        ).all()
        per_customer = dict(
            con.execute(
                sa.select(INBOX.c.customer_id, sa.func.count()).group_by(INBOX.c.customer_id)
            ).all()
        )
    assert stored == per_thread * threads * 6
    for customer_id, features in rows:
        paid = per_customer.get(customer_id, 0)
        assert features["orders_total"] == 1 + paid
        assert features["monetary"] == 100.0 + 10 * paid
