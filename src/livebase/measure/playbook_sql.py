"""The SQL of playbook readouts: sums per arm over the analytics store's copies of the
operational tables (``ops_assignments``, ``ops_send_ledger``, ``ops_journeys``) and ``orders``.

Every query returns sums only (customers, converters, Σ revenue, Σ revenue², the log and cube
sums a skewed outcome needs); the statistics in :mod:`livebase.measure.playbook_readout` never
see a customer row. Each builder returns ``(sql, parameters)`` for DuckDB.

A customer's outcome is read inside the conversion window that starts at the assignment
(entry for the playbook, the step's due time for a step holdout): paid orders (or the named
event) in ``[ts, ts + window)``. Only assignments whose window is over by ``as_of`` count.

>>> sql, params = unit_outcomes_sql("playbook:winback", 14, "purchase", None)
>>> "ops_assignments" in sql and params[0]
'playbook:winback'
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "dropouts_sql",
    "funnel_sql",
    "global_holdout_sql",
    "ledger_costs_sql",
    "outcome_sums",
    "unit_outcomes_sql",
]

PAID = "('paid', 'partially_paid')"


def _sums(keep: str) -> str:
    """Sufficient statistics (see ``ArmStats``) of the customers for whom ``keep`` holds."""
    f = f"FILTER (WHERE {keep}"
    return f"""count(*) {f}) AS n,
        count(*) {f} AND converted) AS conversions,
        coalesce(sum(revenue) {f}), 0) AS revenue_sum,
        coalesce(sum(revenue * revenue) {f}), 0) AS revenue_sum_sq,
        count(*) {f} AND revenue > 0) AS revenue_pos_n,
        coalesce(sum(ln(CASE WHEN revenue > 0 THEN revenue END)) {f} AND revenue > 0), 0) AS revenue_log_sum,
        coalesce(sum(ln(CASE WHEN revenue > 0 THEN revenue END) ** 2) {f} AND revenue > 0), 0) AS revenue_log_sum_sq,
        count(*) {f} AND revenue < 0) AS revenue_neg_n,
        coalesce(sum(revenue * revenue * revenue) {f}), 0) AS revenue_sum_cu,
        count(*) {f} AND converted) AS converter_n,
        coalesce(sum(revenue) {f} AND converted), 0) AS converter_revenue_sum,
        coalesce(sum(revenue * revenue) {f} AND converted), 0) AS converter_revenue_sum_sq"""


def unit_outcomes_sql(
    unit: str,
    window_days: int,
    conversion_event: str,
    segment_scheme: str | None,
    *,
    arms: tuple[str, ...] = ("treatment", "holdout"),
) -> tuple[str, list[Any]]:
    """One row per assignment of ``unit`` (``playbook:NAME`` or ``playbook:NAME:step:STEP``):
    customer, occurrence, arm, assigned at, window end, segment at entry, converted, revenue.

    The query has one more parameter, ``as_of``, appended by the caller through
    :func:`outcome_sums` (windows still open are flagged ``window_open``).
    """
    converted = (
        "coalesce(o.orders, 0) > 0"
        if conversion_event == "purchase"
        else "coalesce(e.events, 0) > 0"
    )
    events = ""
    params: list[Any] = [unit, list(arms)]
    if conversion_event != "purchase":
        events = """LEFT JOIN (
            SELECT a.customer_id, a.occurrence, count(*) AS events FROM a
            JOIN events ev ON ev.customer_id = a.customer_id AND ev.name = ?
             AND ev.ts >= a.ts AND ev.ts < a.window_end
            GROUP BY ALL) e USING (customer_id, occurrence)"""
        params.append(conversion_event)
    segment = "'all'"
    seg_join = ""
    if segment_scheme is not None:
        segment = "coalesce(h.segment, '—')"
        seg_join = """LEFT JOIN segment_history h ON h.customer_id = a.customer_id
            AND h.scheme = ? AND h.valid_from <= CAST(a.ts AS DATE)
            AND (h.valid_to IS NULL OR h.valid_to > CAST(a.ts AS DATE))"""
        params.append(segment_scheme)
    sql = f"""
-- name: playbook-unit-outcomes
-- Every customer assigned to the unit, with paid orders inside the conversion window.
WITH a AS (
    SELECT customer_id, occurrence, arm, ts,
           ts + INTERVAL ({int(window_days)}) DAY AS window_end
    FROM ops_assignments WHERE unit = ? AND list_contains(?, arm)
),
o AS (
    SELECT a.customer_id, a.occurrence, count(*) AS orders,
           sum(CAST(od.paid_amount AS DOUBLE)) AS revenue
    FROM a JOIN orders od ON od.customer_id = a.customer_id AND od.status IN {PAID}
     AND od.paid_at >= a.ts AND od.paid_at < a.window_end
    GROUP BY ALL
)
SELECT a.customer_id, a.occurrence, a.arm, a.ts, a.window_end,
       {segment} AS segment,
       {converted} AS converted,
       coalesce(o.revenue, 0.0) AS revenue
FROM a LEFT JOIN o USING (customer_id, occurrence) {events} {seg_join}"""
    return sql, params


def outcome_sums(unit_sql: str, by: tuple[str, ...]) -> str:
    """Sums per ``by`` columns (e.g. ``("occurrence", "arm")``) over the windows of
    :func:`unit_outcomes_sql` that are over by ``as_of`` (one more parameter, first), and how
    many windows are still open; assignments after ``as_of`` do not exist yet.

    >>> "GROUP BY arm" in outcome_sums("SELECT 1", ("arm",))
    True
    """
    cols = ", ".join(by)
    return f"""
-- name: playbook-outcome-sums
SELECT {cols}, {_sums("NOT window_open")},
       count(*) FILTER (WHERE window_open) AS open_windows
FROM (SELECT u0.*, u0.window_end > p.as_of AS window_open
      FROM (SELECT CAST(? AS TIMESTAMP) AS as_of) p, ({unit_sql}) u0 WHERE u0.ts <= p.as_of) u
GROUP BY {cols} ORDER BY {cols}"""


def ledger_costs_sql() -> str:
    """Messages and money per step of one playbook (one parameter: the playbook), from the
    ledger: sent messages and their cost; where nothing was sent yet, the planned cost.

    >>> "ops_send_ledger" in ledger_costs_sql()
    True
    """
    return """
-- name: playbook-ledger-costs
SELECT step, any_value(channel) AS channel,
       count(DISTINCT message_key) FILTER (WHERE type = 'sent') AS sent,
       coalesce(sum(cost) FILTER (WHERE type = 'sent'), 0) AS sent_cost,
       count(DISTINCT message_key) FILTER (WHERE type = 'planned') AS planned,
       coalesce(sum(cost) FILTER (WHERE type = 'planned'), 0) AS planned_cost
FROM ops_send_ledger WHERE playbook = ? GROUP BY step ORDER BY step"""


def funnel_sql(window_days: int) -> str:
    """The cascade per step (parameter: the playbook): customers who came due,
    were held out, planned, sent, delivered, opened, clicked and bought within the window after
    the message; the cost; and one row per reason a customer dropped out of the plan.

    >>> "name: playbook-funnel" in funnel_sql(14)
    True
    """
    return f"""
-- name: playbook-funnel
WITH l AS (SELECT * FROM ops_send_ledger WHERE playbook = ?),
keys AS (
    SELECT step, message_key, any_value(customer_id) AS customer_id,
           any_value(channel) AS channel,
           bool_or(type = 'held_out') AS held_out,
           bool_or(type = 'planned') AS planned,
           bool_or(type = 'sent') AS sent,
           bool_or(type = 'delivered') AS delivered,
           bool_or(type = 'opened') AS opened,
           bool_or(type = 'clicked') AS clicked,
           min(ts) FILTER (WHERE type = 'sent') AS sent_at,
           coalesce(sum(cost) FILTER (WHERE type = 'sent'), 0) AS cost
    FROM l GROUP BY step, message_key
),
bought AS (
    SELECT k.step, k.message_key FROM keys k
    JOIN orders o ON o.customer_id = k.customer_id AND o.status IN {PAID}
     AND o.paid_at >= k.sent_at AND o.paid_at < k.sent_at + INTERVAL ({int(window_days)}) DAY
    WHERE k.sent GROUP BY ALL
)
SELECT k.step, any_value(k.channel) AS channel,
       count(*) AS due,
       count(*) FILTER (WHERE k.held_out) AS held_out,
       count(*) FILTER (WHERE k.planned) AS planned,
       count(*) FILTER (WHERE k.sent) AS sent,
       count(*) FILTER (WHERE k.delivered OR k.opened OR k.clicked) AS delivered,
       count(*) FILTER (WHERE k.opened OR k.clicked) AS opened,
       count(*) FILTER (WHERE k.clicked) AS clicked,
       count(b.message_key) AS converted,
       sum(k.cost) AS cost,
       min(l0.first_ts) AS first_ts
FROM keys k LEFT JOIN bought b USING (step, message_key)
LEFT JOIN (SELECT step, min(ts) AS first_ts FROM l GROUP BY step) l0 USING (step)
WHERE k.step IS NOT NULL
GROUP BY k.step ORDER BY min(l0.first_ts), k.step"""


def dropouts_sql() -> str:
    """Why customers dropped out of the plan, per step (parameter: the playbook): skipped and
    capped rows of the ledger by reason, holdouts, and journeys that ended early.

    >>> "name: playbook-dropouts" in dropouts_sql()
    True
    """
    return """
-- name: playbook-dropouts
SELECT step, type, split_part(coalesce(reason, type), ':', 1) AS reason,
       count(DISTINCT message_key) AS customers
FROM ops_send_ledger
WHERE playbook = ? AND type IN ('skipped', 'capped', 'held_out', 'deferred', 'failed', 'bounced')
GROUP BY ALL ORDER BY step, customers DESC"""


def global_holdout_sql() -> str:
    """Per calendar month: customers of the global holdout and of the rest of the programme
    (assigned before the month ended), sums of their paid orders in the month after their
    assignment (parameters: first month, as_of). Months not yet over are flagged ``partial``.

    >>> "name: global-holdout-months" in global_holdout_sql()
    True
    """
    return f"""
-- name: global-holdout-months
WITH g AS (SELECT customer_id, arm, ts FROM ops_assignments WHERE unit = 'global'),
months AS (
    SELECT unnest(generate_series(date_trunc('month', CAST(? AS TIMESTAMP)),
                                  date_trunc('month', CAST(? AS TIMESTAMP)),
                                  INTERVAL 1 MONTH)) AS month
),
u AS (
    SELECT m.month, g.customer_id, g.arm,
           greatest(g.ts, m.month) AS start_ts, m.month + INTERVAL 1 MONTH AS end_ts
    FROM months m JOIN g ON g.ts < m.month + INTERVAL 1 MONTH
),
o AS (
    SELECT u.month, u.customer_id, count(*) AS orders,
           sum(CAST(od.paid_amount AS DOUBLE)) AS revenue
    FROM u JOIN orders od ON od.customer_id = u.customer_id AND od.status IN {PAID}
     AND od.paid_at >= u.start_ts AND od.paid_at < u.end_ts
    GROUP BY ALL
),
x AS (
    SELECT u.month, u.arm, u.end_ts, coalesce(o.orders, 0) > 0 AS converted,
           coalesce(o.revenue, 0.0) AS revenue, FALSE AS window_open
    FROM u LEFT JOIN o USING (month, customer_id)
)
SELECT month, arm, {_sums("TRUE")}, max(end_ts) AS month_end
FROM x GROUP BY month, arm ORDER BY month, arm"""
