"""Experiment readouts: did it work, by how much, and are we sure.

Rows are reduced once to sufficient statistics per arm (:mod:`livebase.measure.sufficient`);
the readout itself (:func:`readout_from_stats`) only sees sums. Comparisons are computed in
:mod:`livebase.measure.compare`; the records returned are in :mod:`livebase.measure.results`.

Per-segment comparisons are corrected for multiple comparisons with Holm's step-down method
(family-wise error rate) by default, or Benjamini–Hochberg (false discovery rate) on request;
the family is all segments of one (arm, outcome).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.compare import (
    aov_comparison,
    arm_summaries,
    compare_arms,
    economics,
    replace,
    srm_check,
)
from livebase.measure.intervals import benjamini_hochberg, holm
from livebase.measure.results import (
    REASONS,
    ArmSummary,
    Comparison,
    Costs,
    Economics,
    Readout,
    ReadoutSettings,
    SrmCheck,
)
from livebase.measure.sufficient import (
    ArmStats,
    ExperimentStats,
    OutcomeKind,
    check_columns,
    experiment_stats,
    experiment_stats_sql,
    pool,
    stats_from_aggregates,
)

__all__ = [
    "REASONS",
    "ArmStats",
    "ArmSummary",
    "Comparison",
    "Costs",
    "Economics",
    "ExperimentStats",
    "OutcomeKind",
    "Readout",
    "ReadoutSettings",
    "SrmCheck",
    "experiment_stats",
    "experiment_stats_sql",
    "pool",
    "readout",
    "readout_from_stats",
    "stats_from_aggregates",
]


def _family_adjust(
    comparisons: Sequence[Comparison], primary: str | None, settings: ReadoutSettings
) -> list[Comparison]:
    """Correct the overall comparisons across their family: all arms × outcomes, or, with a
    declared primary outcome, the primary outcome's arms apart from the secondary outcomes."""
    adjust = holm if settings.correction == "holm" else benjamini_hochberg
    roles = [
        None if primary is None else ("primary" if c.outcome == primary else "secondary")
        for c in comparisons
    ]
    out = list(comparisons)
    for role in dict.fromkeys(roles):
        idx = [i for i, r in enumerate(roles) if r == role]
        ps = adjust([comparisons[i].p_value for i in idx])
        for i, p in zip(idx, ps, strict=True):
            out[i] = replace(
                comparisons[i],
                p_value_adjusted=None if math.isnan(p) else p,
                significant_adjusted=None if math.isnan(p) else bool(p < settings.alpha),
                role=role,
            )
    return out


def readout_from_stats(
    stats: ExperimentStats,
    *,
    control: str,
    experiment: str = "",
    planned_shares: Mapping[str, float] | None = None,
    conversion: str | None = None,
    revenue: str | None = None,
    costs: Costs | None = None,
    settings: ReadoutSettings | None = None,
    segment_stats: Mapping[str, ExperimentStats] | None = None,
    segment_column: str | None = None,
) -> Readout:
    """The readout from sufficient statistics (a warehouse aggregate, or one occurrence).

    Occurrences of a recurring playbook with different splits or baselines are not added up:
    compare them per occurrence and pool the lifts with
    :func:`~livebase.measure.pooling.pooled_readout`.
    """
    settings = settings or ReadoutSettings()
    if not stats.arms:
        raise ExperimentError(f"experiment '{experiment}' has no customers in any arm")
    if control not in stats.arms and (planned_shares is None or control not in planned_shares):
        raise ExperimentError(
            f"control arm '{control}' not found{did_you_mean(control, stats.arms)}; "
            f"arms are: {', '.join(sorted(stats.arms))}"
        )
    for name in (conversion, revenue, settings.primary):
        if name is not None and name not in stats.kinds:
            raise ExperimentError(
                f"outcome '{name}' is not among the outcomes {sorted(stats.kinds)}"
                f"{did_you_mean(name, stats.kinds)}"
            )
    names = set(stats.arms) | set(planned_shares or {})
    treatments = sorted(a for a in names if a != control)
    comparisons = _family_adjust(
        compare_arms(stats, control, treatments, settings, None), settings.primary, settings
    )
    segments: list[Comparison] = []
    for seg, seg_stats in sorted((segment_stats or {}).items()):
        segments += compare_arms(seg_stats, control, treatments, settings, seg)
    adjust = holm if settings.correction == "holm" else benjamini_hochberg
    adjusted: list[Comparison] = []
    for arm in treatments:
        for outcome in stats.kinds:
            family = [s for s in segments if s.arm == arm and s.outcome == outcome]
            ps = adjust([s.p_value for s in family])
            adjusted += [
                replace(
                    s,
                    p_value_adjusted=(None if math.isnan(p) else p),
                    significant_adjusted=None if math.isnan(p) else bool(p < settings.alpha),
                )
                for s, p in zip(family, ps, strict=True)
            ]
    aov: list[Comparison] = []
    if conversion is not None and revenue is not None and control in stats.arms:
        for arm in treatments:
            if arm in stats.arms:
                a = aov_comparison(
                    arm, control, stats.arms[arm], stats.arms[control], settings.alpha
                )
                if a is not None:
                    aov.append(a)
    srm = srm_check(stats, planned_shares, settings)
    warnings: list[str] = []
    if srm.mismatch:
        warnings.append(srm.message)
    for c in comparisons:
        if c.reason is not None:
            warnings.append(f"{c.arm} / {c.outcome}: {c.reason} — {REASONS[c.reason]}")
        elif c.underpowered:
            warnings.append(
                f"{c.arm} / {c.outcome}: underpowered — with these sizes only a lift of "
                f"{c.mde:.4g} ({c.relative_mde:.1%} relative) or more is detectable with "
                f"{settings.power:.0%} power"
            )
        if c.significant and c.significant_adjusted is False:
            warnings.append(
                f"{c.arm} / {c.outcome}: significant alone (p = {c.p_value:.3g}) but not after "
                f"the {settings.correction} correction across "
                f"{'the secondary outcomes' if c.role == 'secondary' else 'arms × outcomes'} "
                f"(adjusted p = {c.p_value_adjusted:.3g})"
            )
    return Readout(
        experiment=experiment,
        control=control,
        alpha=settings.alpha,
        arms=tuple(arm_summaries(stats, planned_shares, conversion, revenue)),
        comparisons=tuple(comparisons),
        srm=srm,
        economics=tuple(economics(comparisons, treatments, conversion, revenue, costs)),
        segments=tuple(adjusted),
        segment_column=segment_column,
        correction=settings.correction,
        warnings=tuple(warnings),
        aov=tuple(aov),
        primary=settings.primary,
    )


def readout(
    units: pd.DataFrame,
    *,
    control: str,
    outcomes: Sequence[str],
    arm_column: str = "arm",
    experiment: str = "",
    planned_shares: Mapping[str, float] | None = None,
    covariates: Mapping[str, str] | None = None,
    conversion: str | None = None,
    revenue: str | None = None,
    segment_column: str | None = None,
    costs: Costs | None = None,
    settings: ReadoutSettings | None = None,
) -> Readout:
    """Read out an experiment from one row per customer.

    ``outcomes`` are numeric columns (0/1 columns are proportions); ``covariates`` maps an
    outcome to its pre-period column for CUPED; ``conversion`` and ``revenue`` name the outcomes
    used for AOV, incremental conversions/revenue and ROI; ``segment_column`` adds a per-segment
    breakdown with a multiple-comparison correction.

    >>> units = pd.DataFrame({"arm": ["t"] * 4 + ["c"] * 4, "buy": [1, 1, 0, 1, 0, 1, 0, 0]})
    >>> r = readout(units, control="c", outcomes=["buy"])
    >>> c = r.comparisons[0]
    >>> c.treatment_mean, c.control_mean, c.lift, round(c.ci_low, 3), round(c.ci_high, 3)
    (0.75, 0.25, 0.5, -0.135, 0.789)
    >>> r.srm.message[:28]
    'no plan: SRM not checked — g'
    """
    settings = settings or ReadoutSettings()
    if len(units) == 0:
        raise ExperimentError(f"experiment '{experiment}' has no rows to read out")
    if segment_column is not None:
        check_columns(units, [segment_column])
    stats = experiment_stats(
        units,
        arm_column=arm_column,
        outcomes=outcomes,
        covariates=covariates,
        conversion=conversion,
        revenue=revenue,
    )
    seg_stats: dict[str, ExperimentStats] = {}
    if segment_column is not None:
        for seg, part in units.groupby(units[segment_column].astype(str), sort=True):
            seg_stats[str(seg)] = experiment_stats(
                part,
                arm_column=arm_column,
                outcomes=outcomes,
                covariates=covariates,
                conversion=conversion,
                revenue=revenue,
                kinds=stats.kinds,
            )
    return readout_from_stats(
        stats,
        control=control,
        experiment=experiment,
        planned_shares=planned_shares,
        conversion=conversion,
        revenue=revenue,
        costs=costs,
        settings=settings,
        segment_stats=seg_stats,
        segment_column=segment_column,
    )
