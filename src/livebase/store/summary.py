"""What the store holds, in a few queries: for ``livebase status`` and the demo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from livebase.store._store import Store

__all__ = ["StoreSummary", "summarize"]


@dataclass(frozen=True)
class StoreSummary:
    tables: dict[str, int]
    orders_by_status: list[dict[str, Any]]
    revenue_by_currency: list[dict[str, Any]]
    first_order_at: datetime | None
    last_order_at: datetime | None
    first_paid_at: datetime | None
    last_paid_at: datetime | None
    paying_customers: int
    events_by_name: list[dict[str, Any]]
    loads: list[dict[str, Any]]

    @property
    def paid_revenue(self) -> Decimal:
        return sum((Decimal(r["paid_revenue"]) for r in self.revenue_by_currency), Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "orders_by_status": self.orders_by_status,
            "revenue_by_currency": self.revenue_by_currency,
            "paid_revenue": self.paid_revenue,
            "date_range": {
                "first_order_at": self.first_order_at,
                "last_order_at": self.last_order_at,
                "first_paid_at": self.first_paid_at,
                "last_paid_at": self.last_paid_at,
            },
            "paying_customers": self.paying_customers,
            "events_by_name": self.events_by_name,
            "loads": self.loads,
        }


_TABLES = ("customers", "orders", "events", "loads", "segment_history", "assignments")


def _dicts(store: Store, sql: str) -> list[dict[str, Any]]:
    cursor = store.con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def summarize(store: Store, *, last_loads: int = 10) -> StoreSummary:
    """Counts by table and status, date range, paid revenue and the latest loads.

    >>> summarize(Store.in_memory()).tables["orders"]
    0
    """
    tables = {t: int(store.fetch_value(f"SELECT count(*) FROM {t}")) for t in _TABLES}
    by_status = _dicts(
        store,
        """SELECT status, count(*) AS orders, sum(amount) AS amount,
                  sum(paid_amount) AS paid_revenue,
                  count(*) FILTER (WHERE return_requested) AS return_requested
           FROM orders GROUP BY status
           ORDER BY array_position(['paid','partially_paid','pending','cancelled','refunded'],
                                   status)""",
    )
    revenue = _dicts(
        store,
        """SELECT currency, sum(paid_amount) AS paid_revenue,
                  count(*) FILTER (WHERE paid_amount > 0) AS paid_orders
           FROM orders GROUP BY currency HAVING sum(paid_amount) <> 0 ORDER BY 2 DESC""",
    )
    row = store.con.execute(
        """SELECT min(coalesce(created_at, paid_at)), max(coalesce(created_at, paid_at)),
                  min(paid_at) FILTER (WHERE paid_amount > 0),
                  max(paid_at) FILTER (WHERE paid_amount > 0),
                  count(DISTINCT customer_id) FILTER (WHERE paid_amount > 0)
           FROM orders"""
    ).fetchone()
    assert row is not None
    events = _dicts(
        store,
        "SELECT name, count(*) AS events, count(DISTINCT customer_id) AS customers "
        "FROM events GROUP BY name ORDER BY 2 DESC LIMIT 15",
    )
    loads = _dicts(
        store,
        f"""SELECT load_id, kind, file, preset, checksum, rows_read, rows_inserted,
                   rows_updated, rows_unchanged, rows_duplicate, rows_rejected, rejected_file,
                   started_at, finished_at
            FROM loads ORDER BY load_id DESC LIMIT {int(last_loads)}""",
    )
    return StoreSummary(
        tables, by_status, revenue, row[0], row[1], row[2], row[3], int(row[4]), events, loads
    )
