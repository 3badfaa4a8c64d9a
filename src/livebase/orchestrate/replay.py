"""Replay: the same planner run day by day over the store's past, written nowhere real.

Each day at ``at`` (local time) :func:`replay` runs :func:`~livebase.orchestrate.planner.plan_tick`
on scratch copies of the state (journeys, ledger and assignments start empty; consents and
suppressions are today's), so entries, caps, quiet hours, holdouts and arbitration behave
exactly as live. Purchases come from the order history (they end journeys and convert);
reactions the past cannot tell (opens and clicks of messages never sent) are drawn with a
seeded hash of the message key at the measured rates of the workspace's own send ledger when
it has at least ``MIN_SENT`` sent messages on a channel, else at the stated assumptions
(:data:`ASSUMED_RATES`). The operational store is never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import pyarrow as pa

from livebase.config import LivebaseConfig
from livebase.features import sql_string
from livebase.orchestrate.planner import STATE_DDL, StateTables, TickPlan, plan_tick
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.replay_frame import CarriedFrame
from livebase.orchestrate.sink import append_plan
from livebase.store import Store

__all__ = [
    "ASSUMED_RATES",
    "MIN_SENT",
    "FrameMode",
    "Rates",
    "ReplayResult",
    "replay",
    "replay_state",
]

FrameMode = Literal["carried", "rebuilt"]
"""How replay makes each day's customer frame: carried from the day before
(``replay_frame.CarriedFrame``), or rebuilt from the whole log (``frame.build_frame``, as a
live tick does); both give the same rows."""

MIN_SENT = 200
"""Sent messages of a channel in the ledger before its measured rates replace assumptions."""

ONE_THREAD_CUSTOMERS = 2 * 122_880
"""Bases up to this many customers (two DuckDB row groups) are replayed on one DuckDB thread.

A replay runs about fifty statements a day, each over a day's few thousand due steps and
tables of one or two row groups, which DuckDB scans with one thread anyway: the second thread
only adds scheduling. The first 30 days at 100k customers, four interleaved pairs
(2026-12-01): one thread took 0.85-1.00x the wall time of two (median 0.95x) and 0.76-0.90x
their CPU, with the same plans. Larger bases keep the store's setting: their frame scans
split across threads."""


@dataclass(frozen=True)
class Rates:
    """Share of messages opened, and clicked (a click counts as an open too)."""

    opened: float
    clicked: float
    source: str = "assumed"


ASSUMED_RATES: dict[str, Rates] = {
    "email": Rates(0.25, 0.04),
    "push": Rates(0.10, 0.02),
    "sms": Rates(0.0, 0.03),
    "telegram": Rates(0.40, 0.06),
}
"""Stated assumptions (other channels: no reaction) — printed with every replay."""

REPLAY_STATE = StateTables(
    journeys="lb_rp_journeys",
    ledger="lb_rp_ledger",
    assignments="lb_rp_assignments",
    consents="lb_rp_consents",
    suppressions="lb_rp_suppressions",
)


@dataclass
class ReplayResult:
    """What the playbooks would have done between ``start`` and ``end``."""

    start: date
    end: date
    playbooks: list[str]
    rates: dict[str, Rates]
    weekly: list[dict[str, Any]] = field(default_factory=list)
    """week (Monday), playbook, entered, held_out, messages, cost."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """playbook, channel, messages, cost."""
    per_customer: dict[str, float] = field(default_factory=dict)
    """customers messaged, mean, median, p90 and max messages per customer."""
    hits: list[dict[str, Any]] = field(default_factory=list)
    """playbook, capped, quiet_hours, suppressed, no_consent, no_contact, converted."""
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    """playbook, other, customers in both (journeys over the period)."""
    outbox: pa.Table | None = None
    ledger: pa.Table | None = None

    def assumptions(self) -> list[str]:
        """The assumptions a reader must know, one sentence each."""
        lines = [
            "the planner runs once a day at the replay hour; nothing is sent, nothing written",
            "journeys, ledger and assignments start empty on the first day",
            "consents and suppressions are today's, applied to every day",
            "purchases come from the order history; segments from the segment history",
        ]
        for channel, r in sorted(self.rates.items()):
            lines.append(f"{channel}: opened {r.opened:.0%}, clicked {r.clicked:.0%} ({r.source})")
        lines.append("other channels: no reaction")
        return lines


def _measured_rates(store: Store, channels: Sequence[str]) -> dict[str, Rates]:
    rates = {c: ASSUMED_RATES[c] for c in channels if c in ASSUMED_RATES}
    rows = store.con.execute(
        """SELECT channel, count(DISTINCT message_key) FILTER (WHERE type = 'sent'),
                  count(DISTINCT message_key) FILTER (WHERE type IN ('opened', 'clicked')),
                  count(DISTINCT message_key) FILTER (WHERE type = 'clicked')
        FROM ops_send_ledger GROUP BY channel"""
    ).fetchall()
    for channel, sent, opened, clicked in rows:
        if channel in channels and int(sent) >= MIN_SENT:
            rates[str(channel)] = Rates(
                int(opened) / int(sent), int(clicked) / int(sent), f"measured on {int(sent)} sent"
            )
    return rates


def replay_state(store: Store, *, suppressions: str | None = None) -> StateTables:
    """Fresh scratch state tables; consents copied from ``ops_consents``."""
    con = store.con
    state = REPLAY_STATE
    for key in ("journeys", "ledger", "assignments", "consents", "suppressions"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {getattr(state, key)} {STATE_DDL[key]}")
    con.execute(
        f"INSERT INTO {state.consents} SELECT id, customer_id, channel, purpose, status, ts "
        "FROM ops_consents"
    )
    if suppressions is not None:
        con.execute(f"INSERT INTO {state.suppressions} SELECT * FROM {suppressions}")
    return state


def _react(store: Store, plan: TickPlan, state: StateTables, rates: Mapping[str, Rates]) -> None:
    if plan.outbox.num_rows == 0 or not rates:
        return
    con = store.con
    values = ", ".join(
        f"({sql_string(c)}, {r.opened}, {r.clicked})" for c, r in sorted(rates.items())
    )
    con.register("lb_rp_out", plan.outbox)
    try:
        draw = "CAST('0x' || substr(md5(o.key || {s}), 1, 8) AS UBIGINT) / 4294967296.0"
        con.execute(
            f"""INSERT INTO {state.ledger}
            WITH r(channel, p_open, p_click) AS (VALUES {values}),
            d AS (SELECT o.*, {draw.format(s="':open'")} AS u FROM lb_rp_out o)
            SELECT d.key || ':' || kind, d.key, d.customer_id, d.playbook, d.occurrence, d.step,
                   d.channel, kind, 'replay', 0.0, d.due_at + INTERVAL 1 HOUR
            FROM d JOIN r USING (channel),
                 (SELECT unnest(['opened', 'clicked']) AS kind) k
            WHERE (kind = 'opened' AND d.u < greatest(r.p_open, r.p_click))
               OR (kind = 'clicked' AND d.u < r.p_click)"""
        )
    finally:
        con.unregister("lb_rp_out")


def replay(
    store: Store,
    config: LivebaseConfig,
    playbooks: Sequence[Playbook],
    start: date,
    end: date,
    *,
    at: time = time(10, 0),
    report: Sequence[str] | None = None,
    suppressions: str | None = None,
    on_day: Any = None,
    frame: FrameMode = "carried",
) -> ReplayResult:
    """Run every playbook day by day from ``start`` to ``end`` (inclusive) at ``at``.

    All playbooks compete (arbitration and caps act as live); ``report`` limits the tables to
    some of them. ``on_day(day)`` is called after each day (progress). ``frame``: see
    :data:`FrameMode` (the plans are the same either way).
    """
    if end < start:
        from livebase.errors import PlaybookError

        raise PlaybookError(f"--to {end} is before --from {start}")
    channels = sorted({s.channel for pb in playbooks for s in pb.steps})
    rates = _measured_rates(store, channels)
    state = replay_state(store, suppressions=suppressions)
    con = store.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE lb_rp_outbox {STATE_DDL['outbox']}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lb_rp_counts (day DATE, playbook VARCHAR, "
        "entered BIGINT, held_out BIGINT, exited BIGINT)"
    )
    builder = CarriedFrame(store, config, start, end) if frame == "carried" else None
    try:
        with _threads_for_replay(store):
            _days(store, config, playbooks, state, rates, start, end, at, builder, on_day)
    finally:
        if builder is not None:
            builder.close()
    names = list(report) if report else [pb.name for pb in playbooks]
    return _summarise(store, state, start, end, names, rates)


def _threads_for_replay(store: Store) -> ContextManager[None]:
    """One DuckDB thread while a base of at most :data:`ONE_THREAD_CUSTOMERS` is replayed,
    the store's setting restored afterwards (errors included)."""
    customers = int(store.fetch_value("SELECT count(*) FROM customers") or 0)
    if customers > ONE_THREAD_CUSTOMERS:
        return nullcontext()
    return store.settings({"threads": "1"})


def _days(
    store: Store,
    config: LivebaseConfig,
    playbooks: Sequence[Playbook],
    state: StateTables,
    rates: Mapping[str, Rates],
    start: date,
    end: date,
    at: time,
    builder: CarriedFrame | None,
    on_day: Any,
) -> None:
    """Plan each day from ``start`` to ``end`` and apply it to the scratch state."""
    con = store.con
    day = start
    while day <= end:
        plan = plan_tick(
            store, config, playbooks, datetime.combine(day, at), state=state, frame_builder=builder
        )
        append_plan(con, plan, state)
        if plan.outbox.num_rows:
            con.register("lb_rp_day", plan.outbox)
            try:
                con.execute("INSERT INTO lb_rp_outbox SELECT * FROM lb_rp_day")
            finally:
                con.unregister("lb_rp_day")
        if plan.counts:
            con.executemany(
                "INSERT INTO lb_rp_counts VALUES (?, ?, ?, ?, ?)",
                [[day, n, c.entered, c.held_out, c.exited] for n, c in plan.counts.items()],
            )
        _react(store, plan, state, rates)
        if on_day is not None:
            on_day(day)
        day += timedelta(days=1)


def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = store.con.sql(sql).to_arrow_table().to_pylist()
    return rows


def _summarise(
    store: Store,
    state: StateTables,
    start: date,
    end: date,
    names: list[str],
    rates: dict[str, Rates],
) -> ReplayResult:
    pick = ", ".join(sql_string(n) for n in names) or "NULL"
    result = ReplayResult(start, end, names, rates)
    result.weekly = _rows(
        store,
        f"""WITH e AS (SELECT date_trunc('week', day)::DATE AS week, playbook,
                sum(entered) AS entered, sum(held_out) AS held_out
            FROM lb_rp_counts WHERE playbook IN ({pick}) GROUP BY ALL),
        m AS (SELECT date_trunc('week', ts)::DATE AS week, playbook,
                count(*) AS messages, sum(cost) AS cost
            FROM {state.ledger} WHERE type = 'planned' AND playbook IN ({pick}) GROUP BY ALL)
        SELECT week, playbook, coalesce(e.entered, 0) AS entered,
               coalesce(e.held_out, 0) AS held_out, coalesce(m.messages, 0) AS messages,
               round(coalesce(m.cost, 0), 2) AS cost
        FROM e FULL JOIN m USING (week, playbook) ORDER BY week, playbook""",
    )
    result.messages = _rows(
        store,
        f"""SELECT playbook, channel, count(*) AS messages, round(sum(cost), 2) AS cost
        FROM {state.ledger} WHERE type = 'planned' AND playbook IN ({pick})
        GROUP BY ALL ORDER BY playbook, channel""",
    )
    stats = _rows(
        store,
        f"""WITH c AS (SELECT customer_id, count(*) AS n FROM {state.ledger}
                     WHERE type = 'planned' AND playbook IN ({pick}) GROUP BY customer_id)
        SELECT count(*) AS customers, coalesce(avg(n), 0) AS mean,
               coalesce(median(n), 0) AS median, coalesce(quantile_cont(n, 0.9), 0) AS p90,
               coalesce(max(n), 0) AS max FROM c""",
    )
    result.per_customer = {k: float(v) for k, v in stats[0].items()}
    result.hits = _rows(
        store,
        f"""WITH l AS (SELECT * FROM {state.ledger} WHERE playbook IN ({pick}))
        SELECT p.playbook,
          count(*) FILTER (WHERE type = 'capped') AS capped,
          count(*) FILTER (WHERE type = 'deferred' AND reason = 'quiet_hours') AS quiet_hours,
          count(*) FILTER (WHERE type = 'skipped' AND reason LIKE 'suppressed%') AS suppressed,
          count(*) FILTER (WHERE type = 'skipped' AND reason = 'no_consent') AS no_consent,
          count(*) FILTER (WHERE type = 'skipped' AND reason = 'no_contact') AS no_contact,
          (SELECT count(*) FROM {state.journeys} j WHERE j.playbook = p.playbook
             AND j.exit_reason = 'converted') AS converted
        FROM (SELECT unnest([{pick}]) AS playbook) p LEFT JOIN l USING (playbook)
        GROUP BY p.playbook ORDER BY p.playbook""",
    )
    result.overlaps = _rows(
        store,
        f"""WITH j AS (SELECT DISTINCT playbook, customer_id FROM {state.journeys})
        SELECT a.playbook, b.playbook AS other, count(*) AS customers
        FROM j a JOIN j b ON a.customer_id = b.customer_id AND a.playbook <> b.playbook
        WHERE a.playbook IN ({pick}) GROUP BY ALL ORDER BY a.playbook, customers DESC""",
    )
    result.outbox = store.con.sql("SELECT * FROM lb_rp_outbox ORDER BY key").to_arrow_table()
    result.ledger = store.con.sql(
        f"SELECT * FROM {state.ledger} ORDER BY event_id"
    ).to_arrow_table()
    return result
