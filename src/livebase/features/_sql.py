"""The features SQL: one readable, commented SELECT in DuckDB's dialect, generated from config.

What counts (the same on every engine the SQL is transpiled to):

- A **counted order** has ``paid_amount > 0`` and ``paid_at`` on or before ``as_of`` (strictly
  before midnight after it). A partially paid order counts what was paid, on its payment date;
  pending, cancelled and refunded orders have ``paid_amount = 0`` and never count; a zero-amount
  order (a free lesson, a gift) is not a purchase. The store keeps no refund date, so an order
  refunded later is absent from every past date as well.
- **Same-day orders** are separate orders for ``frequency`` (unless ``frequency: days``) and
  one purchase day for ``paid_days_total`` and the inter-purchase interval.
- "The last N days" are the N days ending on ``as_of`` inclusive: ``as_of - N < day <= as_of``.
- A customer is in the base on ``as_of`` when their earliest known date (registration, any
  order, any event) is on or before it, or when no date is known at all.

Only standard constructs are used (CASE, COUNT/SUM/MIN/MAX, COUNT(DISTINCT), LEAST, DATE_DIFF,
typed literals), so that ``sqlglot.transpile`` gives the same numbers on Spark and Postgres.
"""

from __future__ import annotations

from datetime import date, timedelta

from livebase.features._columns import BASE_FEATURES
from livebase.features.settings import FeaturesSettings, SignalSettings

__all__ = ["feature_columns", "features_sql", "sql_string"]


def sql_string(value: str) -> str:
    """A SQL string literal (single quotes doubled).

    >>> sql_string("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def _date(value: date) -> str:
    return f"DATE '{value.isoformat()}'"


def _end(as_of: date) -> str:
    """Midnight after ``as_of``: everything strictly before it happened on or before as_of."""
    return f"TIMESTAMP '{(as_of + timedelta(days=1)).isoformat()} 00:00:00'"


def feature_columns(settings: FeaturesSettings) -> dict[str, str]:
    """Every feature column (built-in, then signals) with its meaning.

    >>> list(feature_columns(FeaturesSettings()))[:3]
    ['customer_id', 'first_seen_date', 'tenure_days']
    """
    columns = dict(BASE_FEATURES)
    for name, signal in settings.signals.items():
        columns[name] = _describe(signal)
    return columns


def _describe(signal: SignalSettings) -> str:
    what = (
        f"events {', '.join(signal.events)}"
        if signal.source == "events"
        else "paid orders"
        + (f" with items like {signal.items_like!r}" if signal.items_like else "")
    )
    span = f"in the last {signal.window_days} days" if signal.window_days else "in all history"
    return f"signal: {signal.measure} of {what} {span}"


def _signal_aggregate(name: str, signal: SignalSettings, as_of: date) -> str:
    """The aggregate expression of one signal inside the orders or events GROUP BY."""
    if signal.source == "events":
        names = ", ".join(sql_string(n) for n in signal.events)
        conditions = [f"ts < {_end(as_of)}", f"name IN ({names})"]
        day, value = "CAST(ts AS DATE)", "1"
    else:
        conditions = ["paid_day IS NOT NULL"]
        if signal.items_like is not None:
            conditions.append(f"LOWER(items) LIKE LOWER({sql_string(signal.items_like)})")
        day, value = "paid_day", "paid"
    if signal.window_days is not None:
        start = as_of - timedelta(days=signal.window_days)
        conditions.append(f"{day} > {_date(start)}")
    cond = " AND ".join(conditions)
    if signal.measure == "count":
        return f"COUNT(CASE WHEN {cond} THEN 1 END) AS {name}"
    if signal.measure == "per_month":
        months = (signal.window_days or 30) / 30
        return f"COUNT(CASE WHEN {cond} THEN 1 END) / {months!r} AS {name}"
    if signal.measure == "distinct_days":
        return f"COUNT(DISTINCT CASE WHEN {cond} THEN {day} END) AS {name}"
    if signal.measure == "days_since":
        return f"DATE_DIFF('day', MAX(CASE WHEN {cond} THEN {day} END), {_date(as_of)}) AS {name}"
    return f"SUM(CASE WHEN {cond} THEN {value} ELSE 0 END) AS {name}"


def _final(name: str, signal: SignalSettings, alias: str) -> str:
    """The signal in the outer SELECT: zero for customers without a row, NULL stays for days."""
    if signal.measure == "days_since":
        return f"{alias}.{name}"
    return f"COALESCE({alias}.{name}, 0) AS {name}"


def features_sql(settings: FeaturesSettings, as_of: date) -> str:
    """The SELECT giving one row of features per customer in the base on ``as_of``.

    >>> sql = features_sql(FeaturesSettings(), date(1998, 6, 30))
    >>> "paid_at < TIMESTAMP '1998-07-01 00:00:00'" in sql
    True
    """
    end = _end(as_of)
    d = _date(as_of)
    since = {n: _date(as_of - timedelta(days=n)) for n in (30, 90, 180)}
    if settings.window_days is None:
        in_window = "paid_day IS NOT NULL"
        window_note = "all history"
    else:
        in_window = f"paid_day > {_date(as_of - timedelta(days=settings.window_days))}"
        window_note = f"the last {settings.window_days} days"
    if settings.frequency == "orders":
        frequency = f"COUNT(CASE WHEN {in_window} THEN 1 END)"
    else:
        frequency = f"COUNT(DISTINCT CASE WHEN {in_window} THEN paid_day END)"
    order_signals = {n: s for n, s in settings.signals.items() if s.source == "orders"}
    event_signals = {n: s for n, s in settings.signals.items() if s.source == "events"}
    sessions = ", ".join(sql_string(n) for n in settings.session_events) or "NULL"

    paid_extra = "".join(
        f",\n        {_signal_aggregate(n, s, as_of)}" for n, s in order_signals.items()
    )
    event_extra = "".join(
        f",\n        {_signal_aggregate(n, s, as_of)}" for n, s in event_signals.items()
    )
    signal_cols = "".join(
        f",\n    {_final(n, s, 'o')}" for n, s in order_signals.items()
    ) + "".join(f",\n    {_final(n, s, 'e')}" for n, s in event_signals.items())
    return f"""-- livebase features as of {as_of.isoformat()}: one row per customer in the base that day.
-- Counted order: paid_amount > 0, paid on or before as_of. RFM window: {window_note}.
WITH order_rows AS (  -- every order; paid_day and paid are set only for counted orders
    SELECT
        customer_id,
        COALESCE(created_at, paid_at) AS placed_at,
        status,
        items,
        CASE WHEN paid_amount > 0 AND paid_at < {end} THEN CAST(paid_at AS DATE) END AS paid_day,
        CASE WHEN paid_amount > 0 AND paid_at < {end} THEN paid_amount END AS paid
    FROM orders
),
order_facts AS (  -- one pass over the orders: first appearance, refunds and purchases
    SELECT
        customer_id,
        MIN(placed_at) AS first_order_at,
        COUNT(CASE WHEN status = 'refunded' AND placed_at < {end} THEN 1 END) AS refunded_orders,
        MIN(paid_day) AS first_paid_date,
        MAX(paid_day) AS last_paid_date,
        COUNT(paid_day) AS orders_total,
        COUNT(DISTINCT paid_day) AS paid_days_total,
        SUM(paid) AS ltv,
        {frequency} AS frequency,
        SUM(CASE WHEN {in_window} THEN paid ELSE 0 END) AS monetary,
        COUNT(CASE WHEN paid_day > {since[30]} THEN 1 END) AS paid_orders_30d,
        COUNT(CASE WHEN paid_day > {since[90]} THEN 1 END) AS paid_orders_90d,
        COUNT(CASE WHEN paid_day > {since[180]} THEN 1 END) AS paid_orders_180d{paid_extra}
    FROM order_rows
    GROUP BY customer_id
),
event_facts AS (  -- product events: first appearance, sessions and signals
    SELECT
        customer_id,
        MIN(ts) AS first_event_at,
        COUNT(CASE WHEN ts < {end} AND name IN ({sessions})
                    AND CAST(ts AS DATE) > {since[90]} THEN 1 END) AS sessions_90d{event_extra}
    FROM events
    GROUP BY customer_id
),
base AS (  -- customers known on as_of: earliest known date on or before it, or none known
    SELECT
        c.customer_id,
        LEAST(c.created_at, o.first_order_at, e.first_event_at) AS first_seen_at
    FROM customers c
    LEFT JOIN order_facts o ON o.customer_id = c.customer_id
    LEFT JOIN event_facts e ON e.customer_id = c.customer_id
)
SELECT
    b.customer_id,
    CAST(b.first_seen_at AS DATE) AS first_seen_date,
    DATE_DIFF('day', CAST(b.first_seen_at AS DATE), {d}) AS tenure_days,
    o.first_paid_date,
    o.last_paid_date,
    DATE_DIFF('day', o.first_paid_date, {d}) AS days_since_first_paid,
    DATE_DIFF('day', o.last_paid_date, {d}) AS recency_days,
    COALESCE(o.frequency, 0) AS frequency,
    COALESCE(o.monetary, 0) AS monetary,
    COALESCE(o.orders_total, 0) AS orders_total,
    COALESCE(o.paid_days_total, 0) AS paid_days_total,
    COALESCE(o.ltv, 0) AS ltv,
    CASE WHEN o.frequency > 0 THEN CAST(o.monetary AS DOUBLE) / o.frequency END AS aov,
    CASE WHEN o.paid_days_total > 1
         THEN CAST(DATE_DIFF('day', o.first_paid_date, o.last_paid_date) AS DOUBLE)
              / (o.paid_days_total - 1)
    END AS mean_interpurchase_days,
    COALESCE(o.paid_orders_30d, 0) AS paid_orders_30d,
    COALESCE(o.paid_orders_90d, 0) AS paid_orders_90d,
    COALESCE(o.paid_orders_180d, 0) AS paid_orders_180d,
    COALESCE(o.refunded_orders, 0) AS refunded_orders,
    COALESCE(e.sessions_90d, 0) / 3.0 AS sessions_per_month_last_quarter{signal_cols}
FROM base b
LEFT JOIN order_facts o ON o.customer_id = b.customer_id
LEFT JOIN event_facts e ON e.customer_id = b.customer_id
WHERE b.first_seen_at IS NULL OR b.first_seen_at < {end}
"""
