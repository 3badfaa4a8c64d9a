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

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.compare import arm_summaries, compare_arms, economics, replace, srm_check
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
    values: Mapping[tuple[str, str], npt.NDArray[np.float64]] | None = None,
    segment_values: Mapping[str, Mapping[tuple[str, str], npt.NDArray[np.float64]]] | None = None,
) -> Readout:
    """The readout from sufficient statistics (a warehouse aggregate, or pooled occurrences).

    ``values`` ((arm, outcome) → per-customer values) enables the bootstrap for non-binary
    outcomes; without it those use Welch.
    """
    settings = settings or ReadoutSettings()
    if not stats.arms:
        raise ExperimentError(f"experiment '{experiment}' has no customers in any arm")
    if control not in stats.arms and (planned_shares is None or control not in planned_shares):
        raise ExperimentError(
            f"control arm '{control}' not found{did_you_mean(control, stats.arms)}; "
            f"arms are: {', '.join(sorted(stats.arms))}"
        )
    for name in (conversion, revenue):
        if name is not None and name not in stats.kinds:
            raise ExperimentError(
                f"outcome '{name}' is not among the outcomes {sorted(stats.kinds)}"
                f"{did_you_mean(name, stats.kinds)}"
            )
    names = set(stats.arms) | set(planned_shares or {})
    treatments = sorted(a for a in names if a != control)
    comparisons = compare_arms(stats, control, treatments, settings, values, None)
    segments: list[Comparison] = []
    for seg, seg_stats in sorted((segment_stats or {}).items()):
        seg_vals = (segment_values or {}).get(seg)
        segments += compare_arms(seg_stats, control, treatments, settings, seg_vals, seg)
    adjust = holm if settings.correction == "holm" else benjamini_hochberg
    adjusted: list[Comparison] = []
    for arm in treatments:
        for outcome in stats.kinds:
            family = [s for s in segments if s.arm == arm and s.outcome == outcome]
            ps = adjust([s.p_value for s in family])
            adjusted += [
                replace(s, p_value_adjusted=(None if math.isnan(p) else p))
                for s, p in zip(family, ps, strict=True)
            ]
    srm = srm_check(stats, planned_shares, settings)
    warnings: list[str] = []
    if srm is not None and srm.mismatch:
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
    )


def _values(
    units: pd.DataFrame, arm_column: str, kinds: Mapping[str, OutcomeKind]
) -> dict[tuple[str, str], npt.NDArray[np.float64]]:
    out: dict[tuple[str, str], npt.NDArray[np.float64]] = {}
    arms = units[arm_column].astype(str)
    for arm in arms.unique():
        mask = (arms == arm).to_numpy()
        for o, kind in kinds.items():
            if kind == "continuous":
                out[(str(arm), o)] = units[o].to_numpy(dtype=np.float64)[mask]
    return out


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
    wants_rows = settings.revenue_interval != "welch" and any(
        k == "continuous" for k in stats.kinds.values()
    )
    values = _values(units, arm_column, stats.kinds) if wants_rows else None
    seg_stats: dict[str, ExperimentStats] = {}
    seg_values: dict[str, Mapping[tuple[str, str], npt.NDArray[np.float64]]] = {}
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
            if wants_rows:
                seg_values[str(seg)] = _values(part, arm_column, stats.kinds)
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
        values=values,
        segment_values=seg_values,
    )
