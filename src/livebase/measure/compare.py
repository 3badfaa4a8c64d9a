"""One treatment arm against control on one outcome, from sufficient statistics.

Per treatment arm and outcome a :class:`~livebase.measure.results.Comparison` carries the
means, the absolute lift with its interval (Newcombe for proportions, Welch for means, a seeded
bootstrap for zero-inflated revenue on small bases, CUPED when a pre-period covariate is given),
the relative lift with its interval, the p-value and the minimum detectable effect. Also here:
the sample-ratio check, arm summaries and the economics (incremental conversions, revenue, ROI).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from livebase.measure.intervals import (
    NAN_INTERVAL,
    Difference,
    cuped_difference,
    proportion_difference,
    sample_ratio_mismatch,
    welch_difference,
)
from livebase.measure.lognormal import lognormal_difference
from livebase.measure.power import minimum_detectable_effect
from livebase.measure.ratios import (
    aov_difference,
    cuped_relative,
    relative_means,
    relative_proportion,
)
from livebase.measure.results import (
    ArmSummary,
    Comparison,
    Costs,
    Economics,
    ReadoutSettings,
    SrmCheck,
)
from livebase.measure.sequential import sequential_difference
from livebase.measure.statistics import RegressionStats, SampleStats, TailStats, mean_skewness
from livebase.measure.sufficient import ArmStats, ExperimentStats, OutcomeKind

__all__ = [
    "aov_comparison",
    "arm_summaries",
    "compare",
    "compare_arms",
    "economics",
    "replace",
    "revenue_method",
    "srm_check",
]


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


def revenue_method(
    t: SampleStats,
    t_tail: TailStats | None,
    c: SampleStats,
    c_tail: TailStats | None,
    settings: ReadoutSettings,
) -> str:
    """Which interval a non-binary outcome gets: "welch" or "lognormal" (see
    :attr:`ReadoutSettings.revenue_interval`).

    Welch needs many buyers in every arm and a difference of means that is nearly symmetric:
    its skewness ``(m3_t − m3_c)/(v_t + v_c)^{3/2}`` cancels between balanced arms (Hillstrom's
    thirds: 0.04) but not with a 10% holdout (−2.5 at 18,000/2,000 buyers of a σ = 1.5
    log-normal, where Welch covers 90%).
    """
    if settings.revenue_interval != "auto":
        return settings.revenue_interval
    if t_tail is None or c_tail is None or t_tail.negative or c_tail.negative:
        return "welch"
    if min(t_tail.positive, c_tail.positive) < settings.welch_min_buyers:
        return "lognormal"
    vt, m3t = mean_skewness(t, t_tail)
    vc, m3c = mean_skewness(c, c_tail)
    total = vt + vc
    skew = (m3t - m3c) / total**1.5 if total > 0 else 0.0
    return "welch" if abs(skew) <= settings.welch_max_skewness else "lognormal"


def compare(
    arm: str,
    control: str,
    outcome: str,
    kind: OutcomeKind,
    t_arm: ArmStats,
    c_arm: ArmStats,
    settings: ReadoutSettings,
    covariate: bool,
    segment: str | None,
) -> Comparison:
    """One treatment arm against control on one outcome, every interval with its own p-value.

    Binary: Newcombe interval with its inverted p-value, MOVER-R relative interval. Non-binary:
    Welch (with Fieller's relative interval) or the log-normal GPQ (:func:`revenue_method`);
    with a covariate, CUPED (relative interval by :func:`~livebase.measure.ratios.cuped_relative`).
    The verdict ``significant`` is "the interval excludes zero", which is ``p < α``.
    """
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
        rel = relative_proportion(t, c, alpha)
        variance_c = c.mean * (1.0 - c.mean)
        variance_t = t.mean * (1.0 - t.mean)
        if t.variance == 0.0 and c.variance == 0.0:
            reason = "ZERO_VARIANCE"
    else:
        variance_c, variance_t = c.variance, t.variance
        diff = welch_difference(t, c, alpha)
        if diff.se == 0.0:
            reason = "ZERO_VARIANCE"
        df = _welch_df(t, c)
        rel, rel_reason = relative_means(t, c, alpha, df)
        t_tail, c_tail = t_arm.tails.get(outcome), c_arm.tails.get(outcome)
        method = "welch"
        if reason is None and not covariate:
            method = revenue_method(t, t_tail, c, c_tail, settings)
        if method == "lognormal" and t_tail is not None and c_tail is not None:
            diff, rel, why = lognormal_difference(
                t, t_tail, c, c_tail, alpha, settings.draws, settings.seed
            )
            reason = why
        elif not covariate and (
            (t_tail is not None and t_tail.negative) or (c_tail is not None and c_tail.negative)
        ):
            reason = "NEGATIVE_VALUES"
        elif rel_reason is not None and not covariate:
            reason = rel_reason
    if covariate and reason is None:
        adjusted, theta = cuped_difference(t_arm.adjusted[outcome], c_arm.adjusted[outcome], alpha)
        if math.isfinite(adjusted.se) and diff.se > 0:
            reduction = 1.0 - (adjusted.se / diff.se) ** 2
            diff = adjusted
            rel = cuped_relative(
                t_arm.adjusted[outcome], c_arm.adjusted[outcome], adjusted, theta, alpha
            )
    if settings.sequential and math.isfinite(diff.se) and diff.se > 0:
        diff = sequential_difference(diff, t.n + c.n, alpha, settings.sequential_tuning)
        rel = Difference(rel.estimate, NAN_INTERVAL, math.nan, math.nan, "sequential")
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
    shown = math.isfinite(diff.ci.low) and math.isfinite(diff.ci.high)
    significant = bool(shown and (diff.ci.low > 0.0 or diff.ci.high < 0.0))
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


def _welch_df(t: SampleStats, c: SampleStats) -> float:
    vt, vc = t.mean_variance, c.mean_variance
    den = (vt * vt / (t.n - 1) if vt > 0 else 0.0) + (vc * vc / (c.n - 1) if vc > 0 else 0.0)
    return (vt + vc) ** 2 / den if den > 0 else math.inf


def aov_comparison(
    arm: str, control: str, t_arm: ArmStats, c_arm: ArmStats, alpha: float
) -> Comparison | None:
    """AOV among converters, treatment vs control, with the delta-method interval (None when
    the statistics lack the converters' revenue)."""
    ct, cc = t_arm.converter_revenue, c_arm.converter_revenue
    if ct is None or cc is None:
        return None
    absolute, relative, reason = aov_difference(t_arm.n, ct, c_arm.n, cc, alpha)
    shown = math.isfinite(absolute.ci.low)
    nan = math.nan
    return Comparison(
        arm=arm, control=control, outcome="aov", kind="ratio", method="delta",
        n_treatment=ct.n, n_control=cc.n, treatment_mean=ct.mean, control_mean=cc.mean,
        lift=ct.mean - cc.mean, ci_low=absolute.ci.low, ci_high=absolute.ci.high,
        relative_lift=relative.estimate if shown else ct.mean / cc.mean - 1 if cc.mean else nan,
        relative_ci_low=relative.ci.low, relative_ci_high=relative.ci.high,
        p_value=absolute.p_value,
        significant=bool(shown and (absolute.ci.low > 0 or absolute.ci.high < 0)),
        mde=nan, relative_mde=nan, underpowered=False, reason=reason,
    )  # fmt: skip


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


def compare_arms(
    stats: ExperimentStats,
    control: str,
    arms: Sequence[str],
    settings: ReadoutSettings,
    segment: str | None,
) -> list[Comparison]:
    """Every treatment arm against ``control`` on every outcome."""
    any_arm = next(iter(stats.arms.values()))
    c_arm = stats.arms.get(control, _empty_arm(any_arm))
    out: list[Comparison] = []
    for arm in arms:
        t_arm = stats.arms.get(arm, _empty_arm(any_arm))
        for outcome, kind in stats.kinds.items():
            out.append(
                compare(
                    arm,
                    control,
                    outcome,
                    kind,
                    t_arm,
                    c_arm,
                    settings,
                    outcome in stats.covariates,
                    segment,
                )
            )
    return out


def economics(
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


def srm_check(
    stats: ExperimentStats, planned: Mapping[str, float] | None, settings: ReadoutSettings
) -> SrmCheck:
    """Chi-square of the arm sizes against the plan; without a plan, "no plan: SRM not
    checked" (the observed shares are never taken as the plan)."""
    if not planned:
        observed_all = {a: st.n for a, st in stats.arms.items()}
        return SrmCheck(
            {},
            observed_all,
            math.nan,
            math.nan,
            False,
            "no plan: SRM not checked — give the planned split (--planned-shares at import) "
            "to check the arm sizes",
            checked=False,
            reason="NO_PLAN",
        )
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


def arm_summaries(
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


def replace(c: Comparison, **changes: Any) -> Comparison:
    data = asdict(c)
    data.update(changes)
    return Comparison(**data)
