"""Plan-time caps and arbitration: rolling windows over reservations, set-based in DuckDB.

A reservation is a planned marketing message (ledger ``planned``, not cancelled) or one
admitted earlier in the same tick. A candidate at time ``t`` passes a cap ``max per W`` when
fewer than ``max`` reservations of the customer (on the cap's channel, or any) lie strictly
within ``W`` of ``t`` on either side. So every half-open window ``[s, s + W)`` holds at most
``max`` messages, wherever it starts (no midnight loophole), even when quiet hours pushed a
reservation into the future.

Arbitration: a customer's candidates of one tick are admitted in rounds, best first: higher
``priority``, then earlier entry, then playbook name and step. A candidate refused by a cap
filled by a better candidate of another playbook this tick lost the arbitration: its reason
reads ``arbitration:<winner>:<cap>``; otherwise ``cap:<channel>:<max>/<per>``. With an
arbitration window ``W`` (``policy.arbitration_window``), a candidate is also refused when
another playbook holds a reservation of the customer strictly within ``W`` of it (a cap of one
message per ``W`` that counts only the other playbooks): reason
``arbitration:<holder>:window:<W>``. So no customer gets marketing messages of two playbooks
within ``W``; within a tick the better candidate wins, and a message planned at an earlier
tick keeps its place.

>>> from livebase.orchestrate.settings import CapRule
>>> cap_code(CapRule(channel="email", max=2, per="7d"))
'cap:email:2/7d'
>>> allowed_at([0.0, 3.0], 5.0, max_=2, window=7.0)
False
>>> allowed_at([0.0, 3.0], 7.0, max_=2, window=7.0)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import duckdb

from livebase.orchestrate.entry import segments_sql
from livebase.orchestrate.settings import CapRule

__all__ = ["admit_in_rounds", "allowed_at", "cap_code"]

_WINDOW_RULE = -1
"""``rule_no`` of the arbitration window among the caps (checked first)."""


def cap_code(rule: CapRule) -> str:
    """The stable reason code of a cap."""
    segs = ""
    if rule.segments:
        segs = "[" + ";".join(f"{k}={','.join(v)}" for k, v in rule.segments.items()) + "]"
    return f"cap:{rule.channel}{segs}:{rule.max}/{rule.per}"


def allowed_at(existing: Sequence[float], t: float, *, max_: int, window: float) -> bool:
    """The pure rule on numbers: may a message at ``t`` join ``existing`` under ``max_``/``window``."""
    return sum(1 for u in existing if abs(u - t) < window) < max_


def admit_in_rounds(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[CapRule],
    *,
    candidates: str,
    source: str,
    reservations: str,
    frame: str,
    arbitration: tuple[str, timedelta] | None = None,
) -> None:
    """Decide every candidate of ``source`` into the temp table ``candidates``.

    ``source`` is a SELECT of key, customer_id, playbook, channel, due, priority, entered_at,
    occurrence, idx; ``candidates`` gets its rows with ``rk`` (the round), ``cap_reason``
    (NULL = admitted) and ``frees_at`` added. ``arbitration`` is the policy's window (as
    written, and as a duration), or None. ``reservations`` (customer_id, channel, ts,
    playbook, tick) gains the admitted ones. Per round two statements (the refusals, the
    admitted reservations), whatever the number of playbooks; the segments the caps look at
    are joined from ``frame`` once.
    """
    schemes = sorted({scheme for r in rules for scheme in (r.segments or {})})
    seg_cols = "".join(f", f.{scheme}_segment" for scheme in schemes)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_ranked AS
        SELECT c.*{seg_cols}, f.customer_id IS NOT NULL AS in_frame,
            CAST(row_number() OVER (PARTITION BY c.customer_id
                ORDER BY c.priority DESC, c.entered_at, c.playbook, c.occurrence, c.idx)
                AS INTEGER) AS rk
        FROM ({source}) c LEFT JOIN {frame} f ON f.customer_id = c.customer_id"""
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lb_pb_capfail "
        "(key VARCHAR, reason VARCHAR, frees_at TIMESTAMP)"
    )
    row = con.execute("SELECT coalesce(max(rk), 0) FROM lb_pb_ranked").fetchall()[0]
    rounds = int(row[0]) if row else 0
    if not rules and arbitration is None:
        rounds = 0
        con.execute(
            f"INSERT INTO {reservations} SELECT customer_id, channel, due, playbook, TRUE "
            "FROM lb_pb_ranked"
        )
    quote = chr(39)
    rows = [
        f"({i}, '{r.channel}', {r.max}, {int(r.window.total_seconds())}, "
        f"'{cap_code(r).replace(quote, quote * 2)}', FALSE)"
        for i, r in enumerate(rules)
    ]
    if arbitration is not None:
        written, window = arbitration
        rows.append(
            f"({_WINDOW_RULE}, 'any', 1, {int(window.total_seconds())}, "
            f"'window:{written.replace(quote, quote * 2)}', TRUE)"
        )
    values = ", ".join(rows)
    whens = " ".join(
        f"WHEN {i} THEN {segments_sql(r.segments, 'k')} IS TRUE" for i, r in enumerate(rules)
    )
    applies = f"(CASE r.rule_no {whens} ELSE TRUE END)" if whens else "TRUE"
    for rk in range(1, rounds + 1):
        con.execute(
            f"""
            INSERT INTO lb_pb_capfail
            WITH k AS (SELECT * FROM lb_pb_ranked WHERE rk = {rk} AND in_frame),
            rules(rule_no, channel, max_, seconds, code, others) AS (VALUES {values}),
            kr AS (
                SELECT k.key, k.customer_id, k.channel AS k_channel, k.due, k.playbook AS k_pb,
                       r.rule_no, r.channel, r.max_, r.seconds, r.code, r.others
                FROM k CROSS JOIN rules r
                WHERE (r.channel = 'any' OR r.channel = k.channel)
                  AND {applies}
            ),
            counted AS (
                SELECT kr.key, kr.rule_no, kr.max_, kr.seconds, kr.code, kr.others,
                       count(res.ts) AS n,
                       list_sort(list(res.ts) FILTER (WHERE res.ts <= kr.due)) AS past,
                       bool_or(res.tick AND res.playbook <> kr.k_pb) AS by_tick,
                       min(CASE WHEN res.tick AND res.playbook <> kr.k_pb THEN res.playbook END)
                           AS winner,
                       min(res.playbook) AS holder
                FROM kr LEFT JOIN {reservations} res
                  ON res.customer_id = kr.customer_id
                 AND (kr.channel = 'any' OR res.channel = kr.channel)
                 AND (NOT kr.others OR res.playbook <> kr.k_pb)
                 AND abs(epoch(res.ts) - epoch(kr.due)) < kr.seconds
                GROUP BY kr.key, kr.rule_no, kr.max_, kr.seconds, kr.code, kr.others
            )
            SELECT key, arg_min(
                    CASE WHEN others THEN 'arbitration:' || holder || ':' || code
                         WHEN by_tick THEN 'arbitration:' || winner || ':' || code
                         ELSE code END,
                    rule_no) AS reason,
                    arg_min(CASE WHEN len(past) >= n - max_ + 1 AND n - max_ + 1 >= 1
                        THEN past[n - max_ + 1] + to_seconds(seconds) END, rule_no) AS frees_at
            FROM counted WHERE n >= max_ GROUP BY key"""
        )
        con.execute(
            f"""INSERT INTO {reservations}
            SELECT customer_id, channel, due, playbook, TRUE FROM lb_pb_ranked c
            WHERE rk = {rk} AND NOT EXISTS (SELECT 1 FROM lb_pb_capfail f WHERE f.key = c.key)"""
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {candidates} AS
        SELECT c.* EXCLUDE (in_frame{"".join(f", {s}_segment" for s in schemes)}),
               f.reason AS cap_reason, f.frees_at
        FROM lb_pb_ranked c LEFT JOIN lb_pb_capfail f USING (key)"""
    )
