"""The replay's customer frame, carried from day to day instead of rebuilt from the whole log.

A customer's row of the frame (``frame.frame_sql``: features, segments, uplift, contacts) moves
from one day to the next in only three ways:

1. it **changes** on a day something of the customer's happens or leaves a window: an order
   paid or placed that day, or paid N days before for each window N the features look at
   (30, 90 and 180 days, the RFM window, the order signals' windows); an event that day or N
   days before (90 days for sessions, the event signals' windows); the registration; a
   segment period that begins or ends; an uplift score;
2. its **day counts** grow by one a day (``tenure_days``, ``days_since_first_paid``,
   ``recency_days`` and ``days_since_last_paid``, every ``days_since`` signal), NULL staying
   NULL;
3. every row changes when the CLV fit in force changes.

:class:`CarriedFrame` lists the days of (1) per customer once for the whole replay
(:func:`touch_sql`), builds the frame in full on the first day, and on each later day
recomputes only the customers of (1) since the frame's day, with the frame's own SQL restricted
to them, while everyone else's day counts move by the days passed (the rows keep each day
count as the date it counts from, and a view subtracts it from the day: the rows are not
rewritten, and a filter on a day count, such as an inactivity trigger's window, reads that one
column before the rest of the row); (3) rebuilds it all. Listing
a customer who did not change costs a little time and nothing else (their row is recomputed
exactly), so the list errs on the wide side. The result is the frame ``build_frame`` gives, row
for row (``tests/orchestrate/test_replay_frame.py`` compares both on every day of seeded and
random bases).

>>> from livebase.config import parse_config
>>> day_count_columns(parse_config("name: school").features)
['tenure_days', 'days_since_first_paid', 'recency_days', 'days_since_last_paid']
>>> from livebase.features import FeaturesSettings
>>> window_offsets(FeaturesSettings(window_days=365))
([0, 30, 90, 180, 365], [0, 90])
"""

from __future__ import annotations

from datetime import date

import duckdb

from livebase.config import LivebaseConfig
from livebase.features import FeaturesSettings
from livebase.orchestrate.frame import FRAME, clv_predictions_sql, frame_sql
from livebase.store import Store

__all__ = ["ROWS", "TOUCH", "CarriedFrame", "day_count_columns", "touch_sql", "window_offsets"]

TOUCH = "lb_rp_touch"
"""The temporary table of (day, customer_id): the days a customer's row may change."""
ROWS = "lb_rp_frame_rows"
"""The temporary table of the carried rows, each day count stored as the date it counts from
(see :func:`_origins`)."""


def window_offsets(settings: FeaturesSettings) -> tuple[list[int], list[int]]:
    """Days after an order's payment, and after an event, on which a feature may change.

    0 (the day itself) and every window a feature looks at (the day the order or event leaves
    it).
    """
    orders = {0, 30, 90, 180}
    if settings.window_days is not None:
        orders.add(settings.window_days)
    events = {0, 90}
    for signal in settings.signals.values():
        if signal.window_days is not None:
            (orders if signal.source == "orders" else events).add(signal.window_days)
    return sorted(orders), sorted(events)


def day_count_columns(settings: FeaturesSettings) -> list[str]:
    """The frame's columns that count days up to the day (they grow by one a day)."""
    signals = [name for name, s in settings.signals.items() if s.measure == "days_since"]
    return ["tenure_days", "days_since_first_paid", "recency_days", "days_since_last_paid",
            *signals]  # fmt: skip


def _origins(columns: list[str], day: date) -> str:
    """REPLACE list storing each day count of a row computed for ``day`` as its origin, the
    date the count was 0 (NULL stays NULL).

    >>> _origins(["recency_days"], date(2026, 2, 9))
    "DATE '2026-02-09' - CAST(recency_days AS INTEGER) AS recency_days"
    """
    return ", ".join(f"DATE '{day.isoformat()}' - CAST({c} AS INTEGER) AS {c}" for c in columns)


def _counts(columns: list[str], day: date) -> str:
    """REPLACE list turning stored origins back into day counts as of ``day``.

    >>> _counts(["recency_days"], date(2026, 2, 9))
    "DATE '2026-02-09' - recency_days AS recency_days"
    """
    return ", ".join(f"DATE '{day.isoformat()}' - {c} AS {c}" for c in columns)


def touch_sql(settings: FeaturesSettings, after: date, until: date) -> str:
    """SELECT of (day, customer_id), one row per day in (``after``, ``until``] on which the
    customer's row of the frame may change (see the module docstring), sorted by day."""
    orders, events = window_offsets(settings)
    lo, hi = f"DATE '{after.isoformat()}'", f"DATE '{until.isoformat()}'"
    order_days = ", ".join(map(str, orders))
    event_days = ", ".join(map(str, events))
    return f"""SELECT DISTINCT day, customer_id FROM (
        -- paid that day, or leaving a window of the order features
        SELECT o.customer_id, CAST(o.paid_at AS DATE) + k.n AS day
        FROM orders o, (SELECT unnest([{order_days}]) AS n) k WHERE o.paid_at IS NOT NULL
        UNION ALL  -- placed that day: refunds, the first order, the day the customer appears
        SELECT customer_id, CAST(coalesce(created_at, paid_at) AS DATE) FROM orders
        UNION ALL  -- an event that day, or leaving a window of the event features
        SELECT e.customer_id, CAST(e.ts AS DATE) + k.n
        FROM events e, (SELECT unnest([{event_days}]) AS n) k
        UNION ALL SELECT customer_id, CAST(created_at AS DATE) FROM customers
        UNION ALL SELECT customer_id, valid_from FROM segment_history
        UNION ALL SELECT customer_id, valid_to FROM segment_history
        UNION ALL SELECT customer_id, CAST(scored_at AS DATE) FROM uplift_scores
    ) t WHERE day > {lo} AND day <= {hi}
    ORDER BY day"""


def _drop(store: Store, name: str) -> None:
    """Drop the temporary table or view ``name`` whichever it is (nothing when absent)."""
    for kind in ("VIEW", "TABLE"):
        try:
            store.con.execute(f"DROP {kind} IF EXISTS {name}")
        except duckdb.CatalogException:  # the other kind of object
            continue


class CarriedFrame:
    """The frame of the replay's days from ``start`` to ``end``, carried from day to day.

    Call it with each day in increasing order (as ``plan_tick``'s ``frame_builder``); a day
    before the frame's own, or a change of the CLV fit in force, rebuilds it in full. The rows
    live in :data:`ROWS` with their day counts stored as origins (:func:`_origins`); the frame
    (``frame.FRAME``) is a view counting the days from those origins to the day, so a day
    rewrites only the rows of the customers whose row changed. :meth:`close` drops both, so
    that ``build_frame`` can make its table again.
    """

    def __init__(self, store: Store, config: LivebaseConfig, start: date, end: date) -> None:
        self.store, self.config = store, config
        self.day: date | None = None
        self.predictions: str | None = None
        self.rebuilt = 0
        """Days built in full (the first, and each change of the CLV fit)."""
        self.rows = 0
        self.replaced = 0
        store.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TOUCH} AS {touch_sql(config.features, start, end)}"
        )
        _drop(store, FRAME)

    def __call__(self, day: date) -> None:
        predictions = clv_predictions_sql(self.store, self.config, day)
        con = self.store.con
        columns = day_count_columns(self.config.features)
        if self.day is None or day <= self.day or predictions != self.predictions:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {ROWS} AS SELECT * REPLACE "
                f"({_origins(columns, day)}) FROM ({frame_sql(self.config, day, predictions)})"
            )
            row = con.execute(f"SELECT count(*) FROM {ROWS}").fetchall()[0]
            self.rows, self.replaced = int(row[0]), 0
            self.rebuilt += 1
        else:
            self._carry(day, predictions, columns)
        self.day, self.predictions = day, predictions
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {FRAME} AS "
            f"SELECT * REPLACE ({_counts(columns, day)}) FROM {ROWS}"
        )

    def _carry(self, day: date, predictions: str | None, columns: list[str]) -> None:
        assert self.day is not None
        con = self.store.con
        changed = (
            f"SELECT DISTINCT customer_id FROM {TOUCH} "
            f"WHERE day > DATE '{self.day.isoformat()}' AND day <= DATE '{day.isoformat()}'"
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE lb_rp_changed AS {changed}")
        row = con.execute(
            f"DELETE FROM {ROWS} WHERE customer_id IN (SELECT customer_id FROM lb_rp_changed)"
        ).fetchall()[0]
        fresh = frame_sql(
            self.config, day, predictions, customers="SELECT customer_id FROM lb_rp_changed"
        )
        added = con.execute(
            f"INSERT INTO {ROWS} SELECT * REPLACE ({_origins(columns, day)}) FROM ({fresh})"
        ).fetchall()[0]
        self.rows += int(added[0]) - int(row[0])
        self.replaced += int(row[0])
        if self.replaced > self.rows:  # deleted rows still scanned: compact now and then
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} AS SELECT * FROM {ROWS}")
            self.replaced = 0

    def close(self) -> None:
        """Drop the frame's view and rows (``build_frame`` may then make its table)."""
        for name in (FRAME, ROWS, TOUCH, "lb_rp_changed"):
            _drop(self.store, name)
