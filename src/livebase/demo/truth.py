"""The simulated truth the closed loop's readouts are compared with, counted on the simulator's
own record of why each purchase happened (never on what the store measured).

A playbook's truth is the number of treated entrants whose conversion window holds a purchase
the playbook's messages caused and no other purchase (they would not have bought otherwise); a
step's truth is the same for the customers treated at that step and purchases that step caused.

>>> import pandas as pd
>>> from datetime import date, datetime
>>> from livebase.store import Store
>>> with Store.in_memory() as store:
...     _ = store.con.execute(
...         "INSERT INTO ops_journeys (customer_id, playbook, occurrence, entered_at, arm, state,"
...         " recorded_at) SELECT c, 'p', 1, TIMESTAMP '2026-07-01', 'treatment', 'completed',"
...         " TIMESTAMP '2026-07-01' FROM (VALUES ('1'), ('2')) t(c)")
...     bought = pd.DataFrame({"customer_id": ["1", "2", "2"],
...         "paid_at": pd.to_datetime(["2026-07-03", "2026-07-03", "2026-07-04"]),
...         "cause": ["p:email", "p:email", None]})
...     playbook_truth(store, bought, "p", 14, date(2026, 8, 1))
1
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd

from livebase.store import Store

__all__ = ["playbook_truth", "step_truth"]

_CAUSED = """
o AS (SELECT u.customer_id, u.start_at,
             bool_or(p.cause LIKE ? ESCAPE '\\') AS caused,
             bool_or(coalesce(p.cause, '') NOT LIKE ? ESCAPE '\\') AS other
      FROM u JOIN lb_sim_purchases p ON p.customer_id = u.customer_id
       AND p.paid_at >= u.start_at AND p.paid_at < u.w_end
      GROUP BY ALL)
SELECT count(*) FILTER (WHERE caused AND NOT other) FROM o"""


def _count(store: Store, purchases: pd.DataFrame, sql: str, params: list[object]) -> int:
    con = store.con.cursor()  # its own result state: readouts may hold one on store.con
    try:
        con.register("lb_sim_purchases", purchases[["customer_id", "paid_at", "cause"]])
        value = con.execute(sql, params).fetchone()
    finally:
        con.close()
    return int(value[0]) if value and value[0] is not None else 0


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def playbook_truth(
    store: Store, purchases: pd.DataFrame, playbook: str, window: int, end: date
) -> int:
    """Treated entrants of ``playbook`` (windows over by ``end``) who bought only because of
    its messages. ``purchases``: customer_id, paid_at (local), cause (``playbook:step``)."""
    pattern = _like(playbook) + ":%"
    sql = f"""WITH u AS (
        SELECT customer_id, entered_at AS start_at,
               entered_at + INTERVAL ({int(window)}) DAY AS w_end
        FROM ops_journeys WHERE playbook = ? AND arm = 'treatment'
          AND entered_at + INTERVAL ({int(window)}) DAY <= CAST(? AS TIMESTAMP)),{_CAUSED}"""
    limit = datetime.combine(end + timedelta(days=1), time())
    return _count(store, purchases, sql, [playbook, limit, pattern, pattern])


def step_truth(
    store: Store, purchases: pd.DataFrame, playbook: str, step: str, window: int, end: date
) -> int:
    """Customers treated at ``step`` (by its own holdout) who bought in its window only
    because of that step."""
    cause = _like(f"{playbook}:{step}")
    sql = f"""WITH u AS (
        SELECT customer_id, ts AS start_at, ts + INTERVAL ({int(window)}) DAY AS w_end
        FROM ops_assignments WHERE unit = ? AND arm = 'treatment'
          AND ts + INTERVAL ({int(window)}) DAY <= CAST(? AS TIMESTAMP)),{_CAUSED}"""
    limit = datetime.combine(end + timedelta(days=1), time())
    unit = f"playbook:{playbook}:step:{step}"
    return _count(store, purchases, sql, [unit, limit, cause, cause])
