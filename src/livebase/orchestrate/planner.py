"""The planner: one tick as of a moment, set-based SQL over DuckDB, a plan as tables.

:func:`plan_tick` reads the analytics store (customers, orders, events, segment history) and
the state tables (journeys, ledger, assignments, consents, suppressions; local time, see
:class:`StateTables`) and computes, without writing anything:

1. **exits**: active journeys whose customer bought (``exit_when``) or converted since entry;
2. **entries**: who the trigger and audience admit (``entry.entry_sql``), each assigned to
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from livebase.config import LivebaseConfig
from livebase.features import sql_string
from livebase.measure.assignment import assignment_sql
from livebase.orchestrate.caps import admit_in_rounds
from livebase.orchestrate.entry import entry_sql, ts_sql
from livebase.orchestrate.frame import FRAME, build_frame, rule_columns, segment_columns
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.steps import contact_fields, contact_sql, decisions_sql, frame_flags_sql
from livebase.store import Store

__all__ = ["STATE_DDL", "PlaybookCounts", "StateTables", "TickPlan", "plan_tick"]


@dataclass(frozen=True)
class StateTables:
    """DuckDB tables holding the operational state the planner reads (local time)."""

    journeys: str = "ops_journeys"
    ledger: str = "ops_send_ledger"
    assignments: str = "ops_assignments"
    consents: str = "ops_consents"
    suppressions: str = "lb_pb_suppressions"


STATE_DDL: dict[str, str] = {
    "journeys": """(customer_id VARCHAR, playbook VARCHAR, occurrence INTEGER,
        entered_at TIMESTAMP, arm VARCHAR, state VARCHAR, current_step VARCHAR,
        next_step VARCHAR, next_due_at TIMESTAMP, exit_reason VARCHAR, exited_at TIMESTAMP)""",
    "ledger": """(event_id VARCHAR, message_key VARCHAR, customer_id VARCHAR,
        playbook VARCHAR, occurrence INTEGER, step VARCHAR, channel VARCHAR, type VARCHAR,
        reason VARCHAR, cost DOUBLE, ts TIMESTAMP)""",
    "assignments": """(unit VARCHAR, customer_id VARCHAR, occurrence INTEGER, arm VARCHAR,
        holdout_share DOUBLE, salt VARCHAR, ts TIMESTAMP)""",
    "consents": """(id BIGINT, customer_id VARCHAR, channel VARCHAR, purpose VARCHAR,
        status VARCHAR, ts TIMESTAMP)""",
    "suppressions": """(address_hash VARCHAR, channel VARCHAR, customer_id VARCHAR,
        reason VARCHAR, expires_at TIMESTAMP)""",
    "outbox": """(key VARCHAR, customer_id VARCHAR, playbook VARCHAR, occurrence INTEGER,
        step VARCHAR, channel VARCHAR, purpose VARCHAR, template VARCHAR, offer VARCHAR,
        variant VARCHAR, priority INTEGER, due_at TIMESTAMP)""",
}
"""Column lists of the state tables and of the plan's outputs."""


@dataclass
class PlaybookCounts:
    """What a tick did for one playbook (the ``livebase run`` table)."""

    entered: int = 0
    held_out: int = 0
    planned: dict[str, int] = field(default_factory=dict)
    capped: int = 0
    deferred: int = 0
    suppressed: int = 0
    no_consent: int = 0
    no_contact: int = 0
    skipped: int = 0
    exited: int = 0
    cost: float = 0.0


@dataclass(frozen=True)
class TickPlan:
    """A tick's decisions as Arrow tables (local times) and the counts per playbook."""

    as_of: datetime
    journeys: pa.Table
    assignments: pa.Table
    outbox: pa.Table
    ledger: pa.Table
    counts: dict[str, PlaybookCounts]


def _q(text: str) -> str:
    return sql_string(text)


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _setup(con: Any, playbooks: Sequence[Playbook], config: LivebaseConfig) -> None:
    """Static tables: steps and conditions of the playbooks."""
    policy_on_capped = config.policy.on_capped
    rows = []
    conds = []
    for pb in playbooks:
        for idx, step in enumerate(pb.steps):
            nxt = pb.steps[idx + 1].after_days if idx + 1 < len(pb.steps) else None
            cost = config.channels[step.channel].cost if step.channel in config.channels else 0.0
            rows.append(
                {
                    "playbook": pb.name,
                    "idx": idx,
                    "step": step.id,
                    "channel": step.channel,
                    "template": step.template,
                    "offer": step.offer,
                    "after_days": step.after_days,
                    "holdout": step.holdout,
                    "purpose": pb.purpose,
                    "priority": pb.priority,
                    "on_capped": pb.on_capped or policy_on_capped,
                    "n_steps": len(pb.steps),
                    "cost": float(cost),
                    "next_after": nxt,
                    "salt": f"{pb.holdout_salt}:step:{step.id}",
                }
            )
            cond = step.only_if
            if cond is None:
                continue
            for kind in ("not_opened", "not_clicked", "no_reaction"):
                for ref in getattr(cond, kind) or []:
                    conds.append({"playbook": pb.name, "idx": idx, "kind": kind, "ref": ref})
            if cond.no_purchase:
                conds.append({"playbook": pb.name, "idx": idx, "kind": "no_purchase", "ref": ""})
            if cond.no_event:
                conds.append(
                    {"playbook": pb.name, "idx": idx, "kind": "no_event", "ref": cond.no_event}
                )
    steps = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("playbook", pa.string()),
                ("idx", pa.int32()),
                ("step", pa.string()),
                ("channel", pa.string()),
                ("template", pa.string()),
                ("offer", pa.string()),
                ("after_days", pa.float64()),
                ("holdout", pa.float64()),
                ("purpose", pa.string()),
                ("priority", pa.int32()),
                ("on_capped", pa.string()),
                ("n_steps", pa.int32()),
                ("cost", pa.float64()),
                ("next_after", pa.float64()),
                ("salt", pa.string()),
            ]
        ),
    )
    conditions = pa.Table.from_pylist(
        conds,
        schema=pa.schema(
            [("playbook", pa.string()), ("idx", pa.int32()), ("kind", pa.string()),
             ("ref", pa.string())]
        ),
    )  # fmt: skip
    _table_from_arrow(con, "lb_pb_steps", steps)
    _table_from_arrow(con, "lb_pb_conds", conditions)


def _table_from_arrow(con: Any, name: str, table: pa.Table) -> None:
    con.register("lb_pb_arrow", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM lb_pb_arrow")
    finally:
        con.unregister("lb_pb_arrow")


def _checked(config: LivebaseConfig, condition: str | None, name: str) -> str | None:
    if not condition:
        return None
    from livebase.segments.rules import check_condition

    return check_condition(condition, rule_columns(config), rule=name)


def _days(column: str) -> str:
    return f"to_microseconds(CAST(round({column} * 86400000000) AS BIGINT))"


def plan_tick(
    store: Store,
    config: LivebaseConfig,
    playbooks: Sequence[Playbook],
    as_of: datetime,
    *,
    state: StateTables = StateTables(),
    paused: Sequence[str] = (),
) -> TickPlan:
    """Plan one tick as of ``as_of`` (aware, or naive local time); see the module docstring.

    ``paused`` playbooks take no new entries and plan no steps (their journeys wait).
    """
    tz = config.timezone
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    con = store.con
    t = ts_sql(as_of)
    active = [pb for pb in playbooks if pb.name not in set(paused)]
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {state.suppressions} {STATE_DDL['suppressions']}")
    build_frame(store, config, as_of.date())
    _setup(con, active, config)
    counts = {pb.name: PlaybookCounts() for pb in active}
    for name, ddl in (
        ("lb_pb_new_assign", STATE_DDL["assignments"]),
        ("lb_pb_new_ledger", STATE_DDL["ledger"]),
        ("lb_pb_new_outbox", STATE_DDL["outbox"]),
    ):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} {ddl}")
    names = ", ".join(_q(pb.name) for pb in active) or "NULL"
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
    _exits(con, active, t)
    for pb in active:
        counts[pb.name].exited = _count(
            con, f"SELECT count(*) FROM lb_pb_w WHERE changed AND playbook = {_q(pb.name)}"
        )
    for pb in active:
        _enter(con, config, pb, as_of, state, counts[pb.name])
    _advance(con, config, active, as_of, state)
    con.execute(
        """UPDATE lb_pb_w SET state = 'completed', next_step = NULL, next_due_at = NULL
        WHERE state = 'active' AND idx IS NULL AND changed"""
    )
    journeys = con.sql(
        "SELECT customer_id, playbook, occurrence, entered_at, arm, state, current_step, "
        "next_step, next_due_at, exit_reason, exited_at FROM lb_pb_w WHERE changed "
        "ORDER BY playbook, customer_id, occurrence"
    ).to_arrow_table()
    outbox = con.sql("SELECT * FROM lb_pb_new_outbox ORDER BY key").to_arrow_table()
    ledger = con.sql(
        "SELECT DISTINCT ON (event_id) * FROM lb_pb_new_ledger ORDER BY event_id"
    ).to_arrow_table()
    assignments = con.sql(
        "SELECT DISTINCT ON (unit, customer_id, occurrence) * FROM lb_pb_new_assign "
        "ORDER BY unit, customer_id, occurrence"
    ).to_arrow_table()
    _tally(con, counts)
    return TickPlan(as_of, journeys, assignments, outbox, ledger, counts)


def _count(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchall()[0]
    return int(row[0]) if row and row[0] is not None else 0


def _exits(con: Any, playbooks: Sequence[Playbook], t: str) -> None:
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
                    f"AND e.name = {_q(event)} AND e.ts > w.entered_at AND e.ts <= {t}"
                    + window.format(ts="e.ts")
                    + ")"
                )
            checks.append((exists, reason))
        whens = " ".join(f"WHEN {e} THEN {_q(r)}" for e, r in checks)
        con.execute(
            f"""UPDATE lb_pb_w w SET state = 'exited', exit_reason = r.reason, exited_at = {t},
                next_step = NULL, next_due_at = NULL, changed = TRUE
            FROM (SELECT customer_id, occurrence, CASE {whens} END AS reason
                  FROM lb_pb_w w WHERE w.playbook = {_q(pb.name)} AND w.state = 'active') r
            WHERE w.playbook = {_q(pb.name)} AND w.customer_id = r.customer_id
              AND w.occurrence = r.occurrence AND r.reason IS NOT NULL"""
        )


def _enter(
    con: Any,
    config: LivebaseConfig,
    pb: Playbook,
    as_of: datetime,
    state: StateTables,
    counts: PlaybookCounts,
) -> None:
    t = ts_sql(as_of)
    audience = pb.audience
    where = _checked(config, audience.where, "audience.where")
    exclude = _checked(
        config, audience.exclude.where if audience.exclude else None, "audience.exclude.where"
    )
    # journeys already running or past, plus this tick's exits (the working copy wins)
    journeys = f"""(SELECT customer_id, playbook, occurrence, entered_at, state
        FROM {state.journeys} j WHERE playbook = {_q(pb.name)} AND NOT EXISTS (
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
    first_due = f"{t} + {_days(str(first.after_days))}"
    con.execute(
        f"""INSERT INTO lb_pb_w
        SELECT customer_id, {_q(pb.name)}, occurrence, {t}, {arm},
               CASE WHEN {arm} = 'treatment' THEN 'active' ELSE 'held_out' END,
               NULL, CASE WHEN {arm} = 'treatment' THEN {_q(first.id)} END,
               CASE WHEN {arm} = 'treatment' THEN {first_due} END, NULL, NULL,
               CASE WHEN {arm} = 'treatment' THEN 0 END, TRUE
        FROM lb_pb_enter"""
    )
    key = f"customer_id || '|' || {_q(pb.name)} || '|' || occurrence || '|' || {_q(first.id)}"
    con.execute(
        f"""INSERT INTO lb_pb_new_ledger
        SELECT {key} || ':held_out', {key}, customer_id, {_q(pb.name)}, occurrence,
               {_q(first.id)}, {_q(first.channel)}, 'held_out',
               CASE WHEN g_arm = 'holdout' THEN 'global_holdout' ELSE 'playbook_holdout' END,
               0.0, {t}
        FROM lb_pb_enter WHERE g_arm = 'holdout' OR p_arm = 'holdout'"""
    )
    if marketing and g > 0:
        con.execute(
            f"""INSERT INTO lb_pb_new_assign
            SELECT 'global', customer_id, 0, g_arm, {g}, {_q(config.policy.global_salt)}, {t}
            FROM lb_pb_enter e WHERE NOT EXISTS (SELECT 1 FROM {state.assignments} a
                WHERE a.unit = 'global' AND a.customer_id = e.customer_id)"""
        )
    con.execute(
        f"""INSERT INTO lb_pb_new_assign
        SELECT {_q("playbook:" + pb.name)}, customer_id, occurrence, p_arm, {h},
               {_q(pb.holdout_salt)}, {t}
        FROM lb_pb_enter WHERE g_arm <> 'holdout'"""
    )
    counts.entered = _count(con, "SELECT count(*) FROM lb_pb_enter")
    counts.held_out = _count(
        con, "SELECT count(*) FROM lb_pb_enter WHERE g_arm = 'holdout' OR p_arm = 'holdout'"
    )


def _quiet_hours(
    con: Any, config: LivebaseConfig, as_of: datetime, zones: list[str]
) -> dict[str, datetime]:
    """Zone → the local (workspace) time a message due at ``as_of`` may go out."""
    from livebase.orchestrate.send_check import next_allowed

    quiet = config.policy.quiet_hours
    ws = ZoneInfo(config.timezone)
    due_utc = as_of.replace(tzinfo=ws).astimezone(ZoneInfo("UTC"))
    out: dict[str, datetime] = {}
    for zone in zones:
        name = zone if zone and _zone_ok(zone) else config.timezone
        moved = None if quiet is None else next_allowed(due_utc, quiet, name)
        out[zone] = as_of if moved is None else moved.astimezone(ws).replace(tzinfo=None)
    return out


def _advance(
    con: Any,
    config: LivebaseConfig,
    playbooks: Sequence[Playbook],
    as_of: datetime,
    state: StateTables,
) -> None:
    """Process due steps in passes until none is due (at most one pass per step)."""
    if not playbooks:
        return
    t = ts_sql(as_of)
    policy = config.policy
    stop_rules: dict[str, list[str]] = {}
    for pb in playbooks:
        rules = [*pb.stop_rules, *(policy.stop_rules if pb.purpose == "marketing" else [])]
        stop_rules[pb.name] = [
            _checked(config, r, f"stop_rules.{i}") or "FALSE" for i, r in enumerate(rules)
        ]
    seg_cols = list(segment_columns(config).values())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lb_pb_flags AS "
        + frame_flags_sql(playbooks, stop_rules, seg_cols, FRAME)
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lb_pb_res (customer_id VARCHAR, channel VARCHAR, "
        "ts TIMESTAMP, playbook VARCHAR, tick BOOLEAN)"
    )
    marketing = [pb.name for pb in playbooks if pb.purpose == "marketing"]
    con.execute(
        f"""INSERT INTO lb_pb_res
        SELECT l.customer_id, l.channel, l.ts, l.playbook, FALSE FROM {state.ledger} l
        WHERE l.type = 'planned' AND coalesce(l.reason, 'marketing') = 'marketing'
          AND l.ts > {t} - INTERVAL 400 DAY
          AND NOT EXISTS (SELECT 1 FROM {state.ledger} c WHERE c.message_key = l.message_key
                          AND c.type = 'cancelled')"""
    )
    contact = contact_sql(contact_fields(config.channels))
    columns = "event_id, message_key, customer_id, playbook, occurrence, step, channel, type, ts"
    ledger = (
        f"(SELECT {columns} FROM {state.ledger} UNION ALL SELECT {columns} FROM lb_pb_new_ledger)"
    )
    max_steps = max(len(pb.steps) for pb in playbooks)
    for _ in range(max_steps + 1):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE lb_pb_dec AS "
            + decisions_sql(
                playbooks,
                as_of,
                work="lb_pb_w",
                steps="lb_pb_steps",
                conditions="lb_pb_conds",
                ledger=ledger,
                consents=state.consents,
                suppressions=state.suppressions,
                flags="lb_pb_flags",
                contact=contact,
                require_consent=policy.require_consent,
            )
        )
        if _count(con, "SELECT count(*) FROM lb_pb_dec") == 0:
            break
        zones = [r[0] for r in con.execute("SELECT DISTINCT tz FROM lb_pb_dec").fetchall()]
        moved = _quiet_hours(con, config, as_of, zones)
        quiet_rows = pa.table(
            {"tz": list(moved), "due": [moved[z] for z in moved]},
            schema=pa.schema([("tz", pa.string()), ("due", pa.timestamp("us"))]),
        )
        _table_from_arrow(con, "lb_pb_quiet", quiet_rows)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE lb_pb_cand AS
            SELECT d.key, d.customer_id, d.playbook, d.occurrence, d.idx, d.channel,
                   d.priority, d.entered_at,
                   CASE WHEN d.purpose = 'marketing' THEN q.due ELSE {t} END AS due
            FROM lb_pb_dec d JOIN lb_pb_quiet q USING (tz)
            WHERE d.outcome = 'send' AND d.purpose = 'marketing'
              AND d.playbook IN ({", ".join(_q(m) for m in marketing) or "NULL"})"""
        )
        admit_in_rounds(
            con, policy.caps, candidates="lb_pb_cand", reservations="lb_pb_res", frame=FRAME
        )
        _apply(con, as_of, ledger)


def _apply(con: Any, as_of: datetime, ledger: str) -> None:
    """Turn one pass's decisions into ledger and outbox rows and advance the journeys."""
    t = ts_sql(as_of)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_fin AS
        SELECT d.*, c.cap_reason, c.frees_at, coalesce(c.due, {t}) AS send_at,
          EXISTS (SELECT 1 FROM {ledger} l WHERE l.event_id = d.key || ':capped')
            AS capped_before
        FROM lb_pb_dec d LEFT JOIN lb_pb_cand c USING (key)"""
    )
    # outcome → action: plan | skip | hold | defer | next
    con.execute(
        """CREATE OR REPLACE TEMP TABLE lb_pb_act AS
        SELECT *, CASE
            WHEN outcome = 'held_out' THEN 'hold'
            WHEN outcome LIKE 'skip:%' THEN 'skip'
            WHEN cap_reason IS NULL THEN 'plan'
            WHEN on_capped = 'defer' AND NOT capped_before THEN 'defer'
            WHEN on_capped = 'next_step' THEN 'next'
            ELSE 'skip' END AS action
        FROM lb_pb_fin"""
    )
    cols = "key, customer_id, playbook, occurrence, step, channel"
    con.execute(
        f"""INSERT INTO lb_pb_new_ledger
        SELECT key || ':' || type, key, customer_id, playbook, occurrence, step, channel, type,
               reason, cost, ts FROM (
          SELECT {cols}, 'skipped' AS type, substr(outcome, 6) AS reason, 0.0 AS cost, {t} AS ts
          FROM lb_pb_act WHERE outcome LIKE 'skip:%'
          UNION ALL SELECT {cols}, 'held_out', 'step_holdout', 0.0, {t} FROM lb_pb_act
          WHERE outcome = 'held_out'
          UNION ALL SELECT {cols}, 'capped', cap_reason || ':' || action, 0.0, {t}
          FROM lb_pb_act WHERE cap_reason IS NOT NULL AND NOT capped_before
          UNION ALL SELECT {cols}, 'skipped', 'capped_again:' || cap_reason, 0.0, {t}
          FROM lb_pb_act WHERE cap_reason IS NOT NULL AND capped_before
          UNION ALL SELECT {cols}, 'deferred', 'quiet_hours', 0.0, {t} FROM lb_pb_act
          WHERE action = 'plan' AND send_at > {t}
          UNION ALL SELECT {cols}, 'planned', purpose, cost, send_at FROM lb_pb_act
          WHERE action = 'plan'
        ) x"""
    )
    con.execute(
        """INSERT INTO lb_pb_new_outbox BY NAME
        SELECT key, customer_id, playbook, occurrence, step, channel, purpose, template, offer,
               variant, priority, send_at AS due_at FROM lb_pb_act WHERE action = 'plan'"""
    )
    # step holdouts: everyone who reached a step with a holdout is assigned
    con.execute(
        f"""INSERT INTO lb_pb_new_assign
        SELECT 'playbook:' || a.playbook || ':step:' || a.step, a.customer_id, a.occurrence,
               a.step_arm, s.holdout, s.salt, {t}
        FROM lb_pb_act a JOIN lb_pb_steps s USING (playbook, idx)
        WHERE s.holdout > 0 AND a.cond_fail IS NULL AND a.purpose = 'marketing'"""
    )
    nxt = _days("next_after")
    con.execute(
        f"""UPDATE lb_pb_w w SET changed = TRUE,
            current_step = CASE WHEN a.action = 'plan' THEN a.step ELSE w.current_step END,
            idx = CASE WHEN a.action = 'defer' THEN a.idx
                       WHEN a.idx + 1 < a.n_steps THEN a.idx + 1 END,
            next_due_at = CASE
                WHEN a.action = 'defer' THEN coalesce(a.frees_at, {t} + INTERVAL 1 DAY)
                WHEN a.idx + 1 >= a.n_steps THEN NULL
                WHEN a.action = 'next' THEN {t}
                WHEN a.action = 'plan' THEN a.send_at + {nxt}
                ELSE a.next_due_at + {nxt} END
        FROM lb_pb_act a
        WHERE w.customer_id = a.customer_id AND w.playbook = a.playbook
          AND w.occurrence = a.occurrence"""
    )
    con.execute(
        """UPDATE lb_pb_w w SET next_step = s.step FROM lb_pb_steps s
        WHERE w.changed AND s.playbook = w.playbook AND s.idx = w.idx"""
    )
    con.execute(
        """UPDATE lb_pb_w SET state = 'completed', next_step = NULL, next_due_at = NULL
        WHERE changed AND state = 'active' AND idx IS NULL"""
    )


def _tally(con: Any, counts: Mapping[str, PlaybookCounts]) -> None:
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


def local_to_utc(moment: datetime, timezone: str) -> datetime:
    """A local (workspace) naive time as an aware UTC datetime."""
    return moment.replace(tzinfo=ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))
