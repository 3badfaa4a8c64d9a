"""What a readout returns: settings, reason codes and the result records (JSON-able).

A comparison that cannot be computed still has every field, with NaN numbers and a stable
``reason`` code (:data:`REASONS`), as gbstats does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from livebase.measure.sufficient import OutcomeKind

__all__ = [
    "REASONS",
    "ArmSummary",
    "Comparison",
    "Correction",
    "Costs",
    "Economics",
    "Readout",
    "ReadoutSettings",
    "RevenueInterval",
    "SrmCheck",
]

RevenueInterval = Literal["auto", "welch", "lognormal"]
Correction = Literal["holm", "bh"]

REASONS: dict[str, str] = {
    "NO_UNITS_IN_ARM": "the treatment arm has no customers",
    "NO_UNITS_IN_CONTROL": "the control arm has no customers",
    "TOO_FEW_UNITS": "an arm has fewer than two customers: no variance can be estimated",
    "ZERO_VARIANCE": "the outcome does not vary in either arm: no test is possible",
    "ZERO_CONTROL_MEAN": "the control mean is zero: the relative lift has no point estimate "
    "(for a rate, its interval still has a lower bound)",
    "TOO_FEW_BUYERS": "an arm has fewer than two customers with a positive value: no interval "
    "for revenue per customer (or AOV) can be trusted on so few buyers — pool occurrences or wait",
    "NEGATIVE_VALUES": "the outcome has negative values (refunds?): the log-normal interval "
    "does not apply, Welch's is shown and may undercover on a small or unbalanced base",
    "RELATIVE_UNBOUNDED": "the control mean is not clearly above zero: the relative lift's "
    "interval is unbounded",
    "NO_PLAN": "no planned shares: the sample-ratio check was not run",
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
    """Interval for non-binary outcomes. "auto": Welch when every arm has at least
    ``welch_min_buyers`` positive values and the skewness of the difference of means is at most
    ``welch_max_skewness`` (balanced arms, where skewness cancels), else the log-normal GPQ
    interval of :mod:`livebase.measure.lognormal` (non-negative outcomes); "welch" or
    "lognormal" force one. The coverage of both is in STATISTICS.md."""
    welch_min_buyers: int = 50
    welch_max_skewness: float = 0.25
    draws: int = 20_000
    """Seeded draws of the log-normal interval."""
    seed: int = 0
    primary: str | None = None
    """The declared primary outcome: its comparisons (one per treatment arm) are one family;
    every other outcome is secondary, corrected across all arms × secondary outcomes. Without
    a primary outcome the family is all arms × outcomes."""
    sequential: bool = False
    """Anytime-valid: the absolute lift gets a confidence sequence
    (:mod:`livebase.measure.sequential`) valid however often the readout is looked at; its
    p-value is always-valid; relative lifts are shown without an interval."""
    sequential_tuning: float = 5000.0
    """Customers (both arms) at which the confidence sequence is tightest."""
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
    kind: OutcomeKind | Literal["ratio"]
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
    """p-value corrected for the family it belongs to (arms × outcomes overall; segments of one
    arm and outcome in a breakdown)."""
    significant_adjusted: bool | None = None
    """The verdict after the family-wise correction (None when no correction applies)."""
    role: str | None = None
    """"primary" or "secondary" when the readout declares a primary outcome."""


@dataclass(frozen=True)
class SrmCheck:
    """Sample-ratio-mismatch chi-square test against the planned shares.

    Without a plan nothing is checked (``checked`` False, ``reason`` "NO_PLAN"): the shares
    observed are never taken as the plan, which would make the check unable to fail.
    """

    planned_shares: Mapping[str, float]
    observed: Mapping[str, int]
    statistic: float
    p_value: float
    mismatch: bool
    message: str
    checked: bool = True
    reason: str | None = None


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
    aov: tuple[Comparison, ...] = ()
    """AOV among converters per treatment arm (kind "ratio", delta-method interval)."""
    primary: str | None = None

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
