"""The closed loop on the demo school: twelve simulated weeks of the template's playbooks sent
for real, the customers' reactions, and the readouts printed beside the simulated truth.

Every simulated day, at 12:30 in the school's time zone, in the order a running school sees it:

1. **Purchases** made since the last day are stored in the service's inbox as
   ``POST /v1/events`` stores an order (same parser; the per-event live status update is left to
   the weekly publish): the base's own purchases and those the messages caused.
2. **The batch job** (daily by default, see below) brings the inbox (as orders, with
   ``customer_state`` kept up to date) and the send ledger, journeys, assignments and consents
   into the analytics store (:func:`livebase.jobs.bring_in`); every seventh day it re-segments
   the base and publishes every customer's status.
3. **The planner** runs one tick in that job (:func:`~livebase.orchestrate.run.run_tick`:
   entries, holdouts, cascades, caps, consent, quiet hours, written to the operational store).
4. **The worker** sends what is due that day (:func:`~livebase.delivery.run.send_due`: claims,
   re-checks, sandboxed templates, signed links, the ledger) to the local receivers of
   :mod:`livebase.demo.sinks`; a cascade step due between two ticks goes out on its own day.
5. **Customers react** to what landed there (:mod:`livebase.demo.reactions`): opens and clicks
   through the signed links, delivery reports of push and SMS, purchases the messages caused.

The planner runs daily (``every_days=1``, as a school runs it). A larger ``every_days`` runs
the batch job only every that many days and on each broadcast day: the triggers catch up at the
next tick (inactivity and segment entry are conditions on the state, not events that can be
missed) and the worker still sends every step on its due day.

The bridges re-read nothing before their watermarks (:data:`BRIDGE_OVERLAP`), not the ten
minutes a running service needs: the operational rows are stamped with the wall clock, and
twelve simulated weeks take a few wall minutes, so the default overlap would copy every row
written since the simulation began again at every tick. No overlap is exact here: every writer
of the simulation (planner, worker, reactions, purchases) runs in this process and commits
before the next pull starts, so no transaction is ever in flight across a pull, and a row
written after a pull is stamped later than every row it read.

Assumptions of the simulation (the "truth" the readouts are checked against):

- Without messages a customer buys on a given day with a hazard set by their history:
  ``(paid orders in the last year + 0.3) / 365 × 0.35`` (about one purchase a year for a
  one-course student; a school's repeat rate of 25–35 % a year).
- A delivered message adds a purchase with probability
  :func:`~livebase.demo.reactions.effect_of` (by channel and step, times a segment multiplier:
  students "At Risk" or "Can't Lose" respond 1.4×, "New" 1.2×), 0.1–5 days after it arrives,
  bought by those it reached: e-mail opens 35 %, push is tapped by 60 %, SMS is read by 95 % —
  but the SMS step's true effect is tiny.
- The demo holds out half of the customers who reach the win-back SMS (the template holds
  out 20 %) and reads arms from 20 customers (``learn.min_entrants``), so that the paid step
  can be read within twelve weeks of a 5,000-student school.
- It holds out 30 % of the Champions' early access (the template: 10 %). The school has about
  350 Champions a broadcast and two broadcasts end their window within the twelve weeks, so
  10 % is about 28 distinct customers, held out at both broadcasts (the holdout is sticky per
  customer): with seed 7 they happen to be heavier buyers than the treated (expected organic
  conversion in the window 13.7 % vs 11.2 %), the readout was −29 [−95, +38] against a true
  +40, and over 400 re-draws of that design the 95 % interval covered the truth only 93 % of
  the time (95.5 % at a 30 % holdout). Truth and readout count the same entrants, windows and
  purchases; the holdout was too small.
- The truth of a playbook is counted by :mod:`livebase.demo.truth` on the simulator's own
  record of why each purchase happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from livebase.demo.reactions import PRICE_P, PRICES, Purchase, SinkReader, react
from livebase.demo.sinks import EMAIL_DIR, SENT_DIR, local_sinks, write_demo_channels
from livebase.errors import ChannelError
from livebase.ops.store import OpsStore
from livebase.store import Store
from livebase.workspace import Workspace

__all__ = ["BRIDGE_OVERLAP", "DEMO_HOLDOUTS", "EVERY_DAYS", "SEND_TIME", "LoopResult",
           "TruthRow", "prepare_workspace", "run_closed_loop"]  # fmt: skip

SEND_TIME = time(12, 30)
"""When the simulated school plans and sends each day (local time)."""
EVERY_DAYS = 1
"""The planner's batch job runs every this many simulated days (and on broadcast days)."""
DEMO_HOLDOUTS = {
    "winback-60": ("no_reaction: [email, push]}, holdout: 0.20}",
                   "no_reaction: [email, push]}, holdout: 0.50}"),
    "champions-early-access": ("\nholdout: 0.10\n", "\nholdout: 0.30\n"),
}  # fmt: skip
"""The demo's holdouts where the template's would hold out too few customers to read within
twelve weeks (playbook file → the template's text and the demo's; see the module docstring)."""
BRIDGE_OVERLAP = timedelta(0)
"""How far before their watermarks the simulation's bridges re-read (see the module docstring)."""


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
    reactions: dict[str, int] = field(default_factory=dict)
    sent_folder: str = ""
    """Where the messages landed (``.eml`` files, JSON lines; tasks/calls.csv beside)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds spent per phase (purchases, bridges, planner, sending…), largest first."""


@contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    """Add the wall time of the block to ``seconds[phase]`` (a measurement, not an input)."""
    started = perf_counter()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + perf_counter() - started


def _same(moment: datetime) -> datetime:
    return moment


def _due(ops: OpsStore, now: datetime) -> bool:
    """Whether a queued or retried message is due at ``now`` (the worker has work)."""
    import sqlalchemy as sa

    from livebase.ops.tables import OUTBOX

    due = sa.func.coalesce(OUTBOX.c.next_attempt_at, OUTBOX.c.due_at)
    with ops.read() as con:
        found = con.execute(
            sa.select(OUTBOX.c.key)
            .where(OUTBOX.c.status.in_(("queued", "retry")), due <= now)
            .limit(1)
        ).first()
    return found is not None


def _hazard(store: Store, as_of: datetime) -> pd.DataFrame:
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


def _segments(store: Store, day: date) -> dict[str, str]:
    rows = store.con.execute(
        """SELECT customer_id, segment FROM segment_history WHERE scheme = 'named'
           AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)""",
        [day, day],
    ).fetchall()
    return {str(c): str(s) for c, s in rows}


class _Purchases:
    """The simulation's purchases: pending until they happen, then stored in the service's
    inbox as ``POST /v1/events`` stores an order (checked by the same parser), and kept with
    their cause for the truth."""

    def __init__(self, ops: OpsStore, timezone: str) -> None:
        self.ops = ops
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.pending: list[Purchase] = []
        self.done: list[Purchase] = []

    def submit_until(self, moment: datetime) -> int:
        """Submit every pending purchase made before ``moment`` (local, naive); how many."""
        from livebase.ingest.inbound import parse_batch
        from livebase.ops.tables import INBOX
        from livebase.ops.writes import insert_ignore

        due = sorted((p for p in self.pending if p.at < moment), key=lambda p: p.at)
        if not due:
            return 0
        self.pending = [p for p in self.pending if p.at >= moment]
        items = []
        for i, p in enumerate(due, start=len(self.done)):
            items.append(
                {"event_id": f"demo-order-{i}", "customer_id": p.customer_id,
                 "ts": p.at.replace(tzinfo=self.zone).isoformat(),
                 "order": {"order_id": f"demo-{i}", "amount": p.amount, "status": "paid",
                           "items": "demo purchase"}}
            )  # fmt: skip
        events = parse_batch(items, max_batch=len(items), timezone=self.timezone)
        rows = [
            {"event_id": e.event_id, "kind": e.kind, "customer_id": e.customer_id,
             "name": e.name, "ts": e.ts, "payload": e.payload(), "source": "demo"}
            for e in events
        ]  # fmt: skip
        with self.ops.begin() as con:
            insert_ignore(con, INBOX, rows)
        self.done += due
        return len(due)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": [p.customer_id for p in self.done],
                "paid_at": pd.to_datetime([p.at for p in self.done]),
                "cause": [p.cause for p in self.done],
            }
        )


def _segment(store: Store, ops: OpsStore, config: Any, day: date, now: datetime) -> None:
    """Re-segment as of ``day`` and publish every customer's live status."""
    from livebase.segments import run_segmentation
    from livebase.segments.publish import publish_status

    run = run_segmentation(
        store, config.features, config.segments, day, ran_at=now.replace(tzinfo=None), collect=False
    )
    publish_status(
        store, ops, config.features, config.segments, run, timezone=config.timezone, now=now
    )


def prepare_workspace(ws: Workspace) -> Workspace:
    """The demo's choices for learning fast (see the module docstring) and its local channels,
    written into its files; the templates its playbooks name are checked."""
    from livebase.delivery.templates import check_templates
    from livebase.orchestrate.run import load_workspace_playbooks

    for name, (template, demo) in DEMO_HOLDOUTS.items():
        path = ws.root / "playbooks" / f"{name}.yaml"
        if path.exists():
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(template, demo), encoding="utf-8")
    config = ws.config_path.read_text(encoding="utf-8")
    if "\nlearn:" not in config:
        config += (
            "\n# The demo reads arms from 20 customers (the default is 30).\n"
            "learn: {margin: 0.5, min_entrants: 20}\n"
        )
        ws.config_path.write_text(config, encoding="utf-8")
    ws = write_demo_channels(ws)
    playbooks = load_workspace_playbooks(ws.root, ws.config)
    names = sorted({s.template for pb in playbooks for s in pb.steps if s.template})
    check_templates(ws, names)
    return ws


def run_closed_loop(
    ws: Workspace,
    store: Store,
    *,
    start: date,
    weeks: int = 12,
    seed: int = 7,
    every_days: int = EVERY_DAYS,
    progress: Callable[[str], None] | None = None,
) -> LoopResult:
    """Simulate ``weeks`` weeks after ``start`` with the workspace's playbooks (see the module
    docstring) in its open ``store``, then read every playbook out against its holdout beside
    the simulated truth. The workspace must have been through :func:`prepare_workspace`."""
    from livebase.delivery.run import send_due
    from livebase.jobs import bring_in
    from livebase.orchestrate.run import load_workspace_playbooks, run_tick

    cfg = ws.config
    zone = ZoneInfo(cfg.timezone)
    playbooks = load_workspace_playbooks(ws.root, cfg)
    rng = np.random.default_rng(seed)
    days = weeks * 7
    reactions: Counter[str] = Counter()
    seconds: dict[str, float] = {}
    spent = partial(_timed, seconds)
    ticks = 0
    keys = ws.secrets().signing_keys()
    reader = SinkReader(
        ws.root / SENT_DIR,
        email_dir=ws.root / SENT_DIR / EMAIL_DIR,
        tasks=ws.root / (cfg.channels["tasks"].path or "tasks/calls.csv"),
    )
    with ws.open_ops() as ops, local_sinks(ws) as sending:
        bought = _Purchases(ops, cfg.timezone)
        first = datetime.combine(start, SEND_TIME, tzinfo=zone)
        bring_in(store, ops, cfg, now=first, overlap=BRIDGE_OVERLAP)
        _segment(store, ops, cfg, start, first)
        hz = _hazard(store, datetime.combine(start, time()))
        ids = hz["customer_id"].astype(str).to_numpy()
        hazard = hz["hazard"].to_numpy()
        segments = _segments(store, start)
        broadcasts = _broadcast_days(playbooks, start, days)
        resegment = start
        for d in range(1, days + 1):
            day = start + timedelta(days=d)
            now = datetime.combine(day, SEND_TIME, tzinfo=zone)
            with spent("purchases"):
                # the base buys on its own, at some hour of the day
                for cid in ids[rng.random(len(ids)) < hazard]:
                    at = datetime.combine(
                        day, time(int(rng.integers(8, 23)), int(rng.integers(0, 60)))
                    )
                    price = float(rng.choice(PRICES, p=PRICE_P))
                    bought.pending.append(Purchase(str(cid), at, price, None))
                bought.submit_until(now.replace(tzinfo=None))
            if d % every_days == 0 or d == days or day in broadcasts:
                with spent("bridges"):
                    bring_in(store, ops, cfg, now=now, overlap=BRIDGE_OVERLAP)
                if (day - resegment).days >= 7:
                    with spent("segmentation"):
                        _segment(store, ops, cfg, day, now)
                        segments, resegment = _segments(store, day), day
                with spent("planner"):
                    run_tick(store, ops, cfg, playbooks, now, now=now, bridge=False)
                ticks += 1
            with spent("sending"):
                if _due(ops, now):  # the worker sends what is due today
                    report = send_due(sending, clock=partial(_same, now))
                    if report.unavailable:
                        name, why = next(iter(report.unavailable.items()))
                        raise ChannelError(
                            f"the demo could not send: {why}", channel=name, key="type"
                        )
            with spent("reactions"), ops.begin() as con:
                caused, counts = react(con, keys, reader.new(), sent_at=now, zone=zone,
                                       seed=seed, segments=segments)  # fmt: skip
            bought.pending += caused
            reactions.update(counts)
            if progress:
                progress(f"{day.isoformat()}: day {d} of {days}, {ticks} planner ticks")
        end = start + timedelta(days=days)
        closing = datetime.combine(end + timedelta(days=1), time())
        bought.submit_until(closing)
        bring_in(store, ops, cfg, now=closing.replace(tzinfo=zone), overlap=BRIDGE_OVERLAP)
    with spent("readouts"):
        rows = _readouts(ws, store, bought.frame(), end)
    messages = dict(
        store.con.execute(
            "SELECT channel, count(*) FROM ops_send_ledger WHERE type = 'sent' "
            "GROUP BY channel ORDER BY channel"
        ).fetchall()
    )
    programme = _programme(ws, store, end)
    return LoopResult(start, end, ticks, messages, len(bought.done), rows, programme,
                      dict(sorted(reactions.items())), str(ws.root / SENT_DIR),
                      {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])})  # fmt: skip


def _programme(ws: Workspace, store: Store, end: date) -> dict[str, Any]:
    from livebase.measure.playbook_store import read_global_holdout
    from livebase.measure.playbook_workflow import end_of_day

    share = float(ws.config.policy.global_holdout or 0.0)
    return read_global_holdout(
        store, as_of=end_of_day(end), share=share, settings=ws.config.learn
    ).to_dict()


def _readouts(ws: Workspace, store: Store, bought: pd.DataFrame, end: date) -> list[TruthRow]:
    """Every playbook's readout beside its simulated truth."""
    from livebase.demo.truth import playbook_truth, step_truth
    from livebase.measure.playbook_store import read_playbook
    from livebase.measure.playbook_workflow import end_of_day, load_specs

    specs, _ = load_specs(ws.root)
    rows = []
    for spec in specs:
        r = read_playbook(store, spec, as_of=end_of_day(end), settings=ws.config.learn)
        truth = playbook_truth(store, bought, spec.name, spec.window_days, end)
        covered = None
        low, high = r.incremental_conversions_low, r.incremental_conversions_high
        if low is not None and high is not None:
            covered = low <= truth <= high
        steps = [
            {"step": s.step, "measured": s.incremental_conversions,
             "low": s.incremental_conversions_low, "high": s.incremental_conversions_high,
             "truth": step_truth(store, bought, spec.name, s.step, spec.window_days, end),
             "cost": s.cost, "recommendation": s.recommendation, "reason": s.reason}
            for s in r.steps
        ]  # fmt: skip
        rows.append(
            TruthRow(spec.name, sum(r.entrants.values()), r.incremental_conversions, low, high,
                     truth, r.reason, covered, steps)
        )  # fmt: skip
    return rows


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
