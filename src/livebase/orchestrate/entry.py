"""Who enters a playbook as of a moment: trigger, audience and limits as one SQL relation.

:func:`entry_sql` gives one row per customer of the frame with the moment the trigger fired
(``trigger_ts``, NULL when it did not) and ``reason``: ``enters`` or the first reason why not
(``not_triggered``, ``not_in_segments``, ``audience_rule``, ``excluded``, ``in_journey``,
``already_entered``, ``cooldown``, ``max_entries``). The planner takes the ``enters`` rows;
``playbook preview`` and ``explain`` show the others.

All timestamps are the workspace's local time (the analytics store's convention).

>>> from livebase.orchestrate.playbook import Trigger
>>> print(trigger_sql(Trigger(inactivity_days=60), datetime(2026, 6, 30, 10), "f"))
CASE WHEN f.recency_days BETWEEN 60 AND 66 THEN CAST(f.last_paid_date AS TIMESTAMP) + INTERVAL 60 DAY END
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from livebase.features import sql_string
from livebase.orchestrate.frame import FRAME
from livebase.orchestrate.playbook import Playbook, Schedule, Trigger

__all__ = [
    "ENTRY_REASONS",
    "candidates_sql",
    "entry_limits",
    "entry_sql",
    "journey_summary_columns",
    "limits_reason_sql",
    "segments_sql",
    "trigger_sql",
]

ENTRY_REASONS = (
    "enters",
    "not_triggered",
    "not_in_segments",
    "audience_rule",
    "excluded",
    "in_journey",
    "already_entered",
    "cooldown",
    "max_entries",
)


def ts_sql(moment: datetime) -> str:
    """A TIMESTAMP literal (local naive)."""
    return f"TIMESTAMP {sql_string(moment.replace(tzinfo=None).isoformat(sep=' '))}"


def _in_list(values: list[str]) -> str:
    return ", ".join(sql_string(v) for v in values)


def segments_sql(mapping: Mapping[str, list[str]] | None, alias: str) -> str:
    """True when the customer is in any of the segments (scheme → names); TRUE when none."""
    if not mapping:
        return "TRUE"
    parts = [
        f"{alias}.{scheme}_segment IN ({_in_list(names)})" for scheme, names in mapping.items()
    ]
    return "(" + " OR ".join(parts) + ")"


def _latest_schedule(schedule: Schedule, as_of: datetime) -> datetime | None:
    if schedule.at is not None:
        moment = schedule.at.replace(tzinfo=None)
    else:
        assert schedule.start is not None and schedule.every_days is not None
        start = schedule.start.replace(tzinfo=None)
        if as_of < start:
            return None
        step = timedelta(days=schedule.every_days)
        moment = start + step * ((as_of - start) // step)
    if moment > as_of or moment <= as_of - timedelta(days=1):
        return None  # not yet, or more than a day ago: a broadcast is not sent late
    return moment


def trigger_sql(trigger: Trigger, as_of: datetime, alias: str) -> str:
    """SQL giving the trigger's moment for the frame row ``alias`` (NULL: not triggered)."""
    t = ts_sql(as_of)
    day = f"CAST({t} AS DATE)"
    kind = trigger.kind
    if kind == "inactivity":
        n = trigger.inactivity_days
        return (
            f"CASE WHEN {alias}.recency_days BETWEEN {n} AND {n + trigger.catch_up_days} "  # type: ignore[operator]
            f"THEN CAST({alias}.last_paid_date AS TIMESTAMP) + INTERVAL {n} DAY END"
        )
    if kind in ("segment_entry", "segment_exit"):
        entry = kind == "segment_entry"
        mapping = trigger.segment_entry if entry else trigger.segment_exit
        assert mapping is not None
        column = "valid_from" if entry else "valid_to"
        ors = " OR ".join(
            f"(h.scheme = {sql_string(s)} AND h.segment IN ({_in_list(n)}))"
            for s, n in mapping.items()
        )
        still = (
            f" AND (h.valid_to IS NULL OR h.valid_to > {day})"
            if entry
            else f" AND NOT ({segments_sql(mapping, alias)} IS TRUE)"
        )
        return (
            f"(SELECT CAST(max(h.{column}) AS TIMESTAMP) FROM segment_history h "
            f"WHERE h.customer_id = {alias}.customer_id AND ({ors}) "
            f"AND h.{column} > {day} - INTERVAL {trigger.within_days} DAY "
            f"AND h.{column} <= {day}{still})"
        )
    if kind == "event":
        since = ts_sql(as_of - timedelta(hours=trigger.within_hours))
        if trigger.event == "purchase":
            return (
                f"(SELECT max(o.paid_at) FROM orders o WHERE o.customer_id = {alias}.customer_id "
                f"AND o.paid_amount > 0 AND o.paid_at > {since} AND o.paid_at <= {t})"
            )
        return (
            f"(SELECT max(e.ts) FROM events e WHERE e.customer_id = {alias}.customer_id "
            f"AND e.name = {sql_string(trigger.event or '')} AND e.ts > {since} AND e.ts <= {t})"
        )
    if kind == "date":
        rule = trigger.days_before
        assert rule is not None
        path = sql_string("$." + rule.attribute)
        return (
            f"CASE WHEN TRY_CAST(json_extract_string({alias}.attributes, {path}) AS DATE) "
            f"- INTERVAL {rule.days} DAY = {day} THEN CAST({day} AS TIMESTAMP) END"
        )
    assert trigger.schedule is not None
    moment = _latest_schedule(trigger.schedule, as_of.replace(tzinfo=None))
    return "CAST(NULL AS TIMESTAMP)" if moment is None else ts_sql(moment)


def _signals_sql(
    playbook: Playbook, as_of: datetime, where: str | None, exclude_where: str | None, frame: str
) -> str:
    """One row per frame customer: customer_id, trigger_ts, in_segments, where_ok, excluded."""
    audience = playbook.audience
    excluded_parts = []
    if audience.exclude is not None:
        if audience.exclude.segments:
            excluded_parts.append(f"({segments_sql(audience.exclude.segments, 'f')} IS TRUE)")
        if exclude_where:
            excluded_parts.append(f"(({exclude_where}) IS TRUE)")
    excluded = " OR ".join(excluded_parts) or "FALSE"
    return f"""SELECT f.customer_id, {trigger_sql(playbook.trigger, as_of, "f")} AS trigger_ts,
               ({segments_sql(audience.segments, "f")}) IS TRUE AS in_segments,
               ({where or "TRUE"}) IS TRUE AS where_ok,
               {excluded} AS excluded
        FROM {frame} f"""


def journey_summary_columns() -> str:
    """The aggregates of a customer's journeys that the limits read (over ``state``,
    ``entered_at``, ``occurrence``)."""
    return (
        "bool_or(state = 'active') AS active, max(entered_at) AS last_entered, "
        "count(*) AS entries, max(occurrence) AS max_occ"
    )


def limits_reason_sql(as_of: datetime, cooldown_days: str, max_entries: str) -> str:
    """The entry reason of a customer the trigger and audience admit: the journey limits
    (``in_journey``, ``already_entered``, ``cooldown``, ``max_entries``) or ``enters``.

    Reads ``trigger_ts`` and the journey summary (``active``, ``last_entered``, ``entries``;
    NULL when the customer never entered); ``cooldown_days`` and ``max_entries`` are SQL
    (literals, or columns of a table of playbooks).
    """
    t = ts_sql(as_of)
    return f"""CASE WHEN coalesce(active, FALSE) THEN 'in_journey'
             WHEN last_entered >= trigger_ts THEN 'already_entered'
             WHEN last_entered > {t} - to_days(CAST({cooldown_days} AS INTEGER)) THEN 'cooldown'
             WHEN coalesce(entries, 0) >= {max_entries} THEN 'max_entries'
             ELSE 'enters' END"""


def entry_limits(playbook: Playbook) -> tuple[int, int]:
    """(cooldown in days, most entries) of ``playbook``, unlimited entries as 2**31 - 1."""
    return playbook.cooldown_days, playbook.max_entries or 2**31 - 1


def candidates_sql(
    playbook: Playbook,
    as_of: datetime,
    *,
    where: str | None,
    exclude_where: str | None,
    frame: str = FRAME,
) -> str:
    """customer_id, trigger_ts of the frame customers whose trigger fired and whom the audience
    admits: the only ones :func:`limits_reason_sql` can let in (the planner's first cut)."""
    signals = _signals_sql(playbook, as_of, where, exclude_where, frame)
    return (
        f"SELECT customer_id, trigger_ts FROM ({signals}) "
        "WHERE trigger_ts IS NOT NULL AND in_segments AND where_ok AND NOT excluded"
    )


def entry_sql(
    playbook: Playbook,
    as_of: datetime,
    *,
    journeys: str,
    where: str | None,
    exclude_where: str | None,
    frame: str = FRAME,
) -> str:
    """One row per frame customer: customer_id, trigger_ts, reason, occurrence (next entry).

    ``where``/``exclude_where`` are the audience rules already checked (normalised SQL);
    ``journeys`` is the journeys table (local times).
    """
    name = sql_string(playbook.name)
    return f"""
    WITH lb_j AS (
        SELECT customer_id, {journey_summary_columns()}
        FROM {journeys} WHERE playbook = {name} GROUP BY customer_id
    ),
    lb_e AS (
        SELECT s.*, j.active, j.last_entered, j.entries,
               coalesce(j.max_occ, 0) + 1 AS occurrence
        FROM ({_signals_sql(playbook, as_of, where, exclude_where, frame)}) s
        LEFT JOIN lb_j j USING (customer_id)
    )
    SELECT customer_id, trigger_ts, occurrence,
        CASE WHEN trigger_ts IS NULL THEN 'not_triggered'
             WHEN NOT in_segments THEN 'not_in_segments'
             WHEN NOT where_ok THEN 'audience_rule'
             WHEN excluded THEN 'excluded'
             ELSE {limits_reason_sql(as_of, *map(str, entry_limits(playbook)))} END AS reason
    FROM lb_e"""
