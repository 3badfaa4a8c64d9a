"""Readouts of stored experiments: per-arm sums aggregated in DuckDB, then the statistics.

Readouts aggregate in DuckDB (:func:`~livebase.measure.sufficient.experiment_stats_sql`) and
hand the per-arm sums to :func:`~livebase.measure.readout.readout_from_stats`: every interval
is computed from sums (the log-normal interval of revenue from Σ ln y and Σ ln² y), so no row
leaves the store.

>>> from datetime import datetime
>>> import pandas as pd
>>> from livebase.measure.store_experiments import save_experiment
>>> from livebase.store import Store
>>> from livebase.measure.experiment_file import validate_experiment_frame
>>> raw = pd.DataFrame({"grp": ["t", "c"] * 50, "buy": [1, 0, 0, 0] * 25})
>>> exp = validate_experiment_frame(raw, name="demo", arm_column="grp", control="c", outcomes=["buy"])
>>> store = Store.in_memory()
>>> save_experiment(store, exp, source="file:demo.csv", created_at=datetime(2026, 1, 5)).units
100
>>> r = read_out(store, "demo")
>>> r.comparisons[0].lift
0.5
>>> read_out(store, "dmeo")
Traceback (most recent call last):
...
livebase.errors.ExperimentError: no experiment 'dmeo' — did you mean 'demo'?; experiments are: demo
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.readout import readout_from_stats
from livebase.measure.results import Costs, Readout, ReadoutSettings
from livebase.measure.store_experiments import (
    StoredExperiment,
    check_known,
    get_experiment,
    ident,
    json_path,
)
from livebase.measure.sufficient import (
    ExperimentStats,
    OutcomeKind,
    experiment_stats_sql,
    stats_from_aggregates,
)
from livebase.store import Store

__all__ = ["default_conversion", "default_revenue", "read_out", "stats_from_store"]

_CONVERSION_NAMES = ("conversion", "converted", "purchase", "purchased", "bought", "paid", "order")


def default_conversion(outcomes: Sequence[str], kinds: Mapping[str, str]) -> str | None:
    """The outcome counted as conversion: one named like it, else the last binary outcome.

    >>> default_conversion(["visit", "conversion", "spend"], {"visit": "binary",
    ...     "conversion": "binary", "spend": "continuous"})
    'conversion'
    """
    binary = [o for o in outcomes if kinds.get(o) == "binary"]
    for o in binary:
        if o.lower() in _CONVERSION_NAMES:
            return o
    return binary[-1] if binary else None


def default_revenue(outcomes: Sequence[str], kinds: Mapping[str, str]) -> str | None:
    """The outcome counted as revenue: the first non-binary outcome."""
    return next((o for o in outcomes if kinds.get(o) == "continuous"), None)


def _kinds(store: Store, exp: StoredExperiment) -> dict[str, OutcomeKind]:
    if not exp.outcomes:
        return {}
    parts = [
        f"bool_and(CAST(json_extract_string(outcomes, ?) AS DOUBLE) IN (0, 1)) AS {ident(o)}"
        for o in exp.outcomes
    ]
    row = store.con.execute(
        f"SELECT {', '.join(parts)} FROM experiment_units WHERE experiment = ?",
        [*(json_path(o) for o in exp.outcomes), exp.name],
    ).fetchone()
    assert row is not None
    return {
        o: ("binary" if bool(v) else "continuous") for o, v in zip(exp.outcomes, row, strict=True)
    }


def _segment_expr(exp: StoredExperiment, segment: str | None) -> tuple[str | None, list[Any]]:
    if segment is None:
        return None, []
    if segment == "segment" and exp.has_segment and "segment" not in exp.covariates:
        return "segment", []
    if segment not in exp.covariates:
        known = [*exp.covariates, *(["segment"] if exp.has_segment else [])]
        raise ExperimentError(
            f"experiment '{exp.name}' has no column '{segment}' to break down by"
            f"{did_you_mean(segment, known)}; its columns are: {', '.join(known) or 'none'}"
        )
    return "json_extract_string(covariates, ?)", [json_path(segment)]


def stats_from_store(
    store: Store,
    name: str,
    *,
    covariates: Mapping[str, str] | None = None,
    conversion: str | None = None,
    revenue: str | None = None,
    segment: str | None = None,
) -> tuple[ExperimentStats, dict[str, ExperimentStats]]:
    """Per-arm sufficient statistics aggregated in DuckDB, overall and per ``segment`` value.

    ``covariates`` maps an outcome to the stored covariate used for CUPED; ``segment`` names a
    covariate (or ``"segment"``, the import's breakdown column).
    """
    exp = get_experiment(store, name)
    if not exp.imported:
        raise ExperimentError(
            f"experiment '{name}' ({exp.source}) has no per-customer outcomes in the store yet"
        )
    covs = dict(covariates or {})
    check_known("outcome", covs, exp.outcomes, name)
    check_known("covariate", covs.values(), exp.covariates, name)
    kinds = _kinds(store, exp)
    # Outcomes and covariates get plain SQL aliases (o0, x0, …): names may hold spaces.
    alias = {o: f"o{i}" for i, o in enumerate(exp.outcomes)}
    cols = ["arm"]
    params: list[Any] = []
    for o in exp.outcomes:
        cols.append(f"CAST(json_extract_string(outcomes, ?) AS DOUBLE) AS {alias[o]}")
        params.append(json_path(o))
    for i, x in enumerate(covs.values()):
        cols.append(f"CAST(json_extract_string(covariates, ?) AS DOUBLE) AS x{i}")
        params.append(json_path(x))
    seg_expr, seg_params = _segment_expr(exp, segment)
    if seg_expr is not None:
        cols.append(f"{seg_expr} AS lb_segment")
        params += seg_params
    base = f"SELECT {', '.join(cols)} FROM experiment_units WHERE experiment = ?"
    params.append(name)
    sql = experiment_stats_sql(
        "lb_units",
        "arm",
        [alias[o] for o in exp.outcomes],
        {alias[o]: f"x{i}" for i, o in enumerate(covs)},
        alias[conversion] if conversion else None,
        alias[revenue] if revenue else None,
        [alias[o] for o in exp.outcomes if kinds[o] == "continuous"],
    )
    back = {v: k for k, v in alias.items()}

    def run(where: str, extra: list[Any]) -> ExperimentStats:
        query = f"WITH lb_units AS ({base}{where}) {sql}"
        agg = store.con.execute(query, params + extra).df()
        renamed = {}
        for col in agg.columns:
            head, sep, tail = str(col).partition("__")
            if sep and head in back:
                renamed[col] = f"{back[head]}__{tail}"
        agg = agg.rename(columns=renamed)
        return stats_from_aggregates(agg, list(exp.outcomes), kinds, covs)

    overall = run("", [])
    per_segment: dict[str, ExperimentStats] = {}
    if seg_expr is not None:
        values = store.con.execute(
            f"SELECT DISTINCT CAST({seg_expr} AS VARCHAR) FROM experiment_units "
            "WHERE experiment = ? ORDER BY 1",
            [*seg_params, name],
        ).fetchall()
        for (value,) in values:
            if value is None:
                per_segment["(none)"] = run(f" AND {seg_expr} IS NULL", seg_params)
            else:
                per_segment[str(value)] = run(
                    f" AND CAST({seg_expr} AS VARCHAR) = ?", [*seg_params, str(value)]
                )
    return overall, per_segment


def _cuped_map(exp: StoredExperiment, cuped: str | Mapping[str, str] | None) -> dict[str, str]:
    if cuped is None:
        return {}
    if isinstance(cuped, str):
        check_known("covariate", [cuped], exp.covariates, exp.name)
        return {o: cuped for o in exp.outcomes}
    return dict(cuped)


def _import_segment_column(store: Store, exp: StoredExperiment) -> str | None:
    """The covariate holding the import's breakdown column, else "segment" (or None)."""
    if not exp.has_segment:
        return None
    if exp.covariates:
        parts = [
            f"bool_and(segment IS NOT DISTINCT FROM json_extract_string(covariates, ?)) AS c{i}"
            for i in range(len(exp.covariates))
        ]
        row = store.con.execute(
            f"SELECT {', '.join(parts)} FROM experiment_units WHERE experiment = ?",
            [*(json_path(c) for c in exp.covariates), exp.name],
        ).fetchone()
        if row is not None:
            for c, same in zip(exp.covariates, row, strict=True):
                if same:
                    return c
    return "segment"


def read_out(
    store: Store,
    name: str,
    *,
    conversion: str | None = None,
    revenue: str | None = None,
    segment: str | None = None,
    cuped: str | Mapping[str, str] | None = None,
    costs: Costs | None = None,
    settings: ReadoutSettings | None = None,
) -> Readout:
    """The readout of an imported experiment, from the store.

    ``conversion`` / ``revenue`` default to :func:`default_conversion` /
    :func:`default_revenue`; ``segment`` names a breakdown column (default: the import's
    ``--segment-column``, if any); ``cuped`` is a covariate applied to every outcome, or an
    outcome → covariate map. Sums come from DuckDB; no row leaves the store.
    """
    settings = settings or ReadoutSettings()
    exp = get_experiment(store, name)
    if not exp.imported:
        raise ExperimentError(
            f"experiment '{name}' ({exp.source}) has assignments but no outcomes recorded in "
            "the store: readouts of live playbooks need their conversions joined first"
        )
    kinds = _kinds(store, exp)
    conv = conversion if conversion is not None else default_conversion(exp.outcomes, kinds)
    rev = revenue if revenue is not None else default_revenue(exp.outcomes, kinds)
    check_known("outcome", [o for o in (conv, rev) if o is not None], exp.outcomes, name)
    covs = _cuped_map(exp, cuped)
    seg = segment if segment is not None else _import_segment_column(store, exp)
    overall, per_segment = stats_from_store(
        store, name, covariates=covs, conversion=conv, revenue=rev, segment=seg
    )
    return readout_from_stats(
        overall,
        control=exp.control,
        experiment=name,
        planned_shares=exp.planned_shares,
        conversion=conv,
        revenue=rev,
        costs=costs,
        settings=settings,
        segment_stats=per_segment or None,
        segment_column=seg,
    )
