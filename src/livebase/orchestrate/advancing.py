"""A tick's due steps, in passes (a skipped step lets the next one come due).

Each pass decides every due step (``steps.decisions_sql``: conditions on earlier steps, per-step
holdout, stop rules, contact, suppression, consent), moves marketing steps out of quiet hours in
the customer's zone (to the next allowed minute, DST included, never dropped), admits them
under the caps and the arbitration window (``caps``), then applies ``on_capped`` (or, for a
step that lost an arbitration, ``on_conflict``): skip, defer (once, to when the cap or window
frees; capped again: skipped) or next_step, writing the pass's ledger, outbox and
step-holdout rows and advancing the journeys.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from livebase.config import LivebaseConfig
from livebase.features import sql_string
from livebase.orchestrate.caps import admit_in_rounds
from livebase.orchestrate.entry import ts_sql
from livebase.orchestrate.frame import FRAME, checked_rule, segment_columns
from livebase.orchestrate.plan_types import StateTables
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.settings import PolicySettings
from livebase.orchestrate.steps import contact_fields, contact_sql, decisions_sql, frame_flags_sql
from livebase.orchestrate.tick_sql import days_sql, scalar, table_from_arrow

__all__ = ["advance"]


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


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


def _reservations_since(policy: PolicySettings, t: str) -> str:
    """The filter on a planned message's time that keeps every reservation a cap or the
    arbitration window can count at ``t``: a step is never due before ``t`` (quiet hours only
    move it later) and a window of length W counts reservations strictly within W of it."""
    windows = [rule.window for rule in policy.caps]
    if policy.arbitration is not None:
        windows.append(policy.arbitration)
    if not windows:
        return "FALSE"
    seconds = int(max(windows).total_seconds())
    return f"l.ts > {t} - INTERVAL {seconds} SECOND"


def advance(
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
            checked_rule(config, r, f"stop_rules.{i}") or "FALSE" for i, r in enumerate(rules)
        ]
    seg_cols = list(segment_columns(config).values())
    flags = frame_flags_sql(playbooks, stop_rules, seg_cols, FRAME)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lb_pb_res (customer_id VARCHAR, channel VARCHAR, "
        "ts TIMESTAMP, playbook VARCHAR, tick BOOLEAN)"
    )
    marketing = [pb.name for pb in playbooks if pb.purpose == "marketing"]
    con.execute(
        f"""INSERT INTO lb_pb_res
        SELECT l.customer_id, l.channel, l.ts, l.playbook, FALSE FROM {state.ledger} l
        WHERE l.type = 'planned' AND coalesce(l.reason, 'marketing') = 'marketing'
          AND {_reservations_since(policy, t)}
          AND NOT EXISTS (SELECT 1 FROM {state.ledger} c WHERE c.message_key = l.message_key
                          AND c.type = 'cancelled')"""
    )
    contact = contact_sql(contact_fields(config.channels))
    columns = "event_id, message_key, customer_id, playbook, occurrence, step, channel, type, ts"
    ledger = (
        f"(SELECT {columns} FROM {state.ledger} UNION ALL SELECT {columns} FROM lb_pb_new_ledger)"
    )
    hashed = scalar(
        con, f"SELECT count(*) FROM {state.suppressions} WHERE address_hash IS NOT NULL"
    )
    window = policy.arbitration
    arbitration = None if window is None else (str(policy.arbitration_window), window)
    max_steps = max(len(pb.steps) for pb in playbooks)
    earliest = con.execute(
        "SELECT min(entered_at) FROM lb_pb_w WHERE state = 'active' AND arm = 'treatment'"
    ).fetchall()[0][0]
    due = f"""SELECT count(*) FROM lb_pb_w w JOIN lb_pb_steps s
        ON s.playbook = w.playbook AND s.idx = w.idx
        WHERE w.state = 'active' AND w.arm = 'treatment' AND w.next_due_at <= {t}"""
    for _ in range(max_steps + 1):
        if scalar(con, due) == 0:  # the due steps of decisions_sql: none, no pass
            break
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
                flags=flags,
                contact=contact,
                require_consent=policy.require_consent,
                by_address=hashed > 0,
                reactions_since=earliest,
            )
        )
        zones = [r[0] for r in con.execute("SELECT DISTINCT tz FROM lb_pb_dec").fetchall()]
        moved = _quiet_hours(con, config, as_of, zones)
        quiet_rows = pa.table(
            {"tz": list(moved), "due": [moved[z] for z in moved]},
            schema=pa.schema([("tz", pa.string()), ("due", pa.timestamp("us"))]),
        )
        table_from_arrow(con, "lb_pb_quiet", quiet_rows)
        source = f"""SELECT d.key, d.customer_id, d.playbook, d.occurrence, d.idx, d.channel,
                   d.priority, d.entered_at,
                   CASE WHEN d.purpose = 'marketing' THEN q.due ELSE {t} END AS due
            FROM lb_pb_dec d JOIN lb_pb_quiet q USING (tz)
            WHERE d.outcome = 'send' AND d.purpose = 'marketing'
              AND d.playbook IN ({", ".join(sql_string(m) for m in marketing) or "NULL"})"""
        admit_in_rounds(
            con,
            policy.caps,
            candidates="lb_pb_cand",
            source=source,
            reservations="lb_pb_res",
            frame=FRAME,
            arbitration=arbitration,
        )
        _apply(con, as_of, ledger, earliest)


def _apply(con: Any, as_of: datetime, ledger: str, earliest: datetime | None) -> None:
    """Turn one pass's decisions into ledger and outbox rows and advance the journeys.

    ``earliest`` (the earliest entry of a journey that can be due) bounds the search for an
    earlier cap of a step: it was recorded after its journey's entry.
    """
    t = ts_sql(as_of)
    since = "" if earliest is None else f" AND ts >= {ts_sql(earliest)}"
    # outcome → action: plan | skip | hold | defer | next (an arbitration loss: on_conflict)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_act AS
        WITH fin AS (
            SELECT d.*, c.cap_reason, c.frees_at, coalesce(c.due, {t}) AS send_at,
              d.key IN (SELECT message_key FROM {ledger} WHERE type = 'capped'{since})
                AS capped_before,
              CASE WHEN starts_with(c.cap_reason, 'arbitration:') THEN d.on_conflict
                   ELSE d.on_capped END AS rule
            FROM lb_pb_dec d LEFT JOIN lb_pb_cand c USING (key)
        )
        SELECT * EXCLUDE (rule), CASE
            WHEN outcome = 'held_out' THEN 'hold'
            WHEN outcome LIKE 'skip:%' THEN 'skip'
            WHEN cap_reason IS NULL THEN 'plan'
            WHEN rule = 'defer' AND NOT capped_before THEN 'defer'
            WHEN rule = 'next_step' THEN 'next'
            ELSE 'skip' END AS action
        FROM fin"""
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
    nxt = days_sql("next_after")
    # the working copy rebuilt in one scan (DuckDB's UPDATE … FROM is many times slower)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_pb_w AS
        WITH m AS (
            SELECT w.customer_id, w.playbook, w.occurrence, w.entered_at, w.arm, w.state,
                w.exit_reason, w.exited_at, w.next_step,
                a.customer_id IS NOT NULL AS moved, w.changed OR a.customer_id IS NOT NULL
                    AS changed,
                CASE WHEN a.action = 'plan' THEN a.step ELSE w.current_step END AS current_step,
                CASE WHEN a.customer_id IS NULL THEN w.idx
                     WHEN a.action = 'defer' THEN a.idx
                     WHEN a.idx + 1 < a.n_steps THEN a.idx + 1 END AS idx,
                CASE WHEN a.customer_id IS NULL THEN w.next_due_at
                     WHEN a.action = 'defer' THEN coalesce(a.frees_at, {t} + INTERVAL 1 DAY)
                     WHEN a.idx + 1 >= a.n_steps THEN NULL
                     WHEN a.action = 'next' THEN {t}
                     WHEN a.action = 'plan' THEN a.send_at + {nxt}
                     ELSE a.next_due_at + {nxt} END AS next_due_at
            FROM lb_pb_w w LEFT JOIN lb_pb_act a USING (customer_id, playbook, occurrence)
        )
        SELECT m.customer_id, m.playbook, m.occurrence, m.entered_at, m.arm,
            CASE WHEN m.moved AND m.state = 'active' AND m.idx IS NULL THEN 'completed'
                 ELSE m.state END AS state,
            m.current_step,
            CASE WHEN m.moved AND m.idx IS NULL THEN NULL
                 WHEN m.moved THEN s.step ELSE m.next_step END AS next_step,
            CASE WHEN m.moved AND m.idx IS NULL THEN NULL ELSE m.next_due_at END
                AS next_due_at,
            m.exit_reason, m.exited_at, m.idx, m.changed
        FROM m LEFT JOIN lb_pb_steps s ON s.playbook = m.playbook AND s.idx = m.idx"""
    )
