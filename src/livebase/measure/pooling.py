"""Pooling occurrences of a recurring playbook without Simpson's paradox.

Occurrences (weekly runs, per-step holdouts, …) differ in split and baseline: adding their
sums (:func:`~livebase.measure.sufficient.pool`) compares a treatment arm dominated by one
occurrence with a holdout dominated by another, and can reverse the answer (two occurrences
with no effect, 50/50 at 10% and 90/10 at 2%, pool to −3.7 pp). Here each occurrence is a
stratum: the lift is estimated within it and the lifts are combined with Mantel–Haenszel
weights ``w_i = n_t,i n_c,i / (n_t,i + n_c,i)``, which stay finite for sparse strata (a stratum
without conversions has no inverse-variance weight).

* Proportions: the Mantel–Haenszel risk difference with Sato's variance (Greenland & Robins
  1985 [1]; Sato 1989 [2], eq. 3) — the CMH estimate of a common difference.
* Means (revenue per customer): the same weights over the per-stratum differences, variance
  ``Σ w_i² v_i / (Σ w_i)²`` with ``v_i`` Welch's variance of stratum i.

Heterogeneity is tested with Cochran's Q (inverse-variance weights, strata with a variance):
``p < heterogeneity_alpha`` is reported with the code ``HETEROGENEOUS_OCCURRENCES``, because a
common lift then summarises different effects. Occurrences with different outcomes, or without
the control arm, are refused with the reason.

References
----------
[1] Greenland S., Robins J.M. (1985), "Estimation of a common effect parameter from sparse
    follow-up data", Biometrics 41:55–68.
[2] Sato T. (1989), "On the variance estimator for the Mantel-Haenszel risk difference",
    Biometrics 45:1323–1324.
[3] Cochran W.G. (1954), "The combination of estimates from different experiments",
    Biometrics 10:101–129.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as sps

from livebase.errors import ExperimentError
from livebase.measure.compare import compare_arms
from livebase.measure.intervals import z_value
from livebase.measure.results import Comparison, ReadoutSettings, _jsonable
from livebase.measure.statistics import SampleStats
from livebase.measure.sufficient import ExperimentStats, OutcomeKind

__all__ = ["PooledComparison", "StratifiedReadout", "pooled_readout"]


@dataclass(frozen=True)
class PooledComparison:
    """One treatment arm against control on one outcome, pooled across occurrences."""

    arm: str
    control: str
    outcome: str
    kind: OutcomeKind
    method: str
    """"mantel-haenszel" (proportions) or "mh-welch" (means)."""
    strata: int
    """Occurrences that contributed (both arms present)."""
    n_treatment: int
    n_control: int
    lift: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    """The interval excludes zero (equivalently ``p < α``)."""
    heterogeneity_p: float
    """Cochran's Q p-value of a common lift (NaN with fewer than two informative strata)."""
    reason: str | None = None
    naive_lift: float = math.nan
    """What adding the sums would have said (shown to explain a reversal)."""


@dataclass(frozen=True)
class StratifiedReadout:
    """Per-occurrence comparisons (``segment`` = occurrence) and the pooled lifts."""

    control: str
    alpha: float
    strata: tuple[Comparison, ...]
    pooled: tuple[PooledComparison, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in asdict(self).items()}


def _check(occurrences: Mapping[str, ExperimentStats], control: str) -> None:
    if not occurrences:
        raise ExperimentError("nothing to pool: give at least one occurrence")
    names = list(occurrences)
    first = occurrences[names[0]]
    for name in names[1:]:
        other = occurrences[name]
        if dict(other.kinds) != dict(first.kinds):
            raise ExperimentError(
                f"cannot pool occurrence '{name}' with '{names[0]}': their outcomes differ "
                f"({dict(other.kinds)} vs {dict(first.kinds)}); read them out separately"
            )
    missing = [n for n, o in occurrences.items() if control not in o.arms or not o.arms[control].n]
    if missing:
        raise ExperimentError(
            f"cannot pool: occurrence(s) {', '.join(missing)} have no '{control}' customers, so "
            "their lift cannot be estimated within the occurrence; drop them or fix the holdout"
        )


def _mh_binary(pairs: Sequence[tuple[SampleStats, SampleStats]]) -> tuple[float, float]:
    """Mantel–Haenszel risk difference and Sato's variance ([2], eq. 3)."""
    sw = num = sum_p = sum_q = 0.0
    for t, c in pairs:
        n1, n0, a, b = t.n, c.n, t.total, c.total
        big_n = n1 + n0
        w = n1 * n0 / big_n
        sw += w
        num += (a * n0 - b * n1) / big_n
        sum_p += (n0 * n0 * a - n1 * n1 * b + n1 * n0 * (n0 - n1) / 2.0) / big_n**2
        sum_q += (a * (n0 - b) + b * (n1 - a)) / (2.0 * big_n)
    rd = num / sw
    return rd, max((rd * sum_p + sum_q) / sw**2, 0.0)


def _mh_means(pairs: Sequence[tuple[SampleStats, SampleStats]]) -> tuple[float, float]:
    sw = num = var = 0.0
    for t, c in pairs:
        w = t.n * c.n / (t.n + c.n)
        sw += w
        num += w * (t.mean - c.mean)
        var += w * w * (t.mean_variance + c.mean_variance)
    return num / sw, var / sw**2


def _heterogeneity(pairs: Sequence[tuple[SampleStats, SampleStats]], binary: bool) -> float:
    ests, weights = [], []
    for t, c in pairs:
        if binary:
            v = t.mean * (1 - t.mean) / t.n + c.mean * (1 - c.mean) / c.n
        else:
            v = t.mean_variance + c.mean_variance
        if v > 0 and math.isfinite(v):
            ests.append(t.mean - c.mean)
            weights.append(1.0 / v)
    if len(ests) < 2:
        return math.nan
    pooled = sum(w * d for w, d in zip(weights, ests, strict=True)) / sum(weights)
    q = sum(w * (d - pooled) ** 2 for w, d in zip(weights, ests, strict=True))
    return float(sps.chi2.sf(q, len(ests) - 1))


def pooled_readout(
    occurrences: Mapping[str, ExperimentStats],
    *,
    control: str,
    settings: ReadoutSettings | None = None,
    heterogeneity_alpha: float = 0.01,
) -> StratifiedReadout:
    """Compare every treatment arm with ``control`` within each occurrence and pool the lifts.

    This is the readout of a playbook's holdouts: one :class:`ExperimentStats` per occurrence
    (or per step), e.g. built with :meth:`~livebase.measure.sufficient.ArmStats.from_counts`.

    >>> from livebase.measure.sufficient import ArmStats
    >>> def occ(n_t, x_t, n_c, x_c):
    ...     return ExperimentStats(
    ...         {"treatment": ArmStats.from_counts(n_t, conversions=x_t),
    ...          "holdout": ArmStats.from_counts(n_c, conversions=x_c)},
    ...         {"conversion": "binary"})
    >>> r = pooled_readout({"week 1": occ(5000, 510, 5000, 500),
    ...                     "week 2": occ(9000, 180, 1000, 20)}, control="holdout")
    >>> p = r.pooled[0]
    >>> round(p.lift * 100, 2), round(p.naive_lift * 100, 2), p.ci_low < 0 < p.ci_high
    (0.15, -3.74, True)
    """
    settings = settings or ReadoutSettings()
    _check(occurrences, control)
    kinds = next(iter(occurrences.values())).kinds
    treatments = sorted({a for o in occurrences.values() for a in o.arms if a != control})
    strata: list[Comparison] = []
    for name, occ in occurrences.items():
        present = [a for a in treatments if a in occ.arms]
        strata += compare_arms(occ, control, present, settings, name)
    z = z_value(settings.alpha)
    pooled: list[PooledComparison] = []
    warnings: list[str] = []
    for arm in treatments:
        for outcome, kind in kinds.items():
            pairs = [
                (o.arms[arm].outcomes[outcome], o.arms[control].outcomes[outcome])
                for o in occurrences.values()
                if arm in o.arms and o.arms[arm].n > 0
            ]
            n_t = sum(t.n for t, _ in pairs)
            n_c = sum(c.n for _, c in pairs)
            tot_t = sum(t.total for t, _ in pairs)
            tot_c = sum(c.total for _, c in pairs)
            naive = tot_t / n_t - tot_c / n_c if n_t and n_c else math.nan
            binary = kind == "binary"
            lift, var = _mh_binary(pairs) if binary else _mh_means(pairs)
            se = math.sqrt(var)
            reason: str | None = None
            if se > 0:
                lo, hi = lift - z * se, lift + z * se
                p = float(2.0 * sps.norm.sf(abs(lift) / se))
            else:
                lo = hi = p = math.nan
                reason = "ZERO_VARIANCE"
            het = _heterogeneity(pairs, binary)
            if reason is None and math.isfinite(het) and het < heterogeneity_alpha:
                reason = "HETEROGENEOUS_OCCURRENCES"
                warnings.append(
                    f"{arm} / {outcome}: the lift differs between occurrences (Cochran's Q "
                    f"p = {het:.2g}): the pooled lift averages different effects — read the "
                    "occurrences one by one"
                )
            if math.isfinite(naive) and math.isfinite(lo) and not lo <= naive <= hi:
                warnings.append(
                    f"{arm} / {outcome}: adding the occurrences' sums would say {naive:+.4g}, "
                    f"outside the stratified interval [{lo:+.4g}, {hi:+.4g}]: the occurrences "
                    "differ in split and baseline (Simpson's paradox)"
                )
            pooled.append(
                PooledComparison(
                    arm=arm,
                    control=control,
                    outcome=outcome,
                    kind=kind,
                    method="mantel-haenszel" if binary else "mh-welch",
                    strata=len(pairs),
                    n_treatment=n_t,
                    n_control=n_c,
                    lift=lift,
                    ci_low=lo,
                    ci_high=hi,
                    p_value=p,
                    significant=bool(math.isfinite(lo) and (lo > 0 or hi < 0)),
                    heterogeneity_p=het,
                    reason=reason,
                    naive_lift=naive,
                )
            )
    return StratifiedReadout(control, settings.alpha, tuple(strata), tuple(pooled), tuple(warnings))
