"""A tick's first two moves on the working copy of the journeys (``lb_pb_w``): exits, entries.

:func:`mark_exits` ends active journeys whose customer bought (``exit_when``) or reached the
conversion goal since entry. :func:`enter` admits who the trigger and audience let in
(``entry.entry_sql``), each assigned to treatment, the playbook's holdout or the global holdout
(salted hash, stable), with the assignment and held-out ledger rows of the tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from livebase.config import LivebaseConfig
from livebase.features import sql_string
from livebase.measure.assignment import assignment_sql
from livebase.orchestrate.entry import entry_sql, ts_sql
from livebase.orchestrate.frame import checked_rule
from livebase.orchestrate.plan_types import PlaybookCounts, StateTables
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.tick_sql import days_sql

__all__ = ["enter", "mark_exits"]


def mark_exits(con: Any, playbooks: Sequence[Playbook], t: str) -> None:
    for pb in playbooks:
        checks: list[tuple[str, str]] = []
        conv = pb.conversion
        for event in [conv.event, *pb.exit_when]:
            reason = "converted" if event == conv.event and not checks else event
            window = (
                f" AND {{ts}} <= w.entered_at + INTERVAL {conv.window_days} DAY"
                if reason == "converted"
                else ""
            )
            if event == "purchase":
                exists = (
                    "EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = w.customer_id "
                    f"AND o.paid_amount > 0 AND o.paid_at > w.entered_at AND o.paid_at <= {t}"
                    + window.format(ts="o.paid_at")
                    + ")"
                )
            else:
                exists = (
                    "EXISTS (SELECT 1 FROM events e WHERE e.customer_id = w.customer_id "
                    f"AND e.name = {sql_string(event)} AND e.ts > w.entered_at AND e.ts <= {t}"
                    + window.format(ts="e.ts")
                    + ")"
                )
            checks.append((exists, reason))
        whens = " ".join(f"WHEN {e} THEN {sql_string(r)}" for e, r in checks)
        con.execute(
            f"""UPDATE lb_pb_w w SET state = 'exited', exit_reason = r.reason, exited_at = {t},
                next_step = NULL, next_due_at = NULL, changed = TRUE
            FROM (SELECT customer_id, occurrence, CASE {whens} END AS reason
                  FROM lb_pb_w w WHERE w.playbook = {sql_string(pb.name)} AND w.state = 'active') r
            WHERE w.playbook = {sql_string(pb.name)} AND w.customer_id = r.customer_id
              AND w.occurrence = r.occurrence AND r.reason IS NOT NULL"""
        )


def enter(
    con: Any,
    config: LivebaseConfig,
    pb: Playbook,
    as_of: datetime,
    state: StateTables,
    counts: PlaybookCounts,
) -> None:
    t = ts_sql(as_of)
    audience = pb.audience
    where = checked_rule(config, audience.where, "audience.where")
    exclude = checked_rule(
        config, audience.exclude.where if audience.exclude else None, "audience.exclude.where"
    )
    # journeys already running or past, plus this tick's exits (the working copy wins)
    journeys = f"""(SELECT customer_id, playbook, occurrence, entered_at, state
        FROM {state.journeys} j WHERE playbook = {sql_string(pb.name)} AND NOT EXISTS (
            SELECT 1 FROM lb_pb_w w WHERE w.customer_id = j.customer_id
              AND w.playbook = j.playbook AND w.occurrence = j.occurrence)
        UNION ALL SELECT customer_id, playbook, occurrence, entered_at, state FROM lb_pb_w)"""
    sql = entry_sql(pb, as_of, journeys=journeys, where=where, exclude_where=exclude)
    marketing = pb.purpose == "marketing"
    g = config.policy.global_holdout if marketing else 0.0
    global_arm = (
        f"({assignment_sql('e.customer_id', config.policy.global_salt, {'holdout': g, 'eligible': 1 - g})})"
        if g > 0
        else "'eligible'"
    )
    h = pb.holdout if marketing else 0.0
    pb_arm = (
        f"({assignment_sql('e.customer_id', pb.holdout_salt, {'treatment': 1 - h, 'holdout': h})})"
        if h > 0
        else "'treatment'"
    )
    first = pb.steps[0]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_enter AS
        SELECT e.customer_id, e.occurrence, {global_arm} AS g_arm, {pb_arm} AS p_arm
        FROM ({sql}) e WHERE e.reason = 'enters'"""
    )
    arm = "CASE WHEN g_arm = 'holdout' THEN 'global_holdout' ELSE p_arm END"
    first_due = f"{t} + {days_sql(str(first.after_days))}"
    con.execute(
        f"""INSERT INTO lb_pb_w
        SELECT customer_id, {sql_string(pb.name)}, occurrence, {t}, {arm},
               CASE WHEN {arm} = 'treatment' THEN 'active' ELSE 'held_out' END,
               NULL, CASE WHEN {arm} = 'treatment' THEN {sql_string(first.id)} END,
               CASE WHEN {arm} = 'treatment' THEN {first_due} END, NULL, NULL,
               CASE WHEN {arm} = 'treatment' THEN 0 END, TRUE
        FROM lb_pb_enter"""
    )
    key = f"customer_id || '|' || {sql_string(pb.name)} || '|' || occurrence || '|' || {sql_string(first.id)}"
    con.execute(
        f"""INSERT INTO lb_pb_new_ledger
        SELECT {key} || ':held_out', {key}, customer_id, {sql_string(pb.name)}, occurrence,
               {sql_string(first.id)}, {sql_string(first.channel)}, 'held_out',
               CASE WHEN g_arm = 'holdout' THEN 'global_holdout' ELSE 'playbook_holdout' END,
               0.0, {t}
        FROM lb_pb_enter WHERE g_arm = 'holdout' OR p_arm = 'holdout'"""
    )
    if marketing and g > 0:
        con.execute(
            f"""INSERT INTO lb_pb_new_assign
            SELECT 'global', customer_id, 0, g_arm, {g}, {sql_string(config.policy.global_salt)}, {t}
            FROM lb_pb_enter e WHERE NOT EXISTS (SELECT 1 FROM {state.assignments} a
                WHERE a.unit = 'global' AND a.customer_id = e.customer_id)"""
        )
    con.execute(
        f"""INSERT INTO lb_pb_new_assign
        SELECT {sql_string("playbook:" + pb.name)}, customer_id, occurrence, p_arm, {h},
               {sql_string(pb.holdout_salt)}, {t}
        FROM lb_pb_enter WHERE g_arm <> 'holdout'"""
    )
    entered, held_out = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE g_arm = 'holdout' OR p_arm = 'holdout') "
        "FROM lb_pb_enter"
    ).fetchall()[0]
    counts.entered, counts.held_out = int(entered), int(held_out)
