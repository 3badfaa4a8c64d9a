"""Sufficient statistics of an experiment, per arm: the SQL that computes them and their pandas twin.

Rows are reduced once to sums per arm (:func:`experiment_stats`, or the SQL of
:func:`experiment_stats_sql` run in the warehouse); everything downstream
(:mod:`livebase.measure.compare`, :mod:`livebase.measure.readout`) only sees sums, so
occurrences of a recurring playbook pool by adding their statistics (:func:`pool`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.statistics import RegressionStats, SampleStats, TailStats

__all__ = [
    "ArmStats",
    "ExperimentStats",
    "OutcomeKind",
    "check_columns",
    "experiment_stats",
    "experiment_stats_sql",
    "pool",
    "stats_from_aggregates",
]

OutcomeKind = Literal["binary", "continuous"]


@dataclass(frozen=True)
class ArmStats:
    """Sufficient statistics of one arm: per outcome, per covariate-adjusted outcome, the
    revenue of converters (for the average order value) and, for skewed outcomes such as
    revenue, the log-scale and third-moment sums (:class:`TailStats`).

    >>> a = ArmStats.from_counts(200, conversions=4, revenue=[120.0, 80.0, 60.0, 300.0])
    >>> a.outcomes["conversion"].mean, a.outcomes["revenue"].total, a.tails["revenue"].positive
    (0.02, 560.0, 4)
    """

    n: int
    outcomes: Mapping[str, SampleStats]
    adjusted: Mapping[str, RegressionStats] = field(default_factory=dict)
    converter_revenue: SampleStats | None = None
    tails: Mapping[str, TailStats] = field(default_factory=dict)

    @classmethod
    def from_counts(
        cls,
        n: int,
        *,
        conversions: int,
        revenue: Sequence[float] | None = None,
        conversion: str = "conversion",
        revenue_name: str = "revenue",
    ) -> ArmStats:
        """An arm of ``n`` customers, ``conversions`` of whom converted, with the revenue of
        each converter (everyone else spent 0): the shape of a playbook holdout readout."""
        outcomes = {conversion: SampleStats(n, float(conversions), float(conversions))}
        tails: dict[str, TailStats] = {}
        conv = None
        if revenue is not None:
            values = np.asarray(revenue, dtype=np.float64)
            conv = SampleStats.from_values(values)
            outcomes[revenue_name] = SampleStats(n, conv.total, conv.sum_squares)
            tails[revenue_name] = TailStats.from_values(values)
        return cls(n, outcomes, {}, conv, tails)

    def __add__(self, other: ArmStats) -> ArmStats:
        conv: SampleStats | None = None
        if self.converter_revenue is not None and other.converter_revenue is not None:
            conv = self.converter_revenue + other.converter_revenue
        return ArmStats(
            n=self.n + other.n,
            outcomes={k: v + other.outcomes[k] for k, v in self.outcomes.items()},
            adjusted={k: v + other.adjusted[k] for k, v in self.adjusted.items()},
            converter_revenue=conv,
            tails={k: v + other.tails[k] for k, v in self.tails.items() if k in other.tails},
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


def check_columns(units: pd.DataFrame, columns: Sequence[str]) -> None:
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
    tails: Sequence[str] = (),
) -> str:
    """SQL (DuckDB dialect) reducing a units table to one row of sums per arm.

    The result feeds :func:`stats_from_aggregates`: columns ``arm``, ``n``, and per outcome
    ``<o>__sum``, ``<o>__sum_sq``; per covariate ``<o>__x_sum``, ``<o>__x_sum_sq``,
    ``<o>__xy_sum``; with conversion and revenue, ``aov__n``, ``aov__sum``, ``aov__sum_sq``;
    per outcome in ``tails`` (skewed ones such as revenue) ``<o>__pos_n``, ``<o>__log_sum``,
    ``<o>__log_sum_sq``, ``<o>__neg_n``, ``<o>__sum_cu`` (see :class:`TailStats`).

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
    for o in tails:
        pos = f"FILTER (WHERE {d(o)} > 0)"
        parts += [
            f'count(*) {pos} AS "{o}__pos_n"',
            f'coalesce(sum(ln({d(o)})) {pos}, 0) AS "{o}__log_sum"',
            f'coalesce(sum(ln({d(o)}) * ln({d(o)})) {pos}, 0) AS "{o}__log_sum_sq"',
            f'count(*) FILTER (WHERE {d(o)} < 0) AS "{o}__neg_n"',
            f'sum({d(o)} * {d(o)} * {d(o)}) AS "{o}__sum_cu"',
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
        tails = {
            o: TailStats(
                int(row[f"{o}__pos_n"]),
                float(row[f"{o}__log_sum"]),
                float(row[f"{o}__log_sum_sq"]),
                int(row[f"{o}__neg_n"]),
                float(row[f"{o}__sum_cu"]),
            )
            for o in outcomes
            if f"{o}__pos_n" in row
        }
        arms[str(row["arm"])] = ArmStats(n, outs, adjusted, conv, tails)
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
    check_columns(units, [arm_column, *outcomes, *covs.values()])
    codes, uniques = pd.factorize(units[arm_column].astype(str), sort=True)
    k = len(uniques)
    data: dict[str, Any] = {"arm": [str(u) for u in uniques], "n": np.bincount(codes, minlength=k)}

    def total(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.bincount(codes, weights=values, minlength=k).astype(np.float64)

    inferred: dict[str, OutcomeKind] = {
        o: ("binary" if _is_binary(units[o]) else "continuous") for o in outcomes
    }
    inferred.update(kinds or {})
    for o in outcomes:
        y = units[o].to_numpy(dtype=np.float64)
        data[f"{o}__sum"] = total(y)
        data[f"{o}__sum_sq"] = total(y * y)
        if inferred[o] == "continuous":
            pos = y > 0.0
            logs = np.log(np.where(pos, y, 1.0))
            data[f"{o}__pos_n"] = np.bincount(codes[pos], minlength=k)
            data[f"{o}__log_sum"] = total(logs)
            data[f"{o}__log_sum_sq"] = total(logs * logs)
            data[f"{o}__neg_n"] = np.bincount(codes[y < 0.0], minlength=k)
            data[f"{o}__sum_cu"] = total(y * y * y)
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
    return stats_from_aggregates(agg, outcomes, inferred, covs)
