"""Looking before acting: who would enter (preview), one customer's path (explain), and how
many customers several playbooks compete for (overlap). Read-only SQL over the frame and the
state tables; the same entry SQL as the planner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from livebase.config import LivebaseConfig
from livebase.errors import PlaybookError
from livebase.features import sql_string
from livebase.measure.assignment import bucket_of
from livebase.orchestrate.caps import cap_code
from livebase.orchestrate.entry import ENTRY_REASONS, entry_sql, ts_sql
from livebase.orchestrate.frame import FRAME, build_frame, checked_rule
from livebase.orchestrate.plan_types import StateTables
from livebase.orchestrate.playbook import Playbook
from livebase.store import Store

__all__ = ["Explanation", "Preview", "explain", "overlap", "preview"]


def _entry(config: LivebaseConfig, pb: Playbook, as_of: datetime, journeys: str) -> str:
    audience = pb.audience
    return entry_sql(
        pb,
        as_of,
        journeys=journeys,
        where=checked_rule(config, audience.where, "audience.where"),
        exclude_where=checked_rule(
            config, audience.exclude.where if audience.exclude else None, "audience.exclude"
        ),
    )


def _local(as_of: datetime, config: LivebaseConfig) -> datetime:
    if as_of.tzinfo is None:
        return as_of
    return as_of.astimezone(ZoneInfo(config.timezone)).replace(tzinfo=None)


@dataclass(frozen=True)
class Preview:
    """Who enters a playbook at ``as_of``, and for everyone else the first reason why not."""

    playbook: str
    as_of: datetime
    reasons: dict[str, int]
    examples: dict[str, list[str]]
    arms: dict[str, int]


def preview(
    store: Store,
    config: LivebaseConfig,
    pb: Playbook,
    as_of: datetime,
    *,
    state: StateTables = StateTables(),
    examples: int = 5,
) -> Preview:
    """Count the frame's customers by entry reason (``entry.ENTRY_REASONS``)."""
    as_of = _local(as_of, config)
    build_frame(store, config, as_of.date())
    sql = _entry(config, pb, as_of, state.journeys)
    rows = store.con.execute(
        f"SELECT reason, count(*), list(customer_id ORDER BY customer_id)[1:{examples}] "
        f"FROM ({sql}) GROUP BY reason"
    ).fetchall()
    found = {str(r[0]): (int(r[1]), [str(x) for x in r[2]]) for r in rows}
    reasons = {k: found[k][0] for k in ENTRY_REASONS if k in found}
    from livebase.measure.assignment import assignment_sql

    g = config.policy.global_holdout if pb.purpose == "marketing" else 0.0
    h = pb.holdout if pb.purpose == "marketing" else 0.0
    g_arm = (
        assignment_sql("customer_id", config.policy.global_salt, {"holdout": g, "eligible": 1 - g})
        if g > 0
        else "'eligible'"
    )
    p_arm = (
        assignment_sql("customer_id", pb.holdout_salt, {"treatment": 1 - h, "holdout": h})
        if h > 0
        else "'treatment'"
    )
    arms = dict(
        store.con.execute(
            f"SELECT CASE WHEN {g_arm} = 'holdout' THEN 'global_holdout' ELSE {p_arm} END AS a, "
            f"count(*) FROM ({sql}) WHERE reason = 'enters' GROUP BY a ORDER BY a"
        ).fetchall()
    )
    return Preview(
        pb.name,
        as_of,
        reasons,
        {k: v[1] for k, v in found.items()},
        {str(k): int(v) for k, v in arms.items()},
    )


@dataclass
class Explanation:
    """One customer's path through a playbook: (check, verdict, detail) lines, then history."""

    customer_id: str
    playbook: str
    as_of: datetime
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    journeys: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)


def _rows(store: Store, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    rel = store.con.execute(sql, list(params))
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def explain(
    store: Store,
    config: LivebaseConfig,
    pb: Playbook,
    customer_id: str,
    as_of: datetime,
    *,
    state: StateTables = StateTables(),
) -> Explanation:
    """Why a customer enters or not, holdouts, consent, contact, caps, quiet hours, next step."""
    as_of = _local(as_of, config)
    build_frame(store, config, as_of.date())
    frame = _rows(store, f"SELECT * FROM {FRAME} WHERE customer_id = ?", [customer_id])
    if not frame:
        from livebase.errors import did_you_mean

        near = [
            str(r[0])
            for r in store.con.execute(
                f"SELECT customer_id FROM {FRAME} ORDER BY jaro_winkler_similarity("
                "customer_id, ?) DESC LIMIT 3",
                [customer_id],
            ).fetchall()
        ]
        raise PlaybookError(
            f"no customer '{customer_id}' in the base on {as_of.date()}"
            f"{did_you_mean(customer_id, near)}"
        )
    f = frame[0]
    out = Explanation(customer_id, pb.name, as_of)
    entry = _rows(
        store,
        f"SELECT * FROM ({_entry(config, pb, as_of, state.journeys)}) WHERE customer_id = ?",
        [customer_id],
    )[0]
    trig = pb.trigger
    detail = {
        "inactivity": f"recency_days = {f.get('recency_days')}",
        "event": f"event {trig.event} within {trig.within_hours:g} h",
        "segment_entry": f"segments: {trig.segment_entry}",
        "segment_exit": f"segments: {trig.segment_exit}",
        "date": f"{trig.days_before}",
        "schedule": f"{trig.schedule}",
    }[trig.kind]
    fired = entry["trigger_ts"]
    out.checks.append(
        ("trigger", "fired" if fired is not None else "no", f"{detail}; moment {fired}")
    )
    segs = {s: f.get(f"{s}_segment") for s in config.segments.schemes}
    out.checks.append(("segments", "", ", ".join(f"{k}={v}" for k, v in segs.items())))
    out.checks.append(
        ("entry", "enters" if entry["reason"] == "enters" else "no", str(entry["reason"]))
    )
    if pb.purpose == "marketing":
        g = config.policy.global_holdout
        bucket = bucket_of(customer_id, config.policy.global_salt)
        out.checks.append(
            (
                "global holdout",
                "held out" if g > 0 and bucket < g else "eligible",
                f"bucket {bucket:.3f}, share {g:g}",
            )
        )
        pbucket = bucket_of(customer_id, pb.holdout_salt)
        out.checks.append(
            (
                "playbook holdout",
                "treatment" if pbucket >= pb.holdout else "holdout",
                f"bucket {pbucket:.3f}, share {pb.holdout:g}",
            )
        )
    t = ts_sql(as_of)
    for step in pb.steps:
        consent = store.con.execute(
            f"""SELECT arg_max(status, ts) FROM ops_consents WHERE customer_id = ?
            AND channel IN (?, 'any') AND purpose = 'marketing' AND ts <= {t}""",
            [customer_id, step.channel],
        ).fetchall()[0][0]
        from livebase.orchestrate.steps import contact_fields

        field_name = contact_fields(config.channels).get(step.channel)
        contact = (
            f.get(field_name)
            if field_name in ("email", "phone")
            else (customer_id if field_name is None else "attribute " + field_name)
        )
        out.checks.append(
            (
                f"step {step.id} ({step.channel})",
                "contact ok" if contact else "no contact",
                f"consent {consent or 'none'}"
                + (f"; holdout {step.holdout:g}" if step.holdout else "")
                + (f"; only_if {step.only_if.model_dump(exclude_defaults=True)}"
                   if step.only_if else ""),
            )
        )  # fmt: skip
    for rule in config.policy.caps:
        if rule.channel != "any" and rule.channel not in {s.channel for s in pb.steps}:
            continue
        if rule.segments and not any(
            f.get(f"{scheme}_segment") in names for scheme, names in rule.segments.items()
        ):
            continue  # a segment cap for segments the customer is not in
        seconds = int(rule.window.total_seconds())
        n = store.con.execute(
            f"""SELECT count(*) FROM {state.ledger} WHERE customer_id = ? AND type = 'planned'
            AND (? = 'any' OR channel = ?) AND abs(epoch(ts) - epoch({t})) < {seconds}""",
            [customer_id, rule.channel, rule.channel],
        ).fetchall()[0][0]
        out.checks.append(
            (cap_code(rule), "full" if int(n) >= rule.max else "room", f"{n} of {rule.max}")
        )
    window = config.policy.arbitration
    if window is not None and pb.purpose == "marketing":
        others = store.con.execute(
            f"""SELECT list(DISTINCT playbook ORDER BY playbook) FROM {state.ledger}
            WHERE customer_id = ? AND type = 'planned' AND reason = 'marketing'
              AND playbook <> ? AND abs(epoch(ts) - epoch({t})) < {window.total_seconds()}""",
            [customer_id, pb.name],
        ).fetchall()[0][0]
        out.checks.append(
            (
                f"arbitration window {config.policy.arbitration_window}",
                "taken" if others else "free",
                "planned by " + ", ".join(others) if others else "no other playbook's message",
            )
        )
    quiet = config.policy.quiet_hours
    if quiet is not None:
        from livebase.orchestrate.send_check import next_allowed

        zone = f.get("tz") or config.timezone
        moment = as_of.replace(tzinfo=ZoneInfo(config.timezone))
        moved = next_allowed(moment, quiet, str(zone))
        out.checks.append(
            (
                "quiet hours",
                "inside" if moved is not None else "outside",
                f"zone {zone}"
                + (
                    f"; next allowed {moved.astimezone(ZoneInfo(str(zone))):%Y-%m-%d %H:%M %Z}"
                    if moved
                    else ""
                ),
            )
        )
    out.journeys = _rows(
        store,
        f"SELECT occurrence, entered_at, arm, state, current_step, next_step, next_due_at, "
        f"exit_reason FROM {state.journeys} WHERE customer_id = ? AND playbook = ? "
        "ORDER BY occurrence",
        [customer_id, pb.name],
    )
    running = [j for j in out.journeys if j["state"] == "active"]
    if running:
        j = running[-1]
        out.checks.append(
            ("next step", str(j["next_step"]), f"due {j['next_due_at']} (local time)")
        )
    out.ledger = _rows(
        store,
        f"SELECT ts, step, channel, type, reason, cost FROM {state.ledger} "
        "WHERE customer_id = ? AND playbook = ? ORDER BY ts, event_id",
        [customer_id, pb.name],
    )
    return out


def overlap(
    store: Store,
    config: LivebaseConfig,
    playbooks: Sequence[Playbook],
    as_of: datetime,
    *,
    state: StateTables = StateTables(),
) -> list[dict[str, Any]]:
    """Pairs of playbooks and the customers both want at ``as_of`` (trigger fired or journey
    running, audience passed), plus each playbook's own count (``other`` = itself); every row
    also says how many of its customers at least one other playbook wants (``contested``)."""
    as_of = _local(as_of, config)
    build_frame(store, config, as_of.date())
    parts = []
    for pb in playbooks:
        sql = _entry(config, pb, as_of, state.journeys)
        parts.append(
            f"SELECT {sql_string(pb.name)} AS playbook, customer_id FROM ({sql}) "
            "WHERE reason IN ('enters', 'in_journey', 'already_entered', 'cooldown', "
            "'max_entries')"
        )
    if not parts:
        return []
    union = " UNION ALL ".join(parts)
    return _rows(
        store,
        f"""WITH w AS ({union}),
        k AS (SELECT customer_id, count(DISTINCT playbook) AS wanted FROM w GROUP BY ALL)
        SELECT a.playbook, b.playbook AS other, count(*) AS customers,
               count(*) FILTER (WHERE k.wanted > 1) AS contested
        FROM w a JOIN w b USING (customer_id) JOIN k USING (customer_id)
        WHERE a.playbook <= b.playbook
        GROUP BY ALL ORDER BY a.playbook, other""",
    )
