"""Playbook readouts from the analytics store: run the SQL of :mod:`~livebase.measure.playbook_sql`
over the copies of the operational tables and hand the sums to the statistics.

Nothing here reads a clock: ``as_of`` is a parameter (the CLI defaults it to the data's latest
paid day).

>>> from livebase.store import Store
>>> from datetime import datetime
>>> with Store.in_memory() as store:
...     r = read_playbook(store, PlaybookSpec("winback", holdout=0.1), as_of=datetime(2026, 1, 1))
>>> r.reason
'no_entrants'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from livebase.measure.playbook_readout import (
    HOLDOUT,
    KINDS,
    TREATMENT,
    PlaybookReadout,
    StepReadout,
    Sums,
    Triple,
    _experiment,
    incremental_fields,
    playbook_readout_from_sums,
    scale_lift,
    step_readout_from_sums,
)
from livebase.measure.playbook_sql import (
    dropouts_sql,
    funnel_sql,
    global_holdout_sql,
    ledger_costs_sql,
    outcome_sums,
    unit_outcomes_sql,
)
from livebase.measure.pooling import pooled_readout
from livebase.measure.readout import readout_from_stats
from livebase.measure.results import Readout, ReadoutSettings, _jsonable
from livebase.measure.settings import LearnSettings
from livebase.store import Store

__all__ = [
    "FunnelStep",
    "GlobalHoldoutMonth",
    "GlobalHoldoutReadout",
    "PlaybookSpec",
    "read_funnel",
    "read_global_holdout",
    "read_playbook",
]


@dataclass(frozen=True)
class PlaybookSpec:
    """What a readout needs to know of a playbook file."""

    name: str
    holdout: float = 0.0
    """The playbook's planned holdout share (the stored plan of the assignments wins)."""
    window_days: int = 14
    conversion_event: str = "purchase"
    steps: tuple[str, ...] = ()
    step_channels: Mapping[str, str] = field(default_factory=dict)
    step_holdouts: Mapping[str, float] = field(default_factory=dict)
    """Step id → share of the customers reaching it held out (paid cascade steps)."""


def _rows(store: Store, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cur = store.con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _segment_scheme(store: Store, settings: LearnSettings) -> str | None:
    if settings.segment_scheme is not None:
        return settings.segment_scheme
    schemes = [
        str(r[0])
        for r in store.con.execute(
            "SELECT scheme FROM segment_history GROUP BY scheme "
            "ORDER BY count(DISTINCT segment) > 12, scheme <> 'named', scheme"
        ).fetchall()
    ]
    return schemes[0] if schemes else None


def _planned_share(store: Store, unit: str, default: float) -> float:
    value = store.con.execute(
        "SELECT max(holdout_share) FROM ops_assignments WHERE unit = ?", [unit]
    ).fetchone()
    return float(value[0]) if value and value[0] is not None else default


def _by(rows: Sequence[Mapping[str, Any]], key: str) -> dict[Any, dict[str, Sums]]:
    out: dict[Any, dict[str, Sums]] = {}
    for r in rows:
        out.setdefault(r[key], {})[str(r["arm"])] = r
    return out


def _step_costs(store: Store, name: str) -> dict[str, tuple[str, int, float]]:
    out: dict[str, tuple[str, int, float]] = {}
    for r in _rows(store, ledger_costs_sql(), [name]):
        sent = int(r["sent"])
        cost = float(r["sent_cost"]) if sent else float(r["planned_cost"])
        out[str(r["step"])] = (str(r["channel"]), sent or int(r["planned"]), cost)
    return out


def read_step(
    store: Store,
    spec: PlaybookSpec,
    step: str,
    *,
    as_of: datetime,
    value_per_conversion: float | None = None,
    settings: LearnSettings | None = None,
) -> StepReadout:
    """A paid step against its own holdout of the customers who reached it."""
    settings = settings or LearnSettings()
    unit = f"playbook:{spec.name}:step:{step}"
    sql, params = unit_outcomes_sql(unit, spec.window_days, spec.conversion_event, None)
    rows = _rows(store, outcome_sums(sql, ("arm",)), [as_of, *params])
    arms: dict[str, Sums] = {str(r["arm"]): r for r in rows}
    channel, messages, cost = _step_costs(store, spec.name).get(
        step, (spec.step_channels.get(step, ""), 0, 0.0)
    )
    return step_readout_from_sums(
        step,
        arms,
        holdout_share=_planned_share(store, unit, spec.step_holdouts.get(step, 0.0)),
        cost=cost,
        messages=messages,
        channel=channel or spec.step_channels.get(step),
        value_per_conversion=value_per_conversion,
        settings=settings,
    )


def read_playbook(
    store: Store,
    spec: PlaybookSpec,
    *,
    as_of: datetime,
    settings: LearnSettings | None = None,
) -> PlaybookReadout:
    """Read a playbook out against its holdout as of ``as_of``: per occurrence and pooled, per
    segment at entry, SRM against the stored plan, cost from the ledger, and each step that has
    its own holdout (escalation)."""
    settings = settings or LearnSettings()
    unit = f"playbook:{spec.name}"
    scheme = _segment_scheme(store, settings)
    sql, params = unit_outcomes_sql(unit, spec.window_days, spec.conversion_event, scheme)
    strata = _by(
        _rows(store, outcome_sums(sql, ("occurrence", "arm")), [as_of, *params]), "occurrence"
    )
    segments = _by(_rows(store, outcome_sums(sql, ("segment", "arm")), [as_of, *params]), "segment")
    costs = _step_costs(store, spec.name)
    cost = sum(c for _, _, c in costs.values())
    messages = sum(m for _, m, _ in costs.values())
    steps_with_holdout = [
        s
        for s in dict.fromkeys([*spec.steps, *spec.step_holdouts])
        if spec.step_holdouts.get(s, 0.0) > 0
    ]
    aov: float | None = None
    t = [a[TREATMENT] for a in strata.values() if TREATMENT in a]
    conv = sum(int(r["converter_n"]) for r in t)
    if conv:
        aov = sum(float(r["converter_revenue_sum"]) for r in t) / conv
    steps = tuple(
        read_step(store, spec, s, as_of=as_of, value_per_conversion=aov, settings=settings)
        for s in steps_with_holdout
    )
    return playbook_readout_from_sums(
        spec.name,
        strata,
        holdout_share=_planned_share(store, unit, spec.holdout),
        cost=cost,
        messages=messages,
        window_days=spec.window_days,
        segments={str(k): v for k, v in segments.items()} if scheme else None,
        segment_column=scheme,
        costs_by_step={s: c for s, (_, _, c) in costs.items()},
        steps=steps,
        settings=settings,
    )


@dataclass(frozen=True)
class FunnelStep:
    """One cascade step: who came due, what happened to them, what it cost, and why others
    dropped out of the plan (reason → customers)."""

    step: str
    channel: str
    due: int
    held_out: int
    planned: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    cost: float
    dropped: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


def read_funnel(store: Store, spec: PlaybookSpec) -> tuple[dict[str, int], list[FunnelStep]]:
    """Entered (by arm) and the funnel per cascade step, with money and drop-out reasons.

    Journeys that ended before a step (a purchase: "converted earlier") count as its reason
    ``converted_earlier`` on the step that would have come next.
    """
    entered = {
        str(arm): int(n)
        for arm, n in store.con.execute(
            "SELECT arm, count(*) FROM ops_journeys WHERE playbook = ? GROUP BY arm",
            [spec.name],
        ).fetchall()
    }
    drops: dict[str, dict[str, int]] = {}
    for r in _rows(store, dropouts_sql(), [spec.name]):
        reason = str(r["reason"]) if r["type"] != "held_out" else "held_out"
        d = drops.setdefault(str(r["step"]), {})
        d[reason] = d.get(reason, 0) + int(r["customers"])
    order = list(spec.steps)
    for step, n in store.con.execute(
        "SELECT next_step, count(*) FROM ops_journeys WHERE playbook = ? AND exit_reason IS NOT "
        "NULL AND next_step IS NOT NULL GROUP BY next_step",
        [spec.name],
    ).fetchall():
        d = drops.setdefault(str(step), {})
        d["converted_earlier"] = d.get("converted_earlier", 0) + int(n)
    rows = {str(r["step"]): r for r in _rows(store, funnel_sql(spec.window_days), [spec.name])}
    names = [s for s in order if s in rows or s in drops] + [s for s in rows if s not in order]
    out = []
    for s in names:
        r = rows.get(s, {})
        out.append(
            FunnelStep(
                step=s,
                channel=str(r.get("channel") or spec.step_channels.get(s, "")),
                due=int(r.get("due", 0)),
                held_out=int(r.get("held_out", 0)),
                planned=int(r.get("planned", 0)),
                sent=int(r.get("sent", 0)),
                delivered=int(r.get("delivered", 0)),
                opened=int(r.get("opened", 0)),
                clicked=int(r.get("clicked", 0)),
                converted=int(r.get("converted", 0)),
                cost=float(r.get("cost") or 0.0),
                dropped=drops.get(s, {}),
            )
        )
    return entered, out


@dataclass(frozen=True)
class GlobalHoldoutMonth:
    """One calendar month of the programme against customers never messaged."""

    month: str
    partial: bool
    n_programme: int
    n_holdout: int
    incremental_conversions: float | None
    incremental_conversions_low: float | None
    incremental_conversions_high: float | None
    incremental_revenue: float | None
    incremental_revenue_low: float | None
    incremental_revenue_high: float | None
    reason: str | None


@dataclass(frozen=True)
class GlobalHoldoutReadout:
    """The programme's incremental conversions and revenue per month, and pooled."""

    share: float
    months: tuple[GlobalHoldoutMonth, ...]
    total: GlobalHoldoutMonth | None
    readout: Readout | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


def _month_row(
    label: str, partial: bool, n_p: int, n_h: int, conv: Triple, rev: Triple, reason: str | None
) -> GlobalHoldoutMonth:
    return GlobalHoldoutMonth(
        month=label,
        partial=partial,
        n_programme=n_p,
        n_holdout=n_h,
        **incremental_fields(conv, rev),
        reason=reason,
    )


def _month(
    label: str, partial: bool, arms: Mapping[str, Sums], settings: LearnSettings
) -> tuple[GlobalHoldoutMonth, Readout | None]:
    n_p = int(arms.get("eligible", {}).get("n", 0))
    n_h = int(arms.get("holdout", {}).get("n", 0))
    none: Triple = (None, None, None)
    empty = _month_row(label, partial, n_p, n_h, none, none, "too_few_entrants")
    if min(n_p, n_h) < settings.min_entrants:
        return empty, None
    r = readout_from_stats(
        _experiment({TREATMENT: arms["eligible"], HOLDOUT: arms["holdout"]}),
        control=HOLDOUT,
        experiment="global",
        conversion="conversion",
        revenue="revenue",
        settings=ReadoutSettings(alpha=settings.alpha),
    )
    c = {x.outcome: x for x in r.comparisons}

    conv, rev = (scale_lift((c[o].lift, c[o].ci_low, c[o].ci_high), n_p) for o in KINDS)
    return _month_row(label, partial, n_p, n_h, conv, rev, None), r


def read_global_holdout(
    store: Store, *, as_of: datetime, share: float, settings: LearnSettings | None = None
) -> GlobalHoldoutReadout:
    """The whole programme against the global holdout, per calendar month up to ``as_of``
    (the last month partial), and pooled across months (stratified by month)."""
    settings = settings or LearnSettings()
    first = store.con.execute(
        "SELECT min(ts) FROM ops_assignments WHERE unit = 'global'"
    ).fetchone()
    if not first or first[0] is None:
        return GlobalHoldoutReadout(share, (), None, None)
    rows = _rows(store, global_holdout_sql(), [first[0], as_of])
    by = _by(rows, "month")
    months = []
    strata = {}
    for m, arms in sorted(by.items()):
        end = max(r["month_end"] for r in arms.values())
        label = m.strftime("%Y-%m")
        month, _ = _month(label, end > as_of, arms, settings)
        months.append(month)
        if (
            "eligible" in arms
            and "holdout" in arms
            and min(int(arms["eligible"]["n"]), int(arms["holdout"]["n"]))
        ):
            strata[label] = _experiment({TREATMENT: arms["eligible"], HOLDOUT: arms["holdout"]})
    total = None
    if strata:
        pooled = pooled_readout(
            strata, control=HOLDOUT, settings=ReadoutSettings(alpha=settings.alpha)
        )
        n_p = sum(m.n_programme for m in months)
        n_h = sum(m.n_holdout for m in months)
        # the months summed: the pooled lift per customer-month times the customer-months
        vals = {p.outcome: scale_lift((p.lift, p.ci_low, p.ci_high), n_p) for p in pooled.pooled}
        none: Triple = (None, None, None)
        conv, rev = (vals.get(o, none) for o in KINDS)
        total = _month_row("total", False, n_p, n_h, conv, rev, None)
    return GlobalHoldoutReadout(share, tuple(months), total, None)
