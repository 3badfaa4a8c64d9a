"""The closed loop on the demo school: twelve simulated weeks of the template's playbooks, the
customers' reactions, and the readouts printed beside the simulated truth.

Every fourth simulated day and on each scheduled broadcast day (so that ``make demo`` stays
under three minutes; the playbooks' triggers catch up on the days between, steps due in
between go out at the next tick) the real planner runs a tick
(:func:`livebase.orchestrate.run.run_tick`: entries, holdouts, cascades, caps, consent, quiet
hours, written to the operational store). The demo courier then delivers what the tick queued:
it marks the outbox rows sent and records ``sent`` in the send ledger with each channel's
cost from livebase.yaml (the real worker sends the same rows once the workspace's channels
point at real servers: ``livebase worker``). Simulated customers react; their purchases land in
the analytics store as paid orders; segmentation re-runs weekly.

Assumptions of the simulation (the "truth" the readouts are checked against):

- Without messages a customer buys on a given day with a hazard set by their history:
  ``(paid orders in the last year + 0.3) / 365 × 0.35`` (about one purchase a year for a
  one-course student; a school's repeat rate of 25–35 % a year).
- A delivered message adds a purchase with probability ``EFFECTS[channel, step]`` times a
  segment multiplier (students "At Risk" or "Can't Lose" respond 1.4×, "New" 1.2×), some
  0–5 days after it arrives. E-mail opens 35 %, push reaches 60 %, SMS is read by 95 % —
  but the SMS step's true effect is tiny.
- The demo holds out half of the customers who reach the win-back SMS (the template holds
  out 20 %) and reads arms from 20 customers (``learn.min_entrants``), so that the paid step
  can be read within twelve weeks of a 5,000-student school.
- The truth of a playbook is counted on the simulated customers themselves: treated entrants
  whose conversion window holds a purchase caused by the playbook's messages and no other
  purchase (they would not have bought otherwise).

>>> EFFECTS["sms", "sms"] < EFFECTS["email", "email"]
True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa

from livebase.ops.tables import OUTBOX, SEND_LEDGER
from livebase.workspace import Workspace

__all__ = ["EFFECTS", "LoopResult", "TruthRow", "run_closed_loop"]

EFFECTS: dict[tuple[str, str], float] = {
    ("email", "email"): 0.09,
    ("push", "push"): 0.05,
    ("sms", "sms"): 0.0005,
    ("email", "welcome"): 0.05,
    ("email", "first-lesson"): 0.04,
    ("push", "nudge"): 0.03,
    ("tasks", "call"): 0.12,
}
"""(channel, step) → the chance a delivered message causes a purchase (before the segment
multiplier). Steps not listed add 0.03 on e-mail and 0.02 elsewhere."""
REACH = {"email": 0.35, "push": 0.60, "sms": 0.95, "tasks": 0.7}
"""Share of delivered messages opened (e-mail), seen (push), read (SMS) or answered (call)."""
SEGMENT_FACTOR = {"At Risk": 1.4, "Can't Lose": 1.4, "New": 1.2}
PRICES = np.array([1_990, 4_990, 9_900, 14_900, 29_900])
PRICE_P = np.array([0.25, 0.3, 0.2, 0.2, 0.05])


@dataclass
class TruthRow:
    """A playbook's simulated truth beside its readout."""

    playbook: str
    entrants: int
    measured: float | None
    low: float | None
    high: float | None
    truth: int
    reason: str | None
    covered: bool | None
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoopResult:
    """What the closed loop did and measured."""

    start: date
    end: date
    ticks: int
    messages: dict[str, int]
    orders: int
    rows: list[TruthRow]
    programme: dict[str, Any]


def _hazard(store: Any, as_of: datetime) -> pd.DataFrame:
    frame: pd.DataFrame = store.con.execute(
        """SELECT c.customer_id,
                  (count(o.order_id) FILTER (WHERE o.paid_at > CAST(? AS TIMESTAMP) - INTERVAL 365 DAY)
                   + 0.3) / 365.0 * 0.35 AS hazard
           FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id
            AND o.status IN ('paid', 'partially_paid')
           GROUP BY c.customer_id ORDER BY c.customer_id""",
        [as_of],
    ).df()
    return frame


def _segments(store: Any, day: date) -> dict[str, str]:
    rows = store.con.execute(
        """SELECT customer_id, segment FROM segment_history WHERE scheme = 'named'
           AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)""",
        [day, day],
    ).fetchall()
    return {str(c): str(s) for c, s in rows}


def _insert_orders(
    store: Any, orders: list[tuple[str, datetime, float, str | None]], n: int
) -> int:
    if not orders:
        return n
    frame = pd.DataFrame(orders, columns=["customer_id", "paid_at", "amount", "cause"])
    frame["order_id"] = [f"sim-{n + i}" for i in range(len(frame))]
    frame["attributes"] = [json.dumps({"cause": c}) if c else None for c in frame["cause"]]
    store.con.register("lb_sim_orders", frame)
    store.con.execute(
        """INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount,
               currency, status, source_status, items, attributes, first_load, last_load)
           SELECT order_id, customer_id, paid_at, paid_at, amount, amount, 'RUB', 'paid',
                  'Завершен', 'simulated', attributes, 0, 0 FROM lb_sim_orders"""
    )
    store.con.unregister("lb_sim_orders")
    return n + len(frame)


def run_closed_loop(
    ws: Workspace,
    *,
    start: date,
    weeks: int = 12,
    seed: int = 7,
    every_days: int = 4,
    progress: Callable[[str], None] | None = None,
) -> LoopResult:
    """Simulate ``weeks`` weeks after ``start`` with the workspace's playbooks (see the module
    docstring), then read every playbook out against its holdout beside the simulated truth."""
    from livebase.measure.playbook_store import read_global_holdout, read_playbook
    from livebase.measure.playbook_workflow import end_of_day, load_specs
    from livebase.ops.bridges import pull_operational
    from livebase.orchestrate.run import load_workspace_playbooks, run_tick
    from livebase.segments import run_segmentation

    rng = np.random.default_rng(seed)
    _demo_settings(ws)
    ws = Workspace.load(ws.root)
    cfg = ws.config
    zone = ZoneInfo(cfg.timezone)
    playbooks = load_workspace_playbooks(ws.root, cfg)
    broadcasts = _broadcast_days(playbooks, start, weeks * 7)
    costs = {name: float(ch.cost or 0.0) for name, ch in cfg.channels.items()}
    days = weeks * 7
    pending: list[tuple[str, datetime, float, str | None]] = []
    messages: dict[str, int] = {}
    ticks = 0
    n_orders = 0
    store = ws.open_store()
    ops = ws.open_ops()
    try:
        hz = _hazard(store, datetime.combine(start, time()))
        ids = hz["customer_id"].astype(str).to_numpy()
        hazard = hz["hazard"].to_numpy()
        segments = _segments(store, start)
        for d in range(1, days + 1):
            day = start + timedelta(days=d)
            # the base buys on its own
            buy = rng.random(len(ids)) < hazard
            for cid in ids[buy]:
                at = datetime.combine(day, time(int(rng.integers(8, 23)), int(rng.integers(0, 60))))
                pending.append((str(cid), at, float(rng.choice(PRICES, p=PRICE_P)), None))
            due = [o for o in pending if o[1].date() <= day]
            pending = [o for o in pending if o[1].date() > day]
            n_orders = _insert_orders(store, due, n_orders)
            if d % 7 == 0:
                run_segmentation(
                    store,
                    cfg.features,
                    cfg.segments,
                    day,
                    ran_at=datetime(2000, 1, 1),
                    collect=False,
                )
                segments = _segments(store, day)
            if d % every_days != 0 and d != days and day not in broadcasts:
                continue
            as_of = datetime.combine(day, time(12, 30), tzinfo=zone)
            run_tick(store, ops, cfg, playbooks, as_of, now=as_of)
            ticks += 1
            horizon = datetime.combine(day + timedelta(days=every_days), time(0), tzinfo=zone)
            pending += _deliver(ops, zone, rng, horizon, costs, segments, messages)
            if progress:
                progress(f"{day.isoformat()}: tick {ticks}, {sum(messages.values())} messages")
        n_orders = _insert_orders(store, pending, n_orders)
        end = start + timedelta(days=days)
        pull_operational(store, ops, timezone=cfg.timezone, now=datetime.now(UTC))
        specs, _ = load_specs(ws.root)
        rows = []
        for spec in specs:
            r = read_playbook(store, spec, as_of=end_of_day(end), settings=cfg.learn)
            truth = _truth(store, spec.name, spec.window_days, end)
            covered = None
            if (
                r.incremental_conversions_low is not None
                and r.incremental_conversions_high is not None
            ):
                covered = r.incremental_conversions_low <= truth <= r.incremental_conversions_high
            steps = []
            for s in r.steps:
                steps.append(
                    {"step": s.step, "measured": s.incremental_conversions,
                     "low": s.incremental_conversions_low, "high": s.incremental_conversions_high,
                     "truth": _step_truth(store, spec.name, s.step, spec.window_days, end),
                     "cost": s.cost, "recommendation": s.recommendation, "reason": s.reason}
                )  # fmt: skip
            rows.append(
                TruthRow(
                    spec.name,
                    sum(r.entrants.values()),
                    r.incremental_conversions,
                    r.incremental_conversions_low,
                    r.incremental_conversions_high,
                    truth,
                    r.reason,
                    covered,
                    steps,
                )
            )
        share = float(cfg.policy.global_holdout or 0.0)
        programme = read_global_holdout(
            store, as_of=end_of_day(end), share=share, settings=cfg.learn
        ).to_dict()
        return LoopResult(start, end, ticks, messages, n_orders, rows, programme)
    finally:
        ops.close()
        store.close()


def _demo_settings(ws: Workspace) -> None:
    """The demo's choices for learning fast (see the module docstring), written into its files."""
    path = ws.root / "playbooks" / "winback-60.yaml"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("no_reaction: [email, push]}, holdout: 0.20}",
                         "no_reaction: [email, push]}, holdout: 0.50}"),
            encoding="utf-8",
        )  # fmt: skip
    config = ws.config_path.read_text(encoding="utf-8")
    if "\nlearn:" not in config:
        config += (
            "\n# The demo reads arms from 20 customers (the default is 30).\n"
            "learn: {margin: 0.5, min_entrants: 20}\n"
        )
        ws.config_path.write_text(config, encoding="utf-8")


def _broadcast_days(playbooks: list[Any], start: date, days: int) -> set[date]:
    """Days on which a scheduled playbook broadcasts (the planner must run on them)."""
    out: set[date] = set()
    end = start + timedelta(days=days)
    for pb in playbooks:
        schedule = getattr(pb.trigger, "schedule", None)
        if schedule is None:
            continue
        if schedule.at is not None:
            out.add(schedule.at.date())
            continue
        moment = schedule.start.date()
        while moment <= end:
            if moment > start:
                out.add(moment)
            moment += timedelta(days=schedule.every_days)
    return out


def _deliver(
    ops: Any,
    zone: ZoneInfo,
    rng: np.random.Generator,
    horizon: datetime,
    costs: dict[str, float],
    segments: dict[str, str],
    messages: dict[str, int],
) -> list[tuple[str, datetime, float, str | None]]:
    """The demo courier: deliver the queued rows due before ``horizon``; simulate reactions."""
    with ops.begin() as con:
        rows = con.execute(
            sa.select(OUTBOX).where(OUTBOX.c.status == "queued", OUTBOX.c.due_at < horizon)
        ).all()
        if not rows:
            return []
        ledger = []
        orders: list[tuple[str, datetime, float, str | None]] = []
        reacted = rng.random(len(rows))
        clicked = rng.random(len(rows))
        bought = rng.random(len(rows))
        now = datetime.now(UTC)
        for i, r in enumerate(rows):
            ch = str(r.channel)
            messages[ch] = messages.get(ch, 0) + 1
            sent_at = r.due_at
            base = {"message_key": r.key, "customer_id": r.customer_id, "playbook": r.playbook,
                    "occurrence": r.occurrence, "step": r.step, "channel": ch, "reason": None,
                    "recorded_at": now, "detail": None}  # fmt: skip
            ledger.append(
                base
                | {
                    "event_id": f"{r.key}:sent",
                    "type": "sent",
                    "cost": costs.get(ch, 0.0),
                    "ts": sent_at,
                }
            )
            ledger.append(
                base
                | {
                    "event_id": f"{r.key}:delivered",
                    "type": "delivered",
                    "cost": 0.0,
                    "ts": sent_at,
                }
            )
            if reacted[i] < REACH.get(ch, 0.5):
                kind = "opened"
                ledger.append(
                    base
                    | {
                        "event_id": f"{r.key}:opened",
                        "type": kind,
                        "cost": 0.0,
                        "ts": sent_at + timedelta(hours=2),
                    }
                )
                if clicked[i] < 0.25:
                    ledger.append(
                        base
                        | {
                            "event_id": f"{r.key}:clicked",
                            "type": "clicked",
                            "cost": 0.0,
                            "ts": sent_at + timedelta(hours=2, minutes=5),
                        }
                    )
            effect = EFFECTS.get((ch, str(r.step)), 0.03 if ch == "email" else 0.02)
            effect *= SEGMENT_FACTOR.get(segments.get(str(r.customer_id), ""), 1.0)
            if bought[i] < effect:
                local = sent_at.astimezone(zone).replace(tzinfo=None)
                at = local + timedelta(days=float(rng.uniform(0.1, 5.0)))
                price = float(rng.choice(PRICES, p=PRICE_P))
                orders.append((str(r.customer_id), at, price, f"{r.playbook}:{r.step}"))
        con.execute(SEND_LEDGER.insert(), ledger)
        con.execute(
            OUTBOX.update()
            .where(OUTBOX.c.key.in_([r.key for r in rows]))
            .values(status="sent", sent_at=OUTBOX.c.due_at, updated_at=now)
        )
    return orders


def _truth(store: Any, playbook: str, window: int, end: date) -> int:
    """Treated entrants who bought in their window only because of the playbook's messages."""
    value = store.con.execute(
        f"""WITH j AS (
            SELECT customer_id, entered_at, entered_at + INTERVAL ({int(window)}) DAY AS w_end
            FROM ops_journeys WHERE playbook = ? AND arm = 'treatment'
              AND entered_at + INTERVAL ({int(window)}) DAY <= CAST(? AS TIMESTAMP)),
        o AS (SELECT j.customer_id, j.entered_at,
                     bool_or(json_extract_string(od.attributes, '$.cause') LIKE ? || ':%') AS caused,
                     bool_or(coalesce(json_extract_string(od.attributes, '$.cause'), '') NOT LIKE ? || ':%') AS other
              FROM j JOIN orders od ON od.customer_id = j.customer_id AND od.status = 'paid'
               AND od.paid_at >= j.entered_at AND od.paid_at < j.w_end
              GROUP BY ALL)
        SELECT count(*) FILTER (WHERE caused AND NOT other) FROM o""",
        [playbook, datetime.combine(end + timedelta(days=1), time()), playbook, playbook],
    ).fetchone()
    return int(value[0]) if value else 0


def _step_truth(store: Any, playbook: str, step: str, window: int, end: date) -> int:
    """Customers treated at ``step`` who bought in its window only because of that step."""
    unit = f"playbook:{playbook}:step:{step}"
    cause = f"{playbook}:{step}"
    value = store.con.execute(
        f"""WITH a AS (
            SELECT customer_id, ts, ts + INTERVAL ({int(window)}) DAY AS w_end
            FROM ops_assignments WHERE unit = ? AND arm = 'treatment'
              AND ts + INTERVAL ({int(window)}) DAY <= CAST(? AS TIMESTAMP)),
        o AS (SELECT a.customer_id, a.ts,
                     bool_or(json_extract_string(od.attributes, '$.cause') = ?) AS caused,
                     bool_or(coalesce(json_extract_string(od.attributes, '$.cause'), '') <> ?) AS other
              FROM a JOIN orders od ON od.customer_id = a.customer_id AND od.status = 'paid'
               AND od.paid_at >= a.ts AND od.paid_at < a.w_end
              GROUP BY ALL)
        SELECT count(*) FILTER (WHERE caused AND NOT other) FROM o""",
        [unit, datetime.combine(end + timedelta(days=1), time()), cause, cause],
    ).fetchone()
    return int(value[0]) if value else 0
