"""The planner: one tick as of a moment, set-based SQL over DuckDB, a plan as tables.

:func:`plan_tick` reads the analytics store (customers, orders, events, segment history) and
the state tables (journeys, ledger, assignments, consents, suppressions; local time, see
:class:`StateTables`) and computes, without writing anything:

1. **exits**: active journeys whose customer bought (``exit_when``) or converted since entry;
2. **entries**: who the trigger and audience admit (``entry.candidates_sql``, then the
   journey limits of ``entry.limits_reason_sql``), each assigned to
   treatment, the playbook's holdout or the global holdout (salted hash, stable);
3. **due steps**, in passes (a skipped step lets the next one come due): conditions on earlier
   steps, per-step holdout, stop rules, contact, suppression, consent (``steps``); then quiet
   hours in the customer's zone (moved to the next allowed minute, DST included, never
   dropped) and caps with arbitration (``caps``), then ``on_capped``: skip, defer (once, to
   when the cap frees; capped again: skipped) or next_step.

The result (:class:`TickPlan`) holds the journeys to upsert, assignments, outbox rows and
ledger rows (event ids ``<outbox key>:<type>``), every time in local time; ``sink`` writes it
to the operational store in one transaction, or to replay's scratch tables. Same inputs, same
plan: nothing reads a clock, and a second tick at the same moment finds nothing new to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from livebase.config import LivebaseConfig
from livebase.features import sql_string
from livebase.orchestrate.advancing import advance
from livebase.orchestrate.entering import enter, mark_exits
from livebase.orchestrate.entry import ts_sql
from livebase.orchestrate.frame import build_frame
from livebase.orchestrate.plan_types import STATE_DDL, PlaybookCounts, StateTables, TickPlan
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.step_tables import load_step_tables
from livebase.store import Store

__all__ = ["STATE_DDL", "PlaybookCounts", "StateTables", "TickPlan", "plan_tick"]


def plan_tick(
    store: Store,
    config: LivebaseConfig,
    playbooks: Sequence[Playbook],
    as_of: datetime,
    *,
    state: StateTables = StateTables(),
    paused: Sequence[str] = (),
    frame_builder: Callable[[date], object] | None = None,
) -> TickPlan:
    """Plan one tick as of ``as_of`` (aware, or naive local time); see the module docstring.

    ``paused`` playbooks take no new entries and plan no steps (their journeys wait).
    ``frame_builder(day)`` makes the customer frame (``frame.FRAME``) as of the tick's day:
    ``build_frame`` by default; replay passes its frame carried from day to day.
    """
    tz = config.timezone
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    con = store.con
    t = ts_sql(as_of)
    active = [pb for pb in playbooks if pb.name not in set(paused)]
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {state.suppressions} {STATE_DDL['suppressions']}")
    if frame_builder is None:
        build_frame(store, config, as_of.date())
    else:
        frame_builder(as_of.date())
    load_step_tables(con, active, config)
    counts = {pb.name: PlaybookCounts() for pb in active}
    for name, ddl in (
        ("lb_pb_new_assign", STATE_DDL["assignments"]),
        ("lb_pb_new_ledger", STATE_DDL["ledger"]),
        ("lb_pb_new_outbox", STATE_DDL["outbox"]),
    ):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} {ddl}")
    names = ", ".join(sql_string(pb.name) for pb in active) or "NULL"
    # working copy of the running journeys
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_w AS
        SELECT j.customer_id, j.playbook, j.occurrence, j.entered_at, j.arm, j.state,
               j.current_step, j.next_step, j.next_due_at, j.exit_reason, j.exited_at,
               s.idx, FALSE AS changed
        FROM {state.journeys} j LEFT JOIN lb_pb_steps s
          ON s.playbook = j.playbook AND s.step = j.next_step
        WHERE j.state = 'active' AND j.playbook IN ({names})"""
    )
    for name, exited in mark_exits(con, active, t).items():
        counts[name].exited = exited
    enter(con, config, active, as_of, state, counts)
    advance(con, config, active, as_of, state)
    con.execute(
        """UPDATE lb_pb_w SET state = 'completed', next_step = NULL, next_due_at = NULL
        WHERE state = 'active' AND idx IS NULL AND changed"""
    )
    # in no particular order: sorting them was up to a tenth of a tick, and only the write to
    # the operational store wants its keys in order (``sink.write_plan`` sorts there)
    journeys = con.sql(
        "SELECT customer_id, playbook, occurrence, entered_at, arm, state, current_step, "
        "next_step, next_due_at, exit_reason, exited_at FROM lb_pb_w WHERE changed"
    ).to_arrow_table()
    outbox = con.sql("SELECT * FROM lb_pb_new_outbox").to_arrow_table()
    ledger = con.sql("SELECT DISTINCT ON (event_id) * FROM lb_pb_new_ledger").to_arrow_table()
    assignments = con.sql(
        "SELECT DISTINCT ON (unit, customer_id, occurrence) * FROM lb_pb_new_assign"
    ).to_arrow_table()
    tally(con, counts)
    return TickPlan(as_of, journeys, assignments, outbox, ledger, counts)


def tally(con: Any, counts: Mapping[str, PlaybookCounts]) -> None:
    rows = con.execute(
        """SELECT playbook, type, coalesce(reason, '') AS reason, channel, count(*), sum(cost)
        FROM lb_pb_new_ledger GROUP BY ALL"""
    ).fetchall()
    for playbook, kind, reason, channel, n, cost in rows:
        c = counts.get(str(playbook))
        if c is None:
            continue
        n = int(n)
        if kind == "planned":
            c.planned[str(channel)] = c.planned.get(str(channel), 0) + n
            c.cost += float(cost or 0.0)
        elif kind == "capped":
            c.capped += n
            if reason.startswith("arbitration:"):
                c.arbitrated += n
        elif kind == "deferred":
            c.deferred += n
        elif kind == "held_out" and reason == "step_holdout":
            c.held_out += n
        elif kind == "skipped":
            if reason.startswith("suppressed"):
                c.suppressed += n
            elif reason == "no_consent":
                c.no_consent += n
            elif reason == "no_contact":
                c.no_contact += n
            else:
                c.skipped += n
