"""A tick's first two moves on the working copy of the journeys (``lb_pb_w``): exits, entries.

Both are set-based over **all** playbooks at once (a handful of statements per tick, whatever
the number of playbooks). :func:`mark_exits` ends active journeys whose customer bought
(``exit_when``) or reached the conversion goal since entry: each journey's first purchase
and first exit event after its entry, joined with the playbooks' exit rules (a VALUES
table). :func:`enter` admits who the trigger and audience let in (``entry.candidates_sql``
of every playbook as one UNION ALL, then the journey limits),
each assigned to treatment, the playbook's holdout or the global holdout (salted hash,
stable), with the assignment and held-out ledger rows of the tick.

>>> from livebase.orchestrate.playbook import Playbook
>>> pb = Playbook.model_validate({"name": "w", "trigger": {"inactivity_days": 60},
...     "exit_when": ["purchase", "lesson_missed"], "steps": [{"id": "e", "channel": "email"}]})
>>> exit_rules([pb])
[('w', 0, 'purchase', 'converted', 14), ('w', 1, 'purchase', 'purchase', None), ('w', 2, 'lesson_missed', 'lesson_missed', None)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from livebase.config import LivebaseConfig
from livebase.features import sql_string
from livebase.measure.assignment import arm_bounds, hash32_sql
from livebase.orchestrate.entry import (
    candidates_sql,
    entry_limits,
    journey_summary_columns,
    limits_reason_sql,
    ts_sql,
)
from livebase.orchestrate.frame import FRAME, checked_rule
from livebase.orchestrate.plan_types import PlaybookCounts, StateTables
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.tick_sql import days_sql

__all__ = ["enter", "exit_rules", "mark_exits"]


def exit_rules(playbooks: Sequence[Playbook]) -> list[tuple[str, int, str, str, int | None]]:
    """(playbook, order, event, reason, conversion window in days or None) of every exit check.

    The first rule is the conversion goal (reason ``converted``, within its window); then each
    ``exit_when`` event, ending the journey whenever it happens. The first rule that holds
    gives the reason.
    """
    rules: list[tuple[str, int, str, str, int | None]] = []
    for pb in playbooks:
        conv = pb.conversion
        for order, event in enumerate([conv.event, *pb.exit_when]):
            converted = order == 0
            rules.append(
                (pb.name, order, event, "converted" if converted else event,
                 conv.window_days if converted else None)
            )  # fmt: skip
    return rules


def mark_exits(con: Any, playbooks: Sequence[Playbook], t: str) -> dict[str, int]:
    """End the active journeys of ``lb_pb_w`` that an exit rule ends by ``t``; exits per playbook."""
    rules = exit_rules(playbooks)
    if not rules:
        return {}
    values = ", ".join(
        f"({sql_string(name)}, {order}, {sql_string(event)}, {sql_string(reason)}, "
        f"{'NULL' if window is None else window})"
        for name, order, event, reason, window in rules
    )
    (earliest,) = con.execute(
        "SELECT min(entered_at) FROM lb_pb_w WHERE state = 'active'"
    ).fetchall()[0]
    since = "" if earliest is None else ts_sql(earliest)
    events = sorted({event for _, _, event, _, _ in rules if event != "purchase"})
    # the first purchase and the first of each exit event after each journey's entry: a rule
    # holds when that first one falls within its window (before ``t`` for a plain exit)
    firsts = f"""SELECT w.customer_id, w.playbook, w.occurrence, w.entered_at,
                   'purchase' AS event, min(o.paid_at) AS first_at
            FROM lb_pb_w w JOIN orders o ON o.customer_id = w.customer_id
            WHERE w.state = 'active' AND o.paid_amount > 0 AND o.paid_at > w.entered_at
              AND o.paid_at <= {t}{f" AND o.paid_at > {since}" if since else ""}
            GROUP BY ALL"""
    if events:
        firsts += f"""
            UNION ALL
            SELECT w.customer_id, w.playbook, w.occurrence, w.entered_at, e.name, min(e.ts)
            FROM lb_pb_w w JOIN events e ON e.customer_id = w.customer_id
            WHERE w.state = 'active' AND e.name IN ({", ".join(map(sql_string, events))})
              AND e.ts > w.entered_at AND e.ts <= {t}{f" AND e.ts > {since}" if since else ""}
            GROUP BY ALL"""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_exits AS
        WITH r(playbook, ord, event, reason, window_days) AS (VALUES {values}),
        f AS ({firsts}),
        hits AS (
            SELECT f.customer_id, f.playbook, f.occurrence, r.ord, r.reason
            FROM f JOIN r ON r.playbook = f.playbook AND r.event = f.event
            WHERE r.window_days IS NULL OR f.first_at <= f.entered_at + to_days(r.window_days)
        )
        SELECT customer_id, playbook, occurrence, arg_min(reason, ord) AS reason
        FROM hits GROUP BY customer_id, playbook, occurrence"""
    )
    con.execute(
        f"""UPDATE lb_pb_w w SET state = 'exited', exit_reason = x.reason, exited_at = {t},
            next_step = NULL, next_due_at = NULL, changed = TRUE
        FROM lb_pb_exits x WHERE w.customer_id = x.customer_id AND w.playbook = x.playbook
          AND w.occurrence = x.occurrence AND w.state = 'active'"""
    )
    rows = con.execute("SELECT playbook, count(*) FROM lb_pb_exits GROUP BY playbook").fetchall()
    return {str(name): int(n) for name, n in rows}


_INACTIVE = "lb_pb_inactive"
"""The frame rows inside some inactivity trigger's window (one scan for all such playbooks)."""


def _inactivity_window(pb: Playbook) -> str | None:
    """``recency_days BETWEEN n AND n + catch-up`` of an inactivity trigger, else None."""
    n = pb.trigger.inactivity_days
    if pb.trigger.kind != "inactivity" or n is None:
        return None
    return f"recency_days BETWEEN {n} AND {n + pb.trigger.catch_up_days}"


def _candidates_sql(config: LivebaseConfig, pb: Playbook, as_of: datetime) -> str:
    """Who the trigger and audience of ``pb`` admit (a branch of the tick's UNION ALL)."""
    audience = pb.audience
    where = checked_rule(config, audience.where, "audience.where")
    exclude = checked_rule(
        config, audience.exclude.where if audience.exclude else None, "audience.exclude.where"
    )
    frame = FRAME
    window = _inactivity_window(pb)
    if window is not None:  # only the triggered can enter: scan only them
        frame = f"(SELECT * FROM {_INACTIVE} WHERE {window})"
    sql = candidates_sql(pb, as_of, where=where, exclude_where=exclude, frame=frame)
    return f"SELECT {sql_string(pb.name)} AS playbook, c.* FROM ({sql}) c"


def _playbook_rows(config: LivebaseConfig, playbooks: Sequence[Playbook]) -> str:
    """VALUES of (playbook, cooldown_days, max_entries, h, salt, p_bound, g, g_bound): each
    playbook's limits and the hash bounds of its arms (treatment below ``p_bound``, global
    holdout below ``g_bound``; ``measure.assignment.arm_bounds``)."""
    rows = []
    for pb in playbooks:
        marketing = pb.purpose == "marketing"
        g = config.policy.global_holdout if marketing else 0.0
        h = pb.holdout if marketing else 0.0
        p_bound = arm_bounds({"treatment": 1 - h, "holdout": h})[0][1] if h > 0 else 2**32
        g_bound = arm_bounds({"holdout": g, "eligible": 1 - g})[0][1] if g > 0 else 0
        cooldown, most = entry_limits(pb)
        rows.append(
            f"({sql_string(pb.name)}, {cooldown}, {most}, CAST({h} AS DOUBLE), "
            f"{sql_string(pb.holdout_salt)}, CAST({p_bound} AS UBIGINT), CAST({g} AS DOUBLE), "
            f"CAST({g_bound} AS UBIGINT))"
        )
    return ", ".join(rows)


def enter(
    con: Any,
    config: LivebaseConfig,
    playbooks: Sequence[Playbook],
    as_of: datetime,
    state: StateTables,
    counts: Mapping[str, PlaybookCounts],
) -> None:
    """Admit the entrants of every playbook into ``lb_pb_w`` (see the module docstring).

    Three statements whatever the number of playbooks: the candidates the triggers and
    audiences admit, the journey summary of those candidates only (the journeys of the store
    with this tick's working copy winning), and the entrants the journey limits let in.
    """
    if not playbooks:
        return
    t = ts_sql(as_of)
    windows = [w for w in map(_inactivity_window, playbooks) if w is not None]
    if windows:  # read only by the inactivity playbooks' branches
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_INACTIVE} AS SELECT * FROM {FRAME} "
            f"WHERE {' OR '.join(f'({w})' for w in windows)}"
        )
    branches = "\n        UNION ALL ".join(_candidates_sql(config, pb, as_of) for pb in playbooks)
    con.execute(f"CREATE OR REPLACE TEMP TABLE lb_pb_cands AS {branches}")
    # the candidates' journeys first (few), then the working copy's override
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_jsum AS
        WITH mine AS MATERIALIZED (
            SELECT j.customer_id, j.playbook, j.occurrence, j.entered_at, j.state
            FROM {state.journeys} j SEMI JOIN lb_pb_cands c USING (playbook, customer_id)
        )
        SELECT playbook, customer_id, {journey_summary_columns()}
        FROM (
            SELECT j.customer_id, j.playbook, j.occurrence, j.entered_at, j.state
            FROM mine j
            WHERE NOT EXISTS (
                SELECT 1 FROM lb_pb_w w WHERE w.customer_id = j.customer_id
                  AND w.playbook = j.playbook AND w.occurrence = j.occurrence)
            UNION ALL
            SELECT w.customer_id, w.playbook, w.occurrence, w.entered_at, w.state
            FROM lb_pb_w w SEMI JOIN lb_pb_cands c USING (playbook, customer_id)
        ) GROUP BY playbook, customer_id"""
    )
    g_hash = hash32_sql("e.customer_id", sql_string(config.policy.global_salt))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_enter AS
        WITH p(playbook, cooldown_days, max_entries, h, salt, p_bound, g, g_bound) AS (
            VALUES {_playbook_rows(config, playbooks)}),
        e AS (
            SELECT c.playbook, c.customer_id, coalesce(j.max_occ, 0) + 1 AS occurrence,
                   p.h, p.salt, p.p_bound, p.g, p.g_bound,
                   {limits_reason_sql(as_of, "p.cooldown_days", "p.max_entries")} AS reason
            FROM lb_pb_cands c JOIN p USING (playbook)
            LEFT JOIN lb_pb_jsum j USING (playbook, customer_id)
        )
        SELECT e.playbook, e.customer_id, e.occurrence,
               CASE WHEN {g_hash} < e.g_bound THEN 'holdout' ELSE 'eligible' END AS g_arm,
               CASE WHEN {hash32_sql("e.customer_id", "e.salt")} < e.p_bound
                    THEN 'treatment' ELSE 'holdout' END AS p_arm,
               e.g > 0 AS global_unit, e.h, e.salt
        FROM e WHERE e.reason = 'enters'"""
    )
    arm = "CASE WHEN e.g_arm = 'holdout' THEN 'global_holdout' ELSE e.p_arm END"
    first_due = f"{t} + {days_sql('s.after_days')}"
    con.execute(
        f"""INSERT INTO lb_pb_w
        SELECT e.customer_id, e.playbook, e.occurrence, {t}, {arm},
               CASE WHEN {arm} = 'treatment' THEN 'active' ELSE 'held_out' END,
               NULL, CASE WHEN {arm} = 'treatment' THEN s.step END,
               CASE WHEN {arm} = 'treatment' THEN {first_due} END, NULL, NULL,
               CASE WHEN {arm} = 'treatment' THEN 0 END, TRUE
        FROM lb_pb_enter e JOIN lb_pb_steps s ON s.playbook = e.playbook AND s.idx = 0"""
    )
    key = "e.customer_id || '|' || e.playbook || '|' || e.occurrence || '|' || s.step"
    con.execute(
        f"""INSERT INTO lb_pb_new_ledger
        SELECT {key} || ':held_out', {key}, e.customer_id, e.playbook, e.occurrence,
               s.step, s.channel, 'held_out',
               CASE WHEN e.g_arm = 'holdout' THEN 'global_holdout' ELSE 'playbook_holdout' END,
               0.0, {t}
        FROM lb_pb_enter e JOIN lb_pb_steps s ON s.playbook = e.playbook AND s.idx = 0
        WHERE e.g_arm = 'holdout' OR e.p_arm = 'holdout'"""
    )
    g = config.policy.global_holdout
    con.execute(
        f"""INSERT INTO lb_pb_new_assign
        SELECT 'global', customer_id, 0, g_arm, {g}, {sql_string(config.policy.global_salt)}, {t}
        FROM lb_pb_enter e WHERE e.global_unit AND NOT EXISTS (
            SELECT 1 FROM {state.assignments} a
            WHERE a.unit = 'global' AND a.customer_id = e.customer_id)
        UNION ALL
        SELECT 'playbook:' || playbook, customer_id, occurrence, p_arm, h, salt, {t}
        FROM lb_pb_enter e WHERE g_arm <> 'holdout'"""
    )
    rows = con.execute(
        "SELECT playbook, count(*), count(*) FILTER (WHERE g_arm = 'holdout' OR p_arm = 'holdout') "
        "FROM lb_pb_enter GROUP BY playbook"
    ).fetchall()
    for name, entered, held_out in rows:
        counts[str(name)].entered, counts[str(name)].held_out = int(entered), int(held_out)
