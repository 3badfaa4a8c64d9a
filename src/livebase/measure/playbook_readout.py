"""A playbook against its holdout, and each paid step against its own holdout of non-responders.

Pure functions on sums: rows of :func:`~livebase.measure.playbook_sql.outcome_sums` become
:class:`~livebase.measure.sufficient.ArmStats` (:func:`arm_stats`), read out with the
statistics of :mod:`livebase.measure.readout` (intervals that cover at small n, SRM against the
stored plan, family-wise correction across segments) and
:func:`~livebase.measure.pooling.pooled_readout` (occurrences pooled, stratified).

A readout that cannot be read yet is still a result, with a stable reason code
(:data:`PLAYBOOK_REASONS`).

>>> occ = {1: {"treatment": counts(900, 90, 90 * 3000.0), "holdout": counts(100, 5, 5 * 3000.0)}}
>>> r = playbook_readout_from_sums("winback", occ, holdout_share=0.1, cost=9000.0, messages=900)
>>> r.reason is None, round(r.incremental_conversions, 1)
(True, 45.0)
>>> r.cost_per_incremental_conversion
200.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from livebase.measure.pooling import StratifiedReadout, pooled_readout
from livebase.measure.readout import readout_from_stats
from livebase.measure.results import Costs, Readout, ReadoutSettings, _jsonable
from livebase.measure.settings import LearnSettings
from livebase.measure.statistics import SampleStats, TailStats
from livebase.measure.sufficient import ArmStats, ExperimentStats

__all__ = [
    "PLAYBOOK_REASONS",
    "PlaybookReadout",
    "Recommendation",
    "StepReadout",
    "Triple",
    "arm_stats",
    "counts",
    "incremental_fields",
    "playbook_readout_from_sums",
    "scale_lift",
    "step_readout_from_sums",
]

TREATMENT = "treatment"
HOLDOUT = "holdout"
KINDS: dict[str, Literal["binary", "continuous"]] = {
    "conversion": "binary",
    "revenue": "continuous",
}

PLAYBOOK_REASONS: dict[str, str] = {
    "no_entrants": "nobody has entered the playbook yet",
    "no_holdout": "the playbook holds nobody out: its effect cannot be measured",
    "window_not_over": "the conversion window of every entrant is still open: wait until it ends",
    "too_few_entrants": "too few customers in an arm with a finished window to read a lift",
    "no_cost": "the step has not spent anything yet: nothing to divide by",
}
"""Stable reason codes of a playbook or step readout that cannot be read (yet)."""

Recommendation = Literal["keep", "drop", "hold_out_more"]

SUM_KEYS = (
    "n",
    "conversions",
    "revenue_sum",
    "revenue_sum_sq",
    "revenue_pos_n",
    "revenue_log_sum",
    "revenue_log_sum_sq",
    "revenue_neg_n",
    "revenue_sum_cu",
    "converter_n",
    "converter_revenue_sum",
    "converter_revenue_sum_sq",
    "open_windows",
)
"""The sums of one group of customers, as :func:`~livebase.measure.playbook_sql.outcome_sums`
returns them."""

Sums = Mapping[str, Any]
"""One row of ``outcome_sums``: n, conversions, revenue_sum, … (see :func:`arm_stats`)."""


def counts(n: int, conversions: int, revenue: float = 0.0) -> dict[str, float]:
    """Sums of an arm where each converter spent ``revenue / conversions`` (tests, doctests).

    >>> counts(10, 2, 100.0)["revenue_sum_sq"]
    5000.0
    """
    each = revenue / conversions if conversions else 0.0
    log = math.log(each) if each > 0 else 0.0
    return {
        "n": n,
        "conversions": conversions,
        "revenue_sum": revenue,
        "revenue_sum_sq": conversions * each * each,
        "revenue_pos_n": conversions if each > 0 else 0,
        "revenue_log_sum": conversions * log,
        "revenue_log_sum_sq": conversions * log * log,
        "revenue_neg_n": 0,
        "revenue_sum_cu": conversions * each**3,
        "converter_n": conversions,
        "converter_revenue_sum": revenue,
        "converter_revenue_sum_sq": conversions * each * each,
        "open_windows": 0,
    }


def arm_stats(row: Sums) -> ArmStats:
    """The sufficient statistics of one arm from one row of sums.

    >>> arm_stats(counts(10, 2, 100.0)).outcomes["conversion"].mean
    0.2
    """
    n = int(row["n"])
    conv = float(row["conversions"])
    return ArmStats(
        n=n,
        outcomes={
            "conversion": SampleStats(n, conv, conv),
            "revenue": SampleStats(n, float(row["revenue_sum"]), float(row["revenue_sum_sq"])),
        },
        converter_revenue=SampleStats(
            int(row["converter_n"]),
            float(row["converter_revenue_sum"]),
            float(row["converter_revenue_sum_sq"]),
        ),
        tails={
            "revenue": TailStats(
                int(row["revenue_pos_n"]),
                float(row["revenue_log_sum"]),
                float(row["revenue_log_sum_sq"]),
                int(row["revenue_neg_n"]),
                float(row["revenue_sum_cu"]),
            )
        },
    )


def _experiment(arms: Mapping[str, Sums]) -> ExperimentStats:
    return ExperimentStats(
        arms={a: arm_stats(s) for a, s in arms.items() if int(s["n"]) > 0}, kinds=KINDS
    )


def _reason(
    strata: Mapping[Any, Mapping[str, Sums]], holdout_share: float, settings: LearnSettings
) -> str | None:
    n = {a: 0 for a in (TREATMENT, HOLDOUT)}
    open_windows = 0
    for arms in strata.values():
        for arm, s in arms.items():
            n[arm] = n.get(arm, 0) + int(s["n"])
            open_windows += int(s.get("open_windows", 0))
    if holdout_share <= 0 and not n[HOLDOUT]:
        return "no_holdout"
    if not any(n.values()):
        return "window_not_over" if open_windows else "no_entrants"
    if min(n[TREATMENT], n[HOLDOUT]) < settings.min_entrants:
        return "too_few_entrants"
    return None


def _nan_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class StepReadout:
    """One paid step against its own holdout of the customers who reached it."""

    step: str
    channel: str | None
    n_treatment: int
    n_holdout: int
    holdout_share: float
    cost: float
    messages: int
    incremental_conversions: float | None
    incremental_conversions_low: float | None
    incremental_conversions_high: float | None
    incremental_revenue: float | None
    incremental_revenue_low: float | None
    incremental_revenue_high: float | None
    conversions_per_1000: float | None
    """Incremental conversions per 1,000 (roubles, or the workspace's currency) spent."""
    conversions_per_1000_low: float | None
    conversions_per_1000_high: float | None
    break_even_conversions: float | None
    """Incremental conversions that would pay for the step at the margin."""
    recommendation: Recommendation | None
    why: str
    reason: str | None = None
    readout: Readout | None = None


@dataclass(frozen=True)
class PlaybookReadout:
    """What a playbook added against its holdout, with the money it cost."""

    playbook: str
    window_days: int
    holdout_share: float
    entrants: Mapping[str, int]
    open_windows: int
    reason: str | None
    message: str
    readout: Readout | None
    """All occurrences' sums: arms, SRM against the plan, segments (family-wise corrected)."""
    stratified: StratifiedReadout | None
    """Per occurrence and pooled across occurrences (stratified)."""
    incremental_conversions: float | None
    incremental_conversions_low: float | None
    incremental_conversions_high: float | None
    incremental_revenue: float | None
    incremental_revenue_low: float | None
    incremental_revenue_high: float | None
    cost: float
    messages: int
    roi: float | None
    roi_low: float | None
    roi_high: float | None
    cost_per_incremental_conversion: float | None
    cost_per_incremental_conversion_low: float | None
    cost_per_incremental_conversion_high: float | None
    """Upper end None: the interval of incremental conversions reaches zero (unbounded)."""
    steps: tuple[StepReadout, ...] = field(default=())
    costs_by_step: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (NaN becomes null)."""
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


def _pooled_lift(
    stratified: StratifiedReadout | None, outcome: str
) -> tuple[float, float, float] | None:
    if stratified is None:
        return None
    for p in stratified.pooled:
        if p.outcome == outcome and p.arm == TREATMENT:
            return p.lift, p.ci_low, p.ci_high
    return None


#: (estimate, low, high); None where it cannot be computed.
Triple = tuple[float | None, float | None, float | None]


def scale_lift(lift: tuple[float, float, float] | None, n: float) -> Triple:
    """A per-customer (lift, low, high) times ``n`` customers; None where not finite.

    >>> scale_lift((0.01, -0.002, float("nan")), 500)
    (5.0, -1.0, None)
    """
    if lift is None:
        return (None, None, None)
    return (_nan_none(lift[0] * n), _nan_none(lift[1] * n), _nan_none(lift[2] * n))


def incremental_fields(conv: Triple, rev: Triple) -> dict[str, Any]:
    """The ``incremental_conversions*`` and ``incremental_revenue*`` fields of a readout row
    (``StepReadout``, ``PlaybookReadout``, ``GlobalHoldoutMonth``), as keyword arguments.

    >>> incremental_fields((1.0, 0.5, 1.5), (None, None, None))["incremental_conversions_low"]
    0.5
    """
    out: dict[str, Any] = {}
    for name, (mid, low, high) in (("conversions", conv), ("revenue", rev)):
        out[f"incremental_{name}"] = mid
        out[f"incremental_{name}_low"] = low
        out[f"incremental_{name}_high"] = high
    return out


def _per_conversion(
    cost: float, inc: tuple[float | None, ...]
) -> tuple[float | None, float | None, float | None]:
    mid, low, high = inc
    if cost <= 0 or mid is None or mid <= 0:
        return (None, None, None)
    return (
        cost / mid,
        cost / high if high is not None and high > 0 else None,
        cost / low if low is not None and low > 0 else None,
    )


def playbook_readout_from_sums(
    playbook: str,
    strata: Mapping[Any, Mapping[str, Sums]],
    *,
    holdout_share: float,
    cost: float = 0.0,
    messages: int = 0,
    window_days: int = 14,
    segments: Mapping[str, Mapping[str, Sums]] | None = None,
    segment_column: str | None = None,
    costs_by_step: Mapping[str, float] | None = None,
    steps: tuple[StepReadout, ...] = (),
    settings: LearnSettings | None = None,
) -> PlaybookReadout:
    """Read a playbook out from sums per occurrence (``strata``: occurrence → arm → sums).

    Headline incremental conversions and revenue are the stratified (Mantel–Haenszel) lifts
    across occurrences times the treated customers; ROI uses ``margin`` from the settings.
    """
    settings = settings or LearnSettings()
    entrants = {TREATMENT: 0, HOLDOUT: 0}
    open_windows = 0
    for arms in strata.values():
        for arm, s in arms.items():
            entrants[arm] = entrants.get(arm, 0) + int(s["n"])
            open_windows += int(s.get("open_windows", 0))
    reason = _reason(strata, holdout_share, settings)
    rsettings = ReadoutSettings(alpha=settings.alpha)
    result: Readout | None = None
    stratified: StratifiedReadout | None = None
    if reason is None:
        total: dict[str, dict[str, float]] = {}
        for arms in strata.values():
            for arm, s in arms.items():
                acc = total.setdefault(arm, dict.fromkeys(SUM_KEYS, 0.0))
                for k in SUM_KEYS:
                    acc[k] += float(s.get(k, 0.0))
        costs = (
            Costs(
                per_message=cost / messages,
                messages={TREATMENT: messages},
                margin=settings.margin,
            )
            if messages > 0
            else None
        )
        result = readout_from_stats(
            _experiment(total),
            control=HOLDOUT,
            experiment=playbook,
            planned_shares={TREATMENT: 1.0 - holdout_share, HOLDOUT: holdout_share},
            conversion="conversion",
            revenue="revenue",
            costs=costs,
            settings=rsettings,
            segment_stats={s: _experiment(a) for s, a in (segments or {}).items()},
            segment_column=segment_column,
        )
        usable = {
            str(k): _experiment(a)
            for k, a in strata.items()
            if int(a.get(HOLDOUT, {}).get("n", 0)) > 0 and int(a.get(TREATMENT, {}).get("n", 0))
        }
        if usable:
            stratified = pooled_readout(usable, control=HOLDOUT, settings=rsettings)
    n_t = entrants[TREATMENT]
    conv = scale_lift(_pooled_lift(stratified, "conversion"), n_t)
    rev = scale_lift(_pooled_lift(stratified, "revenue"), n_t)
    roi: tuple[float | None, ...] = (None, None, None)
    if cost > 0 and rev[0] is not None:
        roi = tuple(None if r is None else (settings.margin * r - cost) / cost for r in rev)
    per = _per_conversion(cost, conv)
    message = PLAYBOOK_REASONS[reason] if reason else "read"
    return PlaybookReadout(
        playbook=playbook,
        window_days=window_days,
        holdout_share=holdout_share,
        entrants=entrants,
        open_windows=open_windows,
        reason=reason,
        message=message,
        readout=result,
        stratified=stratified,
        **incremental_fields(conv, rev),
        cost=cost,
        messages=messages,
        roi=roi[0],
        roi_low=roi[1],
        roi_high=roi[2],
        cost_per_incremental_conversion=per[0],
        cost_per_incremental_conversion_low=per[1],
        cost_per_incremental_conversion_high=per[2],
        steps=steps,
        costs_by_step=dict(costs_by_step or {}),
    )


def _decide(low: float, mid: float, high: float, break_even: float) -> tuple[Recommendation, str]:
    """Keep what surely pays, drop what the best estimate says does not pay, and hold out
    more where the estimate pays but the interval still reaches below break-even."""
    if low >= break_even:
        return "keep", "even the low end of the interval pays for the step"
    if high < break_even:
        return "drop", "even the high end of the interval does not pay for the step"
    if mid < break_even:
        return "drop", "the estimate does not pay for the step (its interval is still wide)"
    return (
        "hold_out_more",
        "the estimate pays for the step but its interval reaches below break-even: "
        "keep the step's holdout (or raise it) until the interval clears",
    )


def step_readout_from_sums(
    step: str,
    arms: Mapping[str, Sums],
    *,
    holdout_share: float,
    cost: float,
    messages: int,
    channel: str | None = None,
    value_per_conversion: float | None = None,
    settings: LearnSettings | None = None,
) -> StepReadout:
    """Escalation by incremental conversions per rouble: a paid step against its holdout.

    The step pays when ``margin × value_per_conversion × incremental conversions`` covers its
    cost (× ``break_even_share``). ``value_per_conversion`` defaults to the treated converters'
    average revenue. Keep when the interval's low end pays; drop when the estimate does not
    pay; hold out more when the estimate pays but the interval still reaches below.

    >>> s = step_readout_from_sums("sms", {"treatment": counts(2000, 60, 60 * 2000.0),
    ...     "holdout": counts(500, 14, 14 * 2000.0)}, holdout_share=0.2, cost=8000.0,
    ...     messages=2000, value_per_conversion=2000.0)
    >>> s.recommendation, round(s.break_even_conversions, 1)
    ('drop', 8.0)
    """
    settings = settings or LearnSettings()
    n_t = int(arms.get(TREATMENT, {}).get("n", 0))
    n_c = int(arms.get(HOLDOUT, {}).get("n", 0))
    base: dict[str, Any] = {
        "step": step,
        "channel": channel,
        "n_treatment": n_t,
        "n_holdout": n_c,
        "holdout_share": holdout_share,
        "cost": cost,
        "messages": messages,
    }
    empty: dict[str, Any] = dict.fromkeys(
        (
            "incremental_conversions",
            "incremental_conversions_low",
            "incremental_conversions_high",
            "incremental_revenue",
            "incremental_revenue_low",
            "incremental_revenue_high",
            "conversions_per_1000",
            "conversions_per_1000_low",
            "conversions_per_1000_high",
            "break_even_conversions",
            "recommendation",
        )
    )
    reason = _reason({0: arms}, holdout_share, settings)
    if reason is None and cost <= 0:
        reason = "no_cost"
    if reason is not None:
        if reason in {"too_few_entrants", "window_not_over"}:
            empty["recommendation"] = "hold_out_more"  # too little to decide: keep learning
        return StepReadout(**base, **empty, why=PLAYBOOK_REASONS[reason], reason=reason)
    r = readout_from_stats(
        _experiment(arms),
        control=HOLDOUT,
        experiment=step,
        planned_shares={TREATMENT: 1.0 - holdout_share, HOLDOUT: holdout_share},
        conversion="conversion",
        revenue="revenue",
        settings=ReadoutSettings(alpha=settings.alpha),
    )
    comp = {c.outcome: c for c in r.comparisons}
    c = comp["conversion"]
    rv = comp["revenue"]
    conv = (c.lift * n_t, c.ci_low * n_t, c.ci_high * n_t)
    rev = scale_lift((rv.lift, rv.ci_low, rv.ci_high), n_t)
    value = value_per_conversion
    if value is None:
        t = arm_stats(arms[TREATMENT]).converter_revenue
        value = t.mean if t is not None and t.n else math.nan
    break_even = settings.break_even_share * cost / (settings.margin * value)
    recommendation: Recommendation | None = None
    why = "no value per conversion: nobody treated bought"
    if math.isfinite(break_even) and all(math.isfinite(x) for x in conv):
        recommendation, why = _decide(conv[1], conv[0], conv[2], break_even)
    per = tuple(_nan_none(x * 1000.0 / cost) for x in conv)
    return StepReadout(
        **base,
        **incremental_fields(scale_lift(conv, 1), rev),
        conversions_per_1000=per[0],
        conversions_per_1000_low=per[1],
        conversions_per_1000_high=per[2],
        break_even_conversions=_nan_none(break_even),
        recommendation=recommendation,
        why=why,
        readout=r,
    )
