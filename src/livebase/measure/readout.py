"""Experiment readouts: did it work, by how much, and are we sure.

Rows are reduced once to sufficient statistics per arm (:func:`experiment_stats`, or the SQL of
:func:`experiment_stats_sql` run in the warehouse); the readout itself
(:func:`readout_from_stats`) only sees sums, so occurrences of a recurring playbook pool by
adding their statistics (:func:`pool`). Per treatment arm and outcome a :class:`Comparison`
carries the means, the absolute lift with its interval (Newcombe for proportions, Welch for
means, a seeded bootstrap for zero-inflated revenue on small bases, CUPED when a pre-period
covariate is given), the relative lift with its delta-method interval, the p-value and the
minimum detectable effect. A comparison that cannot be computed still has every field, with
NaN numbers and a stable ``reason`` code (:data:`REASONS`), as gbstats does.

Per-segment comparisons are corrected for multiple comparisons with Holm's step-down method
(family-wise error rate) by default, or Benjamini–Hochberg (false discovery rate) on request;
the family is all segments of one (arm, outcome).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.intervals import (
    Difference,
    Interval,
    benjamini_hochberg,
    bootstrap_difference,
    cuped_difference,
    holm,
    proportion_difference,
    relative_lift_delta,
    sample_ratio_mismatch,
    welch_difference,
)
from livebase.measure.power import minimum_detectable_effect
from livebase.measure.statistics import RegressionStats, SampleStats

__all__ = [
    "REASONS",
    "ArmStats",
    "ArmSummary",
    "Comparison",
    "Costs",
    "Economics",
    "ExperimentStats",
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

OutcomeKind = Literal["binary", "continuous"]
RevenueInterval = Literal["auto", "welch", "bootstrap"]
Correction = Literal["holm", "bh"]

REASONS: dict[str, str] = {
    "NO_UNITS_IN_ARM": "the treatment arm has no customers",
    "NO_UNITS_IN_CONTROL": "the control arm has no customers",
    "TOO_FEW_UNITS": "an arm has fewer than two customers: no variance can be estimated",
    "ZERO_VARIANCE": "the outcome does not vary in either arm: no test is possible",
    "ZERO_CONTROL_MEAN": "the control mean is zero: the relative lift is undefined",
}
"""Stable reason codes of comparisons that cannot be (fully) computed."""


@dataclass(frozen=True)
class ReadoutSettings:
    """Options of a readout."""

    alpha: float = 0.05
    """Two-sided level: 0.05 gives 95% intervals."""
    power: float = 0.8
    """Power used for the minimum detectable effect."""
    revenue_interval: RevenueInterval = "auto"
    """Interval for non-binary outcomes: bootstrap when rows are at hand and each arm has at
    most ``bootstrap_max_units`` customers ("auto"), always ("bootstrap"), never ("welch")."""
    n_bootstrap: int = 2000
    seed: int = 0
    bootstrap_max_units: int = 200_000
    srm_alpha: float = 0.001
    """A sample-ratio-mismatch p-value below this is flagged."""
    correction: Correction = "holm"
    target_relative_mde: float = 0.10
    """A non-significant comparison whose relative MDE exceeds this is flagged underpowered."""


@dataclass(frozen=True)
class Costs:
    """What the treatment cost: per-message price (one for all arms, or per arm) and volume."""

    per_message: float | Mapping[str, float]
    messages_per_customer: float = 1.0
    """Messages sent per treated customer (when ``messages`` is not given)."""
    messages: Mapping[str, int] | None = None
    """Exact messages sent per treatment arm."""
    margin: float = 1.0
    """Share of incremental revenue that is profit (1.0 = count revenue)."""


@dataclass(frozen=True)
class ArmStats:
    """Sufficient statistics of one arm: per outcome, per covariate-adjusted outcome, and the
    revenue of converters (for the average order value)."""

    n: int
    outcomes: Mapping[str, SampleStats]
    adjusted: Mapping[str, RegressionStats] = field(default_factory=dict)
    converter_revenue: SampleStats | None = None

    def __add__(self, other: ArmStats) -> ArmStats:
        conv: SampleStats | None = None
        if self.converter_revenue is not None and other.converter_revenue is not None:
            conv = self.converter_revenue + other.converter_revenue
        return ArmStats(
            n=self.n + other.n,
            outcomes={k: v + other.outcomes[k] for k, v in self.outcomes.items()},
            adjusted={k: v + other.adjusted[k] for k, v in self.adjusted.items()},
            converter_revenue=conv,
        )


@dataclass(frozen=True)
class ExperimentStats:
    """Sufficient statistics of every arm, plus what each outcome is."""

    arms: Mapping[str, ArmStats]
    kinds: Mapping[str, OutcomeKind]
    covariates: Mapping[str, str] = field(default_factory=dict)
    """outcome → pre-period covariate column used for CUPED."""

    def __add__(self, other: ExperimentStats) -> ExperimentStats:
        if dict(self.kinds) != dict(other.kinds) or dict(self.covariates) != dict(other.covariates):
            raise ExperimentError(
                "cannot pool occurrences with different outcomes or covariates: "
                f"{dict(self.kinds)} vs {dict(other.kinds)}"
            )
        arms = dict(self.arms)
        for arm, st in other.arms.items():
            arms[arm] = arms[arm] + st if arm in arms else st
        return ExperimentStats(arms=arms, kinds=self.kinds, covariates=self.covariates)


def pool(occurrences: Sequence[ExperimentStats]) -> ExperimentStats:
    """Pool the statistics of several occurrences of a recurring playbook (sum of sums).

    >>> a = ExperimentStats({"t": ArmStats(2, {"y": SampleStats(2, 1, 1)})}, {"y": "binary"})
    >>> pool([a, a]).arms["t"].outcomes["y"]
    SampleStats(n=4, total=2, sum_squares=2)
    """
    if not occurrences:
        raise ExperimentError("nothing to pool: give at least one occurrence")
    out = occurrences[0]
    for occ in occurrences[1:]:
        out = out + occ
    return out


def _is_binary(values: pd.Series) -> bool:
    arr = values.to_numpy(dtype=np.float64)
    return bool(np.isin(arr, (0.0, 1.0)).all())


def _check_columns(units: pd.DataFrame, columns: Sequence[str]) -> None:
    for col in columns:
        if col not in units.columns:
            raise ExperimentError(
                f"column '{col}' is missing from the experiment data"
                f"{did_you_mean(col, map(str, units.columns))}; "
                f"columns are: {', '.join(map(str, units.columns))}"
            )


def experiment_stats_sql(
    table: str,
    arm_column: str,
    outcomes: Sequence[str],
    covariates: Mapping[str, str] | None = None,
    conversion: str | None = None,
    revenue: str | None = None,
) -> str:
    """SQL (DuckDB dialect) reducing a units table to one row of sums per arm.

    The result feeds :func:`stats_from_aggregates`: columns ``arm``, ``n``, and per outcome
    ``<o>__sum``, ``<o>__sum_sq``; per covariate ``<o>__x_sum``, ``<o>__x_sum_sq``,
    ``<o>__xy_sum``; with conversion and revenue, ``aov__n``, ``aov__sum``, ``aov__sum_sq``.

    >>> print(experiment_stats_sql("units", "arm", ["visit"]))
    SELECT CAST(arm AS VARCHAR) AS arm, count(*) AS n, sum(CAST(visit AS DOUBLE)) AS "visit__sum", sum(CAST(visit AS DOUBLE) * CAST(visit AS DOUBLE)) AS "visit__sum_sq" FROM units GROUP BY 1 ORDER BY 1
    """

    def d(col: str) -> str:
        return f"CAST({col} AS DOUBLE)"

    parts = [f"CAST({arm_column} AS VARCHAR) AS arm", "count(*) AS n"]
    for o in outcomes:
        parts += [f'sum({d(o)}) AS "{o}__sum"', f'sum({d(o)} * {d(o)}) AS "{o}__sum_sq"']
    for o, x in (covariates or {}).items():
        parts += [
            f'sum({d(x)}) AS "{o}__x_sum"',
            f'sum({d(x)} * {d(x)}) AS "{o}__x_sum_sq"',
            f'sum({d(x)} * {d(o)}) AS "{o}__xy_sum"',
        ]
    if conversion and revenue:
        conv = f"{d(conversion)} > 0"
        parts += [
            f'count(*) FILTER (WHERE {conv}) AS "aov__n"',
            f'coalesce(sum({d(revenue)}) FILTER (WHERE {conv}), 0) AS "aov__sum"',
            f'coalesce(sum({d(revenue)} * {d(revenue)}) FILTER (WHERE {conv}), 0) AS "aov__sum_sq"',
        ]
    return f"SELECT {', '.join(parts)} FROM {table} GROUP BY 1 ORDER BY 1"


def stats_from_aggregates(
    aggregates: pd.DataFrame,
    outcomes: Sequence[str],
    kinds: Mapping[str, OutcomeKind],
    covariates: Mapping[str, str] | None = None,
) -> ExperimentStats:
    """Build :class:`ExperimentStats` from the per-arm sums of :func:`experiment_stats_sql`."""
    covs = dict(covariates or {})
    arms: dict[str, ArmStats] = {}
    for row in aggregates.to_dict("records"):
        n = int(row["n"])
        outs = {
            o: SampleStats(n, float(row[f"{o}__sum"]), float(row[f"{o}__sum_sq"])) for o in outcomes
        }
        adjusted = {
            o: RegressionStats(
                SampleStats(n, float(row[f"{o}__x_sum"]), float(row[f"{o}__x_sum_sq"])),
                outs[o],
                float(row[f"{o}__xy_sum"]),
            )
            for o in covs
        }
        conv = None
        if "aov__n" in row:
            conv = SampleStats(
                int(row["aov__n"]), float(row["aov__sum"]), float(row["aov__sum_sq"])
            )
        arms[str(row["arm"])] = ArmStats(n, outs, adjusted, conv)
    return ExperimentStats(arms=arms, kinds=dict(kinds), covariates=covs)


def experiment_stats(
    units: pd.DataFrame,
    *,
    arm_column: str,
    outcomes: Sequence[str],
    covariates: Mapping[str, str] | None = None,
    conversion: str | None = None,
    revenue: str | None = None,
    kinds: Mapping[str, OutcomeKind] | None = None,
) -> ExperimentStats:
    """Reduce per-customer rows to sufficient statistics per arm (the pandas twin of
    :func:`experiment_stats_sql`). Outcome kinds are inferred (0/1 values → binary)."""
    covs = dict(covariates or {})
    _check_columns(units, [arm_column, *outcomes, *covs.values()])
    codes, uniques = pd.factorize(units[arm_column].astype(str), sort=True)
    k = len(uniques)
    data: dict[str, Any] = {"arm": [str(u) for u in uniques], "n": np.bincount(codes, minlength=k)}

    def total(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.bincount(codes, weights=values, minlength=k).astype(np.float64)

    for o in outcomes:
        y = units[o].to_numpy(dtype=np.float64)
        data[f"{o}__sum"] = total(y)
        data[f"{o}__sum_sq"] = total(y * y)
    for o, x_col in covs.items():
        x = units[x_col].to_numpy(dtype=np.float64)
        y = units[o].to_numpy(dtype=np.float64)
        data[f"{o}__x_sum"] = total(x)
        data[f"{o}__x_sum_sq"] = total(x * x)
        data[f"{o}__xy_sum"] = total(x * y)
    if conversion and revenue:
        conv = units[conversion].to_numpy(dtype=np.float64) > 0
        rev = units[revenue].to_numpy(dtype=np.float64)
        data["aov__n"] = np.bincount(codes[conv], minlength=k)
        data["aov__sum"] = total(np.where(conv, rev, 0.0))
        data["aov__sum_sq"] = total(np.where(conv, rev * rev, 0.0))
    agg = pd.DataFrame(data)
    inferred: dict[str, OutcomeKind] = {
        o: ("binary" if _is_binary(units[o]) else "continuous") for o in outcomes
    }
    inferred.update(kinds or {})
    return stats_from_aggregates(agg, outcomes, inferred, covs)


@dataclass(frozen=True)
class ArmSummary:
    """One arm at a glance."""

    arm: str
    n: int
    share: float
    planned_share: float | None
    means: Mapping[str, float]
    conversion_rate: float | None
    revenue_per_customer: float | None
    aov: float | None
    """Average order value among converters (revenue / converters)."""
    converters: int | None


@dataclass(frozen=True)
class Comparison:
    """One treatment arm against control on one outcome (optionally within a segment)."""

    arm: str
    control: str
    outcome: str
    kind: OutcomeKind
    method: str
    n_treatment: int
    n_control: int
    treatment_mean: float
    control_mean: float
    lift: float
    """Absolute lift: treatment mean − control mean."""
    ci_low: float
    ci_high: float
    relative_lift: float
    relative_ci_low: float
    relative_ci_high: float
    p_value: float
    significant: bool
    mde: float
    """Absolute minimum detectable effect at the settings' power for these sizes and baseline."""
    relative_mde: float
    underpowered: bool
    reason: str | None = None
    cuped_theta: float | None = None
    variance_reduction: float | None = None
    """1 − Var(CUPED)/Var(unadjusted) of the lift estimate."""
    segment: str | None = None
    p_value_adjusted: float | None = None


@dataclass(frozen=True)
class SrmCheck:
    """Sample-ratio-mismatch chi-square test against the planned shares."""

    planned_shares: Mapping[str, float]
    observed: Mapping[str, int]
    statistic: float
    p_value: float
    mismatch: bool
    message: str


@dataclass(frozen=True)
class Economics:
    """Incremental results and money for one treatment arm."""

    arm: str
    n_treatment: int
    incremental_conversions: float | None
    incremental_conversions_low: float | None
    incremental_conversions_high: float | None
    incremental_revenue: float | None
    incremental_revenue_low: float | None
    incremental_revenue_high: float | None
    messages: float | None
    cost: float | None
    roi: float | None
    """(margin × incremental revenue − cost) / cost."""
    roi_low: float | None
    roi_high: float | None
    payback: float | None
    """margin × incremental revenue / cost: ≥ 1 means the send paid for itself."""


@dataclass(frozen=True)
class Readout:
    """The full readout of an experiment (``to_dict`` is JSON-able: NaN becomes null)."""

    experiment: str
    control: str
    alpha: float
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    srm: SrmCheck | None
    economics: tuple[Economics, ...]
    segments: tuple[Comparison, ...]
    segment_column: str | None
    correction: Correction
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in asdict(self).items()}

    def table(self) -> pd.DataFrame:
        """Comparisons as a table (one row per treatment arm and outcome)."""
        return _frame(self.comparisons, Comparison)

    def segments_table(self) -> pd.DataFrame:
        return _frame(self.segments, Comparison)

    def arms_table(self) -> pd.DataFrame:
        rows = []
        for a in self.arms:
            row = {k: v for k, v in asdict(a).items() if k != "means"}
            row.update({f"mean_{k}": v for k, v in a.means.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def _frame(items: Sequence[Any], cls: type) -> pd.DataFrame:
    cols = [f.name for f in fields(cls)]
    return pd.DataFrame([asdict(i) for i in items], columns=cols)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _nan_comparison(
    arm: str, control: str, outcome: str, kind: OutcomeKind, t: SampleStats, c: SampleStats,
    reason: str, segment: str | None,
) -> Comparison:  # fmt: skip
    nan = math.nan
    return Comparison(
        arm=arm, control=control, outcome=outcome, kind=kind, method="none",
        n_treatment=t.n, n_control=c.n, treatment_mean=t.mean, control_mean=c.mean,
        lift=t.mean - c.mean, ci_low=nan, ci_high=nan, relative_lift=nan, relative_ci_low=nan,
        relative_ci_high=nan, p_value=nan, significant=False, mde=nan, relative_mde=nan,
        underpowered=True, reason=reason, segment=segment,
    )  # fmt: skip


def _compare(
    arm: str,
    control: str,
    outcome: str,
    kind: OutcomeKind,
    t_arm: ArmStats,
    c_arm: ArmStats,
    settings: ReadoutSettings,
    covariate: bool,
    values: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None,
    segment: str | None,
) -> Comparison:
    t, c = t_arm.outcomes[outcome], c_arm.outcomes[outcome]
    if t.n == 0:
        return _nan_comparison(arm, control, outcome, kind, t, c, "NO_UNITS_IN_ARM", segment)
    if c.n == 0:
        return _nan_comparison(arm, control, outcome, kind, t, c, "NO_UNITS_IN_CONTROL", segment)
    if t.n < 2 or c.n < 2:
        return _nan_comparison(arm, control, outcome, kind, t, c, "TOO_FEW_UNITS", segment)
    alpha = settings.alpha
    reason: str | None = None
    theta: float | None = None
    reduction: float | None = None
    if kind == "binary":
        diff = proportion_difference(t, c, alpha)
        variance_c = c.mean * (1.0 - c.mean)
        variance_t = t.mean * (1.0 - t.mean)
        if t.variance == 0.0 and c.variance == 0.0:
            reason = "ZERO_VARIANCE"
    else:
        variance_c, variance_t = c.variance, t.variance
        diff = welch_difference(t, c, alpha)
        if diff.se == 0.0:
            reason = "ZERO_VARIANCE"
    rel = relative_lift_delta(t, c, alpha)
    if covariate and reason is None:
        adjusted, theta = cuped_difference(t_arm.adjusted[outcome], c_arm.adjusted[outcome], alpha)
        if math.isfinite(adjusted.se) and diff.se > 0:
            reduction = 1.0 - (adjusted.se / diff.se) ** 2
            diff = adjusted
            # relative interval of the adjusted lift, control mean treated as fixed
            rel = Difference(
                adjusted.estimate / c.mean if c.mean else math.nan,
                Interval(adjusted.ci.low / c.mean, adjusted.ci.high / c.mean)
                if c.mean
                else Interval(math.nan, math.nan),
                adjusted.p_value,
                adjusted.se / abs(c.mean) if c.mean else math.nan,
                "cuped",
            )
    elif kind == "continuous" and values is not None and reason is None:
        use = settings.revenue_interval == "bootstrap" or (
            settings.revenue_interval == "auto" and max(t.n, c.n) <= settings.bootstrap_max_units
        )
        if use:
            absolute, relative = bootstrap_difference(
                values[0],
                values[1],
                alpha=alpha,
                n_resamples=settings.n_bootstrap,
                seed=settings.seed,
            )
            diff = Difference(diff.estimate, absolute, diff.p_value, diff.se, "bootstrap")
            rel = Difference(rel.estimate, relative, rel.p_value, rel.se, "bootstrap")
    if reason is None and (c.mean == 0.0):
        reason = "ZERO_CONTROL_MEAN"
    mde = minimum_detectable_effect(
        variance_c,
        t.n,
        c.n,
        alpha=alpha,
        power=settings.power,
        variance_treatment=variance_t if variance_t > 0 else variance_c,
    )
    if reduction is not None and reduction > 0:
        mde *= math.sqrt(1.0 - reduction)
    rel_mde = mde / abs(c.mean) if c.mean else math.inf
    significant = bool(diff.p_value < alpha) if math.isfinite(diff.p_value) else False
    underpowered = (not significant) and not (rel_mde <= settings.target_relative_mde)
    return Comparison(
        arm=arm,
        control=control,
        outcome=outcome,
        kind=kind,
        method=diff.method,
        n_treatment=t.n,
        n_control=c.n,
        treatment_mean=t.mean,
        control_mean=c.mean,
        lift=diff.estimate,
        ci_low=diff.ci.low,
        ci_high=diff.ci.high,
        relative_lift=rel.estimate,
        relative_ci_low=rel.ci.low,
        relative_ci_high=rel.ci.high,
        p_value=diff.p_value,
        significant=significant,
        mde=mde,
        relative_mde=rel_mde,
        underpowered=underpowered,
        reason=reason,
        cuped_theta=theta,
        variance_reduction=reduction,
        segment=segment,
    )


def _empty_arm(template: ArmStats) -> ArmStats:
    return ArmStats(
        0,
        {k: SampleStats(0, 0.0, 0.0) for k in template.outcomes},
        {
            k: RegressionStats(SampleStats(0, 0.0, 0.0), SampleStats(0, 0.0, 0.0), 0.0)
            for k in template.adjusted
        },
        None,
    )


def _comparisons(
    stats: ExperimentStats,
    control: str,
    arms: Sequence[str],
    settings: ReadoutSettings,
    values: Mapping[tuple[str, str], npt.NDArray[np.float64]] | None,
    segment: str | None,
) -> list[Comparison]:
    any_arm = next(iter(stats.arms.values()))
    c_arm = stats.arms.get(control, _empty_arm(any_arm))
    out: list[Comparison] = []
    for arm in arms:
        t_arm = stats.arms.get(arm, _empty_arm(any_arm))
        for outcome, kind in stats.kinds.items():
            vals = None
            if values is not None and (arm, outcome) in values and (control, outcome) in values:
                vals = (values[(arm, outcome)], values[(control, outcome)])
            out.append(
                _compare(
                    arm,
                    control,
                    outcome,
                    kind,
                    t_arm,
                    c_arm,
                    settings,
                    outcome in stats.covariates,
                    vals,
                    segment,
                )
            )
    return out


def _economics(
    comparisons: Sequence[Comparison],
    arms: Sequence[str],
    conversion: str | None,
    revenue: str | None,
    costs: Costs | None,
) -> list[Economics]:
    out: list[Economics] = []
    for arm in arms:
        by = {c.outcome: c for c in comparisons if c.arm == arm}
        conv = by.get(conversion) if conversion else None
        rev = by.get(revenue) if revenue else None
        n_t = next(iter(by.values())).n_treatment if by else 0
        ic = icl = ich = ir = irl = irh = None
        if conv is not None:
            ic, icl, ich = conv.lift * n_t, conv.ci_low * n_t, conv.ci_high * n_t
        if rev is not None:
            ir, irl, irh = rev.lift * n_t, rev.ci_low * n_t, rev.ci_high * n_t
        messages = cost = roi = roi_lo = roi_hi = payback = None
        if costs is not None:
            price = (
                costs.per_message.get(arm, 0.0)
                if isinstance(costs.per_message, Mapping)
                else float(costs.per_message)
            )
            if costs.messages is not None:
                messages = float(costs.messages.get(arm, 0))
            else:
                messages = n_t * costs.messages_per_customer
            cost = price * messages
            if ir is not None and cost > 0:
                roi = (costs.margin * ir - cost) / cost
                payback = costs.margin * ir / cost
                if irl is not None and irh is not None:
                    roi_lo = (costs.margin * irl - cost) / cost
                    roi_hi = (costs.margin * irh - cost) / cost
        out.append(
            Economics(
                arm, n_t, ic, icl, ich, ir, irl, irh, messages, cost, roi, roi_lo, roi_hi, payback
            )
        )
    return out


def _srm(
    stats: ExperimentStats, planned: Mapping[str, float] | None, settings: ReadoutSettings
) -> SrmCheck | None:
    if not planned:
        return None
    observed = {a: (stats.arms[a].n if a in stats.arms else 0) for a in planned}
    stat, p = sample_ratio_mismatch(observed, planned)
    mismatch = bool(math.isfinite(p) and p < settings.srm_alpha)
    total = sum(observed.values())
    shown = ", ".join(
        f"{a} {observed[a] / total:.2%} (planned {s:.2%})" if total else f"{a} 0"
        for a, s in planned.items()
    )
    if mismatch:
        message = (
            f"SAMPLE RATIO MISMATCH (chi-square p = {p:.2g} < {settings.srm_alpha:g}): {shown}. "
            "The split is not what was planned — check assignment, filters and lost events "
            "before trusting any lift"
        )
    else:
        message = f"arm sizes match the planned shares (chi-square p = {p:.3g}): {shown}"
    return SrmCheck(dict(planned), observed, stat, p, mismatch, message)


def _arm_summaries(
    stats: ExperimentStats,
    planned: Mapping[str, float] | None,
    conversion: str | None,
    revenue: str | None,
) -> list[ArmSummary]:
    total = sum(a.n for a in stats.arms.values())
    out = []
    for name, a in stats.arms.items():
        conv = a.outcomes[conversion].mean if conversion and conversion in a.outcomes else None
        rpc = a.outcomes[revenue].mean if revenue and revenue in a.outcomes else None
        cr = a.converter_revenue
        out.append(
            ArmSummary(
                arm=name,
                n=a.n,
                share=a.n / total if total else math.nan,
                planned_share=None if not planned else planned.get(name),
                means={k: v.mean for k, v in a.outcomes.items()},
                conversion_rate=conv,
                revenue_per_customer=rpc,
                aov=cr.mean if cr is not None else None,
                converters=cr.n if cr is not None else None,
            )
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
    comparisons = _comparisons(stats, control, treatments, settings, values, None)
    segments: list[Comparison] = []
    for seg, seg_stats in sorted((segment_stats or {}).items()):
        seg_vals = (segment_values or {}).get(seg)
        segments += _comparisons(seg_stats, control, treatments, settings, seg_vals, seg)
    adjust = holm if settings.correction == "holm" else benjamini_hochberg
    adjusted: list[Comparison] = []
    for arm in treatments:
        for outcome in stats.kinds:
            family = [s for s in segments if s.arm == arm and s.outcome == outcome]
            ps = adjust([s.p_value for s in family])
            adjusted += [
                _replace(s, p_value_adjusted=(None if math.isnan(p) else p))
                for s, p in zip(family, ps, strict=True)
            ]
    srm = _srm(stats, planned_shares, settings)
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
        arms=tuple(_arm_summaries(stats, planned_shares, conversion, revenue)),
        comparisons=tuple(comparisons),
        srm=srm,
        economics=tuple(_economics(comparisons, treatments, conversion, revenue, costs)),
        segments=tuple(adjusted),
        segment_column=segment_column,
        correction=settings.correction,
        warnings=tuple(warnings),
    )


def _replace(c: Comparison, **changes: Any) -> Comparison:
    data = asdict(c)
    data.update(changes)
    return Comparison(**data)


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
        _check_columns(units, [segment_column])
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
