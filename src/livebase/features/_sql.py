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

**Two sources, one answer.** ``source="log"`` reads the whole order log once, in one GROUP BY per
customer (no join of the orders with anything); with ``paid_day_bounds`` (what a segmentation
run passes) the distinct paid days are the counted orders less the same-day repeats, found by
one GROUP BY per range of days (on a log in time order each range reads its own row groups).
``source="state"`` reads the all-history aggregates of ``customer_state`` (kept up to date on
ingest, see ``livebase.features.state``) and scans only the orders paid in the last
``window_days(settings)`` days (a ``paid_at`` range predicate) for the windowed counts. It is
exact when nothing in the store is dated after ``as_of`` (``livebase.features.state`` checks
that), and a test compares both on random sequences of loads.

**Portability.** Only standard constructs are used (CASE, COUNT/SUM/MIN/MAX, LEAST, DATE_DIFF,
typed literals, CAST to DOUBLE/DECIMAL); money stays ``DECIMAL(18,2)``; ratios are computed in
DOUBLE from exact integers and decimals, so ``sqlglot.transpile`` gives the same numbers on
Spark, PostgreSQL and the other dialects (``livebase.store.engine``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

from livebase.features._columns import BASE_FEATURES, clv_columns
from livebase.features.settings import FeaturesSettings, SignalSettings

__all__ = ["FeatureSource", "feature_columns", "features_sql", "sql_string", "window_days"]

FeatureSource = Literal["log", "state"]
_MONEY = "DECIMAL(18,2)"
_NL4, _NL8 = "\n" + " " * 4, "\n" + " " * 8


def sql_string(value: str) -> str:
    """A SQL string literal (single quotes doubled).

    >>> sql_string("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def _date(value: date) -> str:
    return f"DATE '{value.isoformat()}'"


def _midnight(value: date) -> str:
    return f"TIMESTAMP '{value.isoformat()} 00:00:00'"


def _end(as_of: date) -> str:
    """Midnight after ``as_of``: everything strictly before it happened on or before as_of."""
    return _midnight(as_of + timedelta(days=1))


def feature_columns(settings: FeaturesSettings) -> dict[str, str]:
    """Every feature column (built-in, CLV predictions, then signals) with its meaning.

    >>> list(feature_columns(FeaturesSettings()))[:3]
    ['customer_id', 'first_seen_date', 'tenure_days']
    """
    columns = dict(BASE_FEATURES)
    columns.update(clv_columns(settings.clv_horizons))
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


def window_days(settings: FeaturesSettings) -> int | None:
    """Days of orders the ``state`` source scans (the longest window a feature looks at);
    None when a feature needs all history of the orders (an order signal without a window).

    >>> window_days(FeaturesSettings())
    180
    >>> window_days(FeaturesSettings(window_days=365))
    365
    """
    days = [180]
    if settings.window_days is not None:
        days.append(settings.window_days)
    for signal in settings.signals.values():
        if signal.source == "orders":
            if signal.window_days is None:
                return None
            days.append(signal.window_days)
    return max(days)


# ---------------------------------------------------------------------------------------------
# signals


def _item_match(signal: SignalSettings) -> str:
    if signal.items_like is None:
        return "TRUE"
    return f"LOWER(items) LIKE LOWER({sql_string(signal.items_like)})"


def _order_signal(name: str, signal: SignalSettings, as_of: date) -> str:
    """The aggregate of an order signal over the order rows (``paid_day`` NULL: not counted)."""
    cond = "paid_day IS NOT NULL"
    if signal.window_days is not None:
        cond = f"paid_day > {_date(as_of - timedelta(days=signal.window_days))}"
    if signal.items_like is not None:
        cond += f" AND {_item_match(signal)}"
    if signal.measure == "amount":
        return f"CAST(SUM(CASE WHEN {cond} THEN paid_amount END) AS {_MONEY}) AS {name}"
    if signal.measure == "count":
        return f"COUNT(CASE WHEN {cond} THEN 1 END) AS {name}"
    if signal.measure == "per_month":
        months = (signal.window_days or 30) / 30
        return f"CAST(COUNT(CASE WHEN {cond} THEN 1 END) AS DOUBLE) / {months!r} AS {name}"
    if signal.measure == "distinct_days":
        return f"COUNT(DISTINCT CASE WHEN {cond} THEN paid_day END) AS {name}"
    return f"DATE_DIFF('day', MAX(CASE WHEN {cond} THEN paid_day END), {_date(as_of)}) AS {name}"


def _event_signal(name: str, signal: SignalSettings, as_of: date) -> str:
    """The aggregate of an event signal inside the events GROUP BY."""
    names = ", ".join(sql_string(n) for n in signal.events)
    conditions = [f"ts < {_end(as_of)}", f"name IN ({names})"]
    day = "CAST(ts AS DATE)"
    if signal.window_days is not None:
        conditions.append(f"{day} > {_date(as_of - timedelta(days=signal.window_days))}")
    cond = " AND ".join(conditions)
    if signal.measure == "count":
        return f"COUNT(CASE WHEN {cond} THEN 1 END) AS {name}"
    if signal.measure == "per_month":
        months = (signal.window_days or 30) / 30
        return f"CAST(COUNT(CASE WHEN {cond} THEN 1 END) AS DOUBLE) / {months!r} AS {name}"
    if signal.measure == "distinct_days":
        return f"COUNT(DISTINCT CASE WHEN {cond} THEN {day} END) AS {name}"
    # days_since
    return f"DATE_DIFF('day', MAX(CASE WHEN {cond} THEN {day} END), {_date(as_of)}) AS {name}"


def _final(name: str, signal: SignalSettings, alias: str) -> str:
    """The signal in the outer SELECT: zero for customers without a row, NULL stays for days."""
    if signal.measure == "days_since":
        return f"{alias}.{name}"
    if signal.measure == "amount":
        return f"COALESCE({alias}.{name}, CAST(0 AS {_MONEY})) AS {name}"
    if signal.measure == "per_month":
        return f"COALESCE({alias}.{name}, 0.0) AS {name}"
    return f"COALESCE({alias}.{name}, 0) AS {name}"


# ---------------------------------------------------------------------------------------------
# the order facts: from the log, or from customer_state and the recent window


def _windowed(settings: FeaturesSettings, as_of: date) -> list[str]:
    """Aggregates over order rows (``paid_day`` set for counted orders) that look at a window.

    Frequency and monetary are here when the RFM window is not all history; otherwise they are
    ``orders_total`` (or ``paid_days_total``) and ``ltv``.
    """
    since = {n: _date(as_of - timedelta(days=n)) for n in (30, 90, 180)}
    cols: list[str] = []
    if settings.window_days is not None:
        if settings.window_days is None:
            in_window = "paid_day IS NOT NULL"
        else:
            in_window = f"paid_day > {_date(as_of - timedelta(days=settings.window_days))}"
        if settings.frequency == "orders":
            cols.append(f"COUNT(CASE WHEN {in_window} THEN 1 END) AS frequency")
        else:
            cols.append(f"COUNT(DISTINCT CASE WHEN {in_window} THEN paid_day END) AS frequency")
        cols.append(
            f"CAST(SUM(CASE WHEN {in_window} THEN paid_amount END) AS {_MONEY}) AS monetary"
        )
    for n in (30, 90, 180):
        cols.append(f"COUNT(CASE WHEN paid_day > {since[n]} THEN 1 END) AS paid_orders_{n}d")
    for name, signal in settings.signals.items():
        if signal.source == "orders":
            cols.append(_order_signal(name, signal, as_of))
    return cols


def _only(customers: str | None, keyword: str, column: str = "customer_id") -> str:
    """``keyword`` and the filter keeping the rows of the customers of the SELECT
    ``customers``; empty when None."""
    return "" if customers is None else f"{keyword} {column} IN ({customers})"


def _repeat_days_cte(as_of: date, bounds: Sequence[date], customers: str | None = None) -> str:
    """CTE ``repeat_days``: per customer, the counted orders beyond the first of each paid day.

    The days are split at the midnights ``bounds`` (the first range open below, the last
    ending at ``as_of``), one GROUP BY per range: a day never straddles two ranges, so the sum
    is exact whatever the bounds; on a log stored in time order each range reads only its own
    row groups (zone maps) and its hash table holds that range's (customer, day) pairs only.
    """
    edges = [_midnight(d) for d in sorted(set(bounds)) if d <= as_of] + [_end(as_of)]
    branches = []
    for i, hi in enumerate(edges):
        since = f"paid_at >= {edges[i - 1]} AND " if i else ""
        branches.append(
            f"""    SELECT customer_id, COUNT(*) - 1 AS repeats FROM orders
    WHERE paid_amount > 0 AND {since}paid_at < {hi}{_only(customers, " AND")}
    GROUP BY customer_id, CAST(paid_at AS DATE) HAVING COUNT(*) > 1"""
        )
    union = "\n    UNION ALL\n".join(branches)
    return f"""repeat_days AS (  -- counted orders on a day the customer had already paid on
    SELECT customer_id, SUM(repeats) AS repeats FROM (
{union}
    ) r
    GROUP BY customer_id
),
"""


def _log_ctes(
    settings: FeaturesSettings,
    as_of: date,
    bounds: Sequence[date] | None = None,
    customers: str | None = None,
) -> str:
    end = _end(as_of)
    window = ",\n        ".join(_windowed(settings, as_of))
    if bounds is None:
        paid_days = "\n        COUNT(DISTINCT paid_day) AS paid_days_total,"
        name, prefix, suffix = "order_facts", "", ""
    else:  # distinct paid days = counted orders - repeats (no per-customer distinct set)
        paid_days = ""
        name, prefix = "order_rows", _repeat_days_cte(as_of, bounds, customers)
        suffix = """,
order_facts AS (
    SELECT o.*, o.orders_total - CAST(COALESCE(r.repeats, 0) AS BIGINT) AS paid_days_total
    FROM order_rows o
    LEFT JOIN repeat_days r ON r.customer_id = o.customer_id
)"""
    return f"""{prefix}{name} AS (  -- one pass over the orders, one row per customer
    SELECT
        customer_id,
        MIN(placed_at) AS first_order_at,
        COUNT(CASE WHEN status = 'refunded' AND placed_at < {end} THEN 1 END) AS refunded_orders,
        MIN(paid_day) AS first_paid_date,
        MAX(paid_day) AS last_paid_date,
        COUNT(paid_day) AS orders_total,{paid_days}
        CAST(SUM(CASE WHEN paid_day IS NOT NULL THEN paid_amount END) AS {_MONEY}) AS ltv,
        {window}
    FROM (
        SELECT
            customer_id,
            COALESCE(created_at, paid_at) AS placed_at,
            status,
            items,
            paid_amount,
            -- the day of a counted order; NULL: not paid, or paid after as_of
            CASE WHEN paid_amount > 0 AND paid_at < {end} THEN CAST(paid_at AS DATE) END AS paid_day
        FROM orders{_only(customers, _NL8 + "WHERE")}
    ) o
    GROUP BY customer_id
){suffix}"""


def _state_ctes(
    settings: FeaturesSettings, as_of: date, days: int, customers: str | None = None
) -> str:
    end = _end(as_of)
    start = _midnight(as_of - timedelta(days=days - 1))
    windowed = _windowed(settings, as_of)
    window = ",\n        ".join(windowed)
    window_cols = [c.rsplit(" AS ", 1)[1] for c in windowed]
    recent_only = _only(customers, " AND")
    state_only = _only(customers, _NL4 + "WHERE", "s.customer_id")
    carried = ",\n        ".join(f"w.{c}" for c in window_cols)
    return f"""window_facts AS (  -- only the orders paid in the last {days} days (a range predicate)
    SELECT
        customer_id,
        {window}
    FROM (
        SELECT customer_id, items, paid_amount, CAST(paid_at AS DATE) AS paid_day
        FROM orders
        WHERE paid_at >= {start} AND paid_at < {end} AND paid_amount > 0{recent_only}
    ) o
    GROUP BY customer_id
),
order_facts AS (  -- all history from customer_state (kept up to date on ingest)
    SELECT
        s.customer_id,
        s.first_order_at,
        s.refunded_orders,
        CAST(s.first_paid_at AS DATE) AS first_paid_date,
        CAST(s.last_paid_at AS DATE) AS last_paid_date,
        s.paid_orders AS orders_total,
        s.paid_days AS paid_days_total,
        s.paid_revenue AS ltv,
        s.first_event_at,
        {carried}
    FROM customer_state s
    LEFT JOIN window_facts w ON w.customer_id = s.customer_id{state_only}
)"""


def _event_cte(
    settings: FeaturesSettings, as_of: date, source: FeatureSource, customers: str | None = None
) -> str:
    end = _end(as_of)
    since90 = _date(as_of - timedelta(days=90))
    sessions = ", ".join(sql_string(n) for n in settings.session_events) or "NULL"
    signals = {n: s for n, s in settings.signals.items() if s.source == "events"}
    extra = "".join(f",\n        {_event_signal(n, s, as_of)}" for n, s in signals.items())
    first = "MIN(ts) AS first_event_at,\n        " if source == "log" else ""
    where = ""
    if source == "state" and all(s.window_days is not None for s in signals.values()):
        days = max([90, *(s.window_days or 0 for s in signals.values())])
        where = f"\n    WHERE ts >= {_midnight(as_of - timedelta(days=days - 1))} AND ts < {end}"
    if customers is not None:
        where += _only(customers, " AND" if where else _NL4 + "WHERE")
    return f"""event_facts AS (  -- product events: sessions and signals
    SELECT
        customer_id,
        {first}COUNT(CASE WHEN ts < {end} AND name IN ({sessions})
                    AND CAST(ts AS DATE) > {since90} THEN 1 END) AS sessions_90d{extra}
    FROM events{where}
    GROUP BY customer_id
)"""


def features_sql(
    settings: FeaturesSettings,
    as_of: date,
    *,
    source: FeatureSource = "log",
    predictions: str | None = None,
    customers: str | None = None,
    paid_day_bounds: Sequence[date] | None = None,
) -> str:
    """The SELECT giving one row of features per customer in the base on ``as_of``.

    ``source``: ``log`` reads all orders, ``state`` reads ``customer_state`` and the orders of
    the last ``window_days(settings)`` days (exact only when nothing is dated after as_of).
    ``predictions``: a SELECT of CLV predictions (customer_id, p_alive,
    expected_purchases_<h>d, clv_<h>d for ``settings.clv_horizons``); without it those
    columns are NULL. ``customers``: a SELECT of customer ids; only their rows, the scans of
    orders and events restricted to them (the same values as the whole base gives them).
    ``paid_day_bounds`` (``log`` only): count the distinct paid days as the counted orders
    less the repeats on a day, found range by range between these dates
    (``livebase.features.compute.paid_day_bounds``); the same numbers as ``COUNT(DISTINCT)``,
    without its per-customer sets of days (the largest memory of a run). None: one
    ``COUNT(DISTINCT paid_day)``, the portable form.

    >>> sql = features_sql(FeaturesSettings(), date(1998, 6, 30))
    >>> "paid_at < TIMESTAMP '1998-07-01 00:00:00'" in sql
    True
    """
    end = _end(as_of)
    d = _date(as_of)
    if source == "state":
        days = window_days(settings)
        if days is None:
            raise ValueError("an order signal without window_days needs the whole order log")
        orders = _state_ctes(settings, as_of, days, customers)
        first_event = "o.first_event_at"
        note = f"all history from customer_state, the last {days} days of orders"
    else:
        orders = _log_ctes(settings, as_of, paid_day_bounds, customers)
        first_event = "e.first_event_at"
        note = "the whole order log"
    window_note = (
        "all history" if settings.window_days is None else f"the last {settings.window_days} days"
    )
    first_seen = f"LEAST(c.created_at, o.first_order_at, {first_event})"
    if settings.window_days is None:  # the RFM window is all history
        frequency = "o.paid_days_total" if settings.frequency == "days" else "o.orders_total"
        monetary = "o.ltv"
    else:
        frequency, monetary = "o.frequency", "o.monetary"
    signals = "".join(
        f",\n    {_final(n, s, 'o' if s.source == 'orders' else 'e')}"
        for n, s in settings.signals.items()
    )
    clv_select: list[str] = []
    for column in clv_columns(settings.clv_horizons):
        clv_select.append(
            f"p.{column}" if predictions is not None else f"CAST(NULL AS DOUBLE) AS {column}"
        )
    clv_cols = "".join(f",\n    {c}" for c in clv_select)
    in_base = f"{first_seen} IS NULL OR {first_seen} < {end}"
    if customers is not None:
        in_base = f"({in_base}){_only(customers, ' AND', 'c.customer_id')}"
    clv_join = ""
    if predictions is not None:
        clv_join = f"\nLEFT JOIN (\n{predictions}\n) p ON p.customer_id = c.customer_id"
    return f"""-- livebase features as of {as_of.isoformat()}: one row per customer in the base that day.
-- Counted order: paid_amount > 0, paid on or before as_of. RFM window: {window_note}.
-- Source: {note}.
WITH {orders},
{_event_cte(settings, as_of, source, customers)}
SELECT
    c.customer_id,
    CAST({first_seen} AS DATE) AS first_seen_date,
    DATE_DIFF('day', CAST({first_seen} AS DATE), {d}) AS tenure_days,
    o.first_paid_date,
    o.last_paid_date,
    DATE_DIFF('day', o.first_paid_date, {d}) AS days_since_first_paid,
    DATE_DIFF('day', o.last_paid_date, {d}) AS recency_days,
    COALESCE({frequency}, 0) AS frequency,
    COALESCE({monetary}, CAST(0 AS {_MONEY})) AS monetary,
    COALESCE(o.orders_total, 0) AS orders_total,
    COALESCE(o.paid_days_total, 0) AS paid_days_total,
    COALESCE(o.ltv, CAST(0 AS {_MONEY})) AS ltv,
    CASE WHEN {frequency} > 0 THEN CAST({monetary} AS DOUBLE) / {frequency} END AS aov,
    CASE WHEN o.paid_days_total > 1
         THEN CAST(DATE_DIFF('day', o.first_paid_date, o.last_paid_date) AS DOUBLE)
              / (o.paid_days_total - 1)
    END AS mean_interpurchase_days,
    COALESCE(o.paid_orders_30d, 0) AS paid_orders_30d,
    COALESCE(o.paid_orders_90d, 0) AS paid_orders_90d,
    COALESCE(o.paid_orders_180d, 0) AS paid_orders_180d,
    COALESCE(o.refunded_orders, 0) AS refunded_orders,
    CAST(COALESCE(e.sessions_90d, 0) AS DOUBLE) / 3 AS sessions_per_month_last_quarter{clv_cols}{signals}
FROM customers c
LEFT JOIN order_facts o ON o.customer_id = c.customer_id
LEFT JOIN event_facts e ON e.customer_id = c.customer_id{clv_join}
WHERE {in_base}
"""
