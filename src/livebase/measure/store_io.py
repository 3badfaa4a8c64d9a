"""Experiments in the store: imports, readouts, uplift models and scores, playbook assignments.

The tables are those of migrations 001 (``assignments``), 004 (``experiments``,
``experiment_units``, ``uplift_scores``) and 005 (``uplift_models``). Every write is one
transaction: an import, a refit or a scoring run lands whole or not at all. Nothing here reads
the clock: the caller (the CLI) passes ``created_at`` / ``fitted_at`` / ``as_of``.

Readouts aggregate in DuckDB (:func:`~livebase.measure.readout.experiment_stats_sql`) and hand
the per-arm sums to :func:`~livebase.measure.readout.readout_from_stats`; only when a seeded
bootstrap interval is wanted for a non-binary outcome (revenue on a base of at most
``ReadoutSettings.bootstrap_max_units`` customers per arm) are the rows themselves read.

>>> from datetime import datetime
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

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from livebase.errors import ExperimentError, ModelError, did_you_mean
from livebase.measure.assignment import new_assignments, validate_shares
from livebase.measure.experiment_file import ExperimentFile
from livebase.measure.readout import (
    Costs,
    ExperimentStats,
    OutcomeKind,
    Readout,
    ReadoutSettings,
    experiment_stats_sql,
    readout,
    readout_from_stats,
    stats_from_aggregates,
)
from livebase.measure.uplift import ArmEvaluation, FeatureSpec, UpliftModel
from livebase.store import Store

__all__ = [
    "MAX_CATEGORIES",
    "StoredExperiment",
    "StoredUpliftModel",
    "default_conversion",
    "default_revenue",
    "delete_experiment",
    "experiment_names",
    "get_experiment",
    "list_experiments",
    "load_units",
    "load_uplift_model",
    "read_out",
    "read_uplift_scores",
    "record_assignments",
    "save_experiment",
    "save_uplift_model",
    "save_uplift_scores",
    "stats_from_store",
    "uplift_features",
]

MAX_CATEGORIES = 50
"""A text covariate with more distinct values than this is not used as an uplift feature."""

_CONVERSION_NAMES = ("conversion", "converted", "purchase", "purchased", "bought", "paid", "order")


@dataclass(frozen=True)
class StoredExperiment:
    """An ``experiments`` row and what its units hold."""

    name: str
    control: str
    planned_shares: Mapping[str, float]
    salt: str
    source: str
    """'file:<path>' for an import, 'playbook:<name>' or 'global' for live experiments."""
    outcomes: tuple[str, ...]
    covariates: tuple[str, ...]
    """Pre-treatment columns stored with the units (uplift features, CUPED, breakdowns)."""
    has_segment: bool
    """True when the import named a breakdown column (``experiment_units.segment``)."""
    units: int
    """Rows in ``experiment_units`` (imports) or ``assignments`` (live experiments)."""
    created_at: datetime

    @property
    def imported(self) -> bool:
        return self.source.startswith("file:")


@dataclass(frozen=True, eq=False)
class StoredUpliftModel:
    """An ``uplift_models`` row with its model unpickled."""

    name: str
    experiment: str
    outcome: str
    model: UpliftModel
    test_share: float
    n_train: int
    n_test: int
    evaluation: list[dict[str, Any]]
    fitted_at: datetime


def _path(key: str) -> str:
    """JSONPath of a top-level key, quoted (keys may hold spaces or dots)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def experiment_names(store: Store) -> list[str]:
    """Names of every experiment in the store, sorted."""
    rows = store.con.execute("SELECT name FROM experiments ORDER BY name").fetchall()
    return [str(r[0]) for r in rows]


def _unknown(store: Store, name: str) -> ExperimentError:
    names = experiment_names(store)
    if not names:
        return ExperimentError(
            f"no experiment '{name}': the store has no experiments yet; import one with "
            "'livebase experiment import FILE --name NAME --arm-column COL --control ARM "
            "--outcomes a,b'"
        )
    return ExperimentError(
        f"no experiment '{name}'{did_you_mean(name, names)}; experiments are: {', '.join(names)}"
    )


def get_experiment(store: Store, name: str) -> StoredExperiment:
    """The experiment called ``name``; an unknown name gets a "did you mean"."""
    row = store.con.execute(
        "SELECT name, control_arm, planned_shares, salt, source, outcomes, created_at "
        "FROM experiments WHERE name = ?",
        [name],
    ).fetchone()
    if row is None:
        raise _unknown(store, name)
    first = store.con.execute(
        "SELECT json_keys(covariates), count(*) OVER (), "
        "bool_or(segment IS NOT NULL) OVER () FROM experiment_units WHERE experiment = ? LIMIT 1",
        [name],
    ).fetchone()
    if first is not None:
        covariates = tuple(str(k) for k in (first[0] or []))
        units, has_segment = int(first[1]), bool(first[2])
    else:
        covariates, has_segment = (), False
        units = int(
            store.fetch_value("SELECT count(*) FROM assignments WHERE experiment = ?", [name])
        )
    return StoredExperiment(
        name=str(row[0]),
        control=str(row[1]),
        planned_shares={str(k): float(v) for k, v in json.loads(row[2]).items()},
        salt=str(row[3]),
        source=str(row[4]),
        outcomes=tuple(json.loads(row[5])) if row[5] is not None else (),
        covariates=covariates,
        has_segment=has_segment,
        units=units,
        created_at=row[6],
    )


def list_experiments(store: Store) -> pd.DataFrame:
    """One row per experiment: name, source, control, arms, units, outcomes, created_at."""
    frame = store.con.execute(
        """
        WITH counts AS (
            SELECT experiment, count(*) AS units FROM experiment_units GROUP BY 1
            UNION ALL
            SELECT experiment, count(*) AS units FROM assignments GROUP BY 1
        )
        SELECT e.name, e.source, e.control_arm AS control,
               json_keys(e.planned_shares) AS arms,
               coalesce((SELECT sum(units) FROM counts c WHERE c.experiment = e.name), 0)
                   AS units,
               e.outcomes, e.created_at
        FROM experiments e ORDER BY e.name
        """
    ).df()
    frame["units"] = frame["units"].astype("int64")
    frame["arms"] = [list(a) for a in frame["arms"]]
    frame["outcomes"] = [json.loads(o) if isinstance(o, str) else [] for o in frame["outcomes"]]
    return frame


def save_experiment(
    store: Store,
    experiment: ExperimentFile,
    *,
    source: str,
    created_at: datetime,
    replace: bool = False,
    planned_shares: Mapping[str, float] | None = None,
) -> StoredExperiment:
    """Store an imported experiment (``experiments`` row + ``experiment_units``) atomically.

    A second import under the same name is refused unless ``replace``: then the old units, and
    the uplift models fitted on them with their scores, are deleted in the same transaction.
    ``planned_shares`` (default: the shares observed in the file) is what the sample-ratio
    check compares the arm sizes with.
    """
    planned = (
        validate_shares(planned_shares)
        if planned_shares is not None
        else dict(experiment.observed_shares)
    )
    arms = set(experiment.observed_shares)
    if set(planned) != arms:
        raise ExperimentError(
            f"the planned shares name the arms {sorted(planned)}, the file has {sorted(arms)}: "
            "give one share per arm"
        )
    existing = store.con.execute(
        "SELECT source, created_at FROM experiments WHERE name = ?", [experiment.name]
    ).fetchone()
    if existing is not None:
        old_source, old_at = str(existing[0]), existing[1]
        if not old_source.startswith("file:"):
            raise ExperimentError(
                f"'{experiment.name}' is the name of a live experiment ({old_source}); "
                "import under another --name"
            )
        if not replace:
            n_old = store.fetch_value(
                "SELECT count(*) FROM experiment_units WHERE experiment = ?", [experiment.name]
            )
            raise ExperimentError(
                f"an experiment named '{experiment.name}' was already imported from "
                f"{old_source.removeprefix('file:')} on {old_at:%Y-%m-%d %H:%M} "
                f"({n_old:,} customers); nothing was changed. Pass --replace to overwrite it, "
                "or choose another --name"
            )
    row = experiment.experiment_row(source=source)
    units = experiment.unit_rows()
    with store.transaction() as con:
        if existing is not None:
            _delete(con, experiment.name)
        con.execute(
            "INSERT INTO experiments (name, control_arm, planned_shares, salt, source, outcomes, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                row["name"],
                row["control_arm"],
                json.dumps(planned),
                row["salt"],
                row["source"],
                row["outcomes"],
                created_at,
            ],
        )
        con.register("lb_experiment_units", units)
        try:
            con.execute(
                """
                INSERT INTO experiment_units
                    (experiment, customer_id, arm, segment, covariates, outcomes, load_id)
                SELECT CAST(experiment AS VARCHAR), CAST(customer_id AS VARCHAR),
                       CAST(arm AS VARCHAR), CAST(segment AS VARCHAR),
                       CAST(CAST(covariates AS VARCHAR) AS JSON),
                       CAST(CAST(outcomes AS VARCHAR) AS JSON), NULL
                FROM lb_experiment_units
                """
            )
        finally:
            con.unregister("lb_experiment_units")
    return get_experiment(store, experiment.name)


def _delete(con: Any, name: str) -> None:
    con.execute(
        "DELETE FROM uplift_scores WHERE model IN "
        "(SELECT name FROM uplift_models WHERE experiment = ?)",
        [name],
    )
    con.execute("DELETE FROM uplift_models WHERE experiment = ?", [name])
    con.execute("DELETE FROM experiment_units WHERE experiment = ?", [name])
    con.execute("DELETE FROM experiments WHERE name = ?", [name])


def delete_experiment(store: Store, name: str) -> None:
    """Delete an imported experiment with its units, uplift models and scores."""
    exp = get_experiment(store, name)
    if not exp.imported:
        raise ExperimentError(
            f"'{name}' is a live experiment ({exp.source}): its assignments are kept"
        )
    with store.transaction() as con:
        _delete(con, name)


def _units_sql(
    exp: StoredExperiment, outcomes: Sequence[str], covariates: Sequence[str]
) -> tuple[str, list[Any]]:
    """SELECT of an experiment's units with outcomes as DOUBLE and covariates as text."""
    cols = ["customer_id", "arm", "segment"]
    params: list[Any] = []
    for o in outcomes:
        cols.append(f"CAST(json_extract_string(outcomes, ?) AS DOUBLE) AS {_ident(o)}")
        params.append(_path(o))
    for c in covariates:
        cols.append(f"json_extract_string(covariates, ?) AS {_ident(c)}")
        params.append(_path(c))
    params.append(exp.name)
    sql = f"SELECT {', '.join(cols)} FROM experiment_units WHERE experiment = ?"
    return sql + " ORDER BY rowid", params


def _check_known(what: str, asked: Iterable[str], known: Sequence[str], exp: str) -> None:
    for a in asked:
        if a not in known:
            raise ExperimentError(
                f"experiment '{exp}' has no {what} '{a}'{did_you_mean(a, known)}; "
                f"its {what}s are: {', '.join(known) or 'none'}"
            )


def load_units(
    store: Store,
    name: str,
    *,
    outcomes: Sequence[str] | None = None,
    covariates: Sequence[str] | None = None,
) -> pd.DataFrame:
    """An imported experiment's units, one row per customer, in file order.

    Columns: customer_id, arm, segment, the outcomes (float) and the covariates (numeric when
    every value is a number, text otherwise). ``None`` means all outcomes / all covariates.
    """
    exp = get_experiment(store, name)
    if not exp.imported:
        raise ExperimentError(
            f"experiment '{name}' ({exp.source}) has assignments but no per-customer outcomes "
            "in the store: only imported experiments can be read row by row"
        )
    outs = list(exp.outcomes if outcomes is None else outcomes)
    covs = list(exp.covariates if covariates is None else covariates)
    _check_known("outcome", outs, exp.outcomes, name)
    _check_known("covariate", covs, exp.covariates, name)
    sql, params = _units_sql(exp, outs, covs)
    frame = store.con.execute(sql, params).df()
    for c in covs:
        raw = frame[c]
        num = pd.to_numeric(raw, errors="coerce")
        if int(num.notna().sum()) == int(raw.notna().sum()):
            frame[c] = num
        else:
            frame[c] = raw.astype(object).where(raw.notna(), None)
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["arm"] = frame["arm"].astype(str)
    return frame


def default_conversion(outcomes: Sequence[str], kinds: Mapping[str, OutcomeKind]) -> str | None:
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


def default_revenue(outcomes: Sequence[str], kinds: Mapping[str, OutcomeKind]) -> str | None:
    """The outcome counted as revenue: the first non-binary outcome."""
    return next((o for o in outcomes if kinds.get(o) == "continuous"), None)


def _kinds(store: Store, exp: StoredExperiment) -> dict[str, OutcomeKind]:
    if not exp.outcomes:
        return {}
    parts = [
        f"bool_and(CAST(json_extract_string(outcomes, ?) AS DOUBLE) IN (0, 1)) AS {_ident(o)}"
        for o in exp.outcomes
    ]
    row = store.con.execute(
        f"SELECT {', '.join(parts)} FROM experiment_units WHERE experiment = ?",
        [*(_path(o) for o in exp.outcomes), exp.name],
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
    return "json_extract_string(covariates, ?)", [_path(segment)]


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
    _check_known("outcome", covs, exp.outcomes, name)
    _check_known("covariate", covs.values(), exp.covariates, name)
    kinds = _kinds(store, exp)
    # Outcomes and covariates get plain SQL aliases (o0, x0, …): names may hold spaces.
    alias = {o: f"o{i}" for i, o in enumerate(exp.outcomes)}
    cols = ["arm"]
    params: list[Any] = []
    for o in exp.outcomes:
        cols.append(f"CAST(json_extract_string(outcomes, ?) AS DOUBLE) AS {alias[o]}")
        params.append(_path(o))
    for i, x in enumerate(covs.values()):
        cols.append(f"CAST(json_extract_string(covariates, ?) AS DOUBLE) AS x{i}")
        params.append(_path(x))
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
        _check_known("covariate", [cuped], exp.covariates, exp.name)
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
            [*(_path(c) for c in exp.covariates), exp.name],
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
    outcome → covariate map. Sums come from DuckDB; rows are read only for a bootstrap.
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
    _check_known("outcome", [o for o in (conv, rev) if o is not None], exp.outcomes, name)
    covs = _cuped_map(exp, cuped)
    seg = segment if segment is not None else _import_segment_column(store, exp)
    arm_sizes = store.con.execute(
        "SELECT count(*) FROM experiment_units WHERE experiment = ? GROUP BY arm", [name]
    ).fetchall()
    biggest = max((int(r[0]) for r in arm_sizes), default=0)
    wants_rows = (
        any(k == "continuous" for k in kinds.values())
        and not covs.keys() >= {o for o, k in kinds.items() if k == "continuous"}
        and (
            settings.revenue_interval == "bootstrap"
            or (settings.revenue_interval == "auto" and biggest <= settings.bootstrap_max_units)
        )
    )
    if wants_rows:
        needed = sorted(set(covs.values()) | ({seg} if seg and seg != "segment" else set()))
        _segment_expr(exp, seg)  # names an unknown breakdown column before reading rows
        units = load_units(store, name, covariates=needed)
        if seg == "segment" and "segment" not in exp.covariates:
            units["segment"] = (
                units["segment"].astype(object).where(units["segment"].notna(), "(none)")
            )
        elif seg is not None:
            units[seg] = units[seg].astype(object).where(units[seg].notna(), "(none)")
        return readout(
            units,
            control=exp.control,
            outcomes=list(exp.outcomes),
            experiment=name,
            planned_shares=exp.planned_shares,
            covariates=covs or None,
            conversion=conv,
            revenue=rev,
            segment_column=seg,
            costs=costs,
            settings=settings,
        )
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


def uplift_features(
    units: pd.DataFrame, covariates: Sequence[str], max_categories: int = MAX_CATEGORIES
) -> tuple[FeatureSpec, dict[str, str]]:
    """Uplift features from stored covariates: numbers as they are, text one-hot encoded.

    Returns the spec and the columns left out with the reason (missing values, or text with
    more than ``max_categories`` distinct values, such as an e-mail or an id).

    >>> f = pd.DataFrame({"age": [30, 41], "city": ["A", "B"], "mail": ["x@a", None]})
    >>> uplift_features(f, ["age", "city", "mail"])
    (FeatureSpec(numeric=('age',), categorical=('city',)), {'mail': 'has missing values'})
    """
    numeric: list[str] = []
    categorical: list[str] = []
    skipped: dict[str, str] = {}
    for c in covariates:
        col = units[c]
        if col.isna().any():
            skipped[c] = "has missing values"
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            numeric.append(c)
        elif col.astype(str).nunique() <= max_categories:
            categorical.append(c)
        else:
            skipped[c] = f"text with more than {max_categories} distinct values"
    return FeatureSpec(tuple(numeric), tuple(categorical)), skipped


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def save_uplift_model(
    store: Store,
    experiment: str,
    model: UpliftModel,
    evaluations: Sequence[ArmEvaluation],
    *,
    test_share: float,
    n_train: int,
    n_test: int,
    fitted_at: datetime,
) -> str:
    """Store a fitted model as ``<experiment>/<outcome>`` (a refit replaces it and drops its
    scores); returns the model name."""
    get_experiment(store, experiment)
    name = f"{experiment}/{model.outcome}"
    evaluation = [_plain(e.to_dict()) for e in evaluations]
    features = {
        "numeric": list(model.features.numeric),
        "categorical": list(model.features.categorical),
    }
    with store.transaction() as con:
        con.execute("DELETE FROM uplift_scores WHERE model = ?", [name])
        con.execute("DELETE FROM uplift_models WHERE name = ?", [name])
        con.execute(
            "INSERT INTO uplift_models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                experiment,
                model.outcome,
                model.learner,
                model.estimator,
                model.control,
                json.dumps(list(model.treatments)),
                json.dumps(features),
                test_share,
                model.seed,
                n_train,
                n_test,
                json.dumps(evaluation),
                model.to_bytes(),
                fitted_at,
            ],
        )
    return name


def load_uplift_model(
    store: Store, experiment: str, outcome: str | None = None
) -> StoredUpliftModel:
    """The stored model of ``experiment`` for ``outcome`` (default: the latest fitted)."""
    get_experiment(store, experiment)
    rows = store.con.execute(
        "SELECT name, outcome, test_share, n_train, n_test, evaluation, model, fitted_at "
        "FROM uplift_models WHERE experiment = ? ORDER BY fitted_at DESC, name",
        [experiment],
    ).fetchall()
    if not rows:
        raise ModelError(
            f"experiment '{experiment}' has no uplift model yet: fit one with "
            f"'livebase uplift fit --experiment {experiment} --outcome OUTCOME'"
        )
    if outcome is not None:
        chosen = [r for r in rows if r[1] == outcome]
        if not chosen:
            have = [str(r[1]) for r in rows]
            raise ModelError(
                f"experiment '{experiment}' has no uplift model for outcome '{outcome}'"
                f"{did_you_mean(outcome, have)}; models exist for: {', '.join(have)}"
            )
        row = chosen[0]
    else:
        row = rows[0]
    return StoredUpliftModel(
        name=str(row[0]),
        experiment=experiment,
        outcome=str(row[1]),
        model=UpliftModel.from_bytes(bytes(row[6])),
        test_share=float(row[2]),
        n_train=int(row[3]),
        n_test=int(row[4]),
        evaluation=json.loads(row[5]),
        fitted_at=row[7],
    )


def save_uplift_scores(
    store: Store, model: str, scores: pd.DataFrame, treatments: Sequence[str], scored_at: datetime
) -> int:
    """Replace the ``uplift_scores`` of ``model`` with ``scores`` (the frame of
    :func:`~livebase.measure.uplift.score_customers` with a ``customer_id`` column)."""
    frame = pd.DataFrame(
        {
            "customer_id": scores["customer_id"].astype(str).to_numpy(),
            "best_arm": scores["best_arm"].astype(object).to_numpy(),
            "best_uplift": scores["best_uplift"].to_numpy(dtype=np.float64),
        }
    )
    for i, arm in enumerate(treatments):
        frame[f"u{i}"] = scores[f"uplift[{arm}]"].to_numpy(dtype=np.float64)
    pairs = ", ".join(f"?, u{i}" for i in range(len(treatments)))
    with store.transaction() as con:
        con.execute("DELETE FROM uplift_scores WHERE model = ?", [model])
        con.register("lb_uplift_scores", frame)
        try:
            con.execute(
                f"""
                INSERT INTO uplift_scores
                SELECT ?, customer_id, CAST(best_arm AS VARCHAR), best_uplift,
                       json_object({pairs}), ?
                FROM lb_uplift_scores
                """,
                [model, *treatments, scored_at],
            )
        finally:
            con.unregister("lb_uplift_scores")
    return len(frame)


def read_uplift_scores(store: Store, model: str) -> pd.DataFrame:
    """The stored scores of ``model``: customer_id, best_arm, best_uplift, uplifts (dict)."""
    frame = store.con.execute(
        "SELECT customer_id, best_arm, best_uplift, uplifts, scored_at FROM uplift_scores "
        "WHERE model = ? ORDER BY customer_id",
        [model],
    ).df()
    frame["uplifts"] = [json.loads(u) for u in frame["uplifts"]]
    return frame


def record_assignments(
    store: Store,
    experiment: str,
    customer_ids: Iterable[object],
    *,
    salt: str,
    shares: Mapping[str, float],
    as_of: datetime,
    control: str = "holdout",
    source: str,
    strata: Iterable[object] | None = None,
    stratum_shares: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """Assign the customers of a playbook experiment not yet in it, and store them.

    Customers already assigned never move (:func:`~livebase.measure.assignment.new_assignments`);
    the ``experiments`` row is created on the first call and must keep its salt and shares
    afterwards. Returns the new ``assignments`` rows.
    """
    planned = validate_shares(shares)
    if control not in planned:
        raise ExperimentError(
            f"the control arm '{control}' is not among the arms {sorted(planned)}"
            f"{did_you_mean(control, planned)}"
        )
    row = store.con.execute(
        "SELECT control_arm, planned_shares, salt, source FROM experiments WHERE name = ?",
        [experiment],
    ).fetchone()
    if row is not None:
        if str(row[3]).startswith("file:"):
            raise ExperimentError(
                f"'{experiment}' is an experiment imported from {str(row[3])[5:]}: "
                "give the playbook's experiment another name"
            )
        stored = {str(k): float(v) for k, v in json.loads(row[1]).items()}
        if stored != planned or str(row[2]) != salt or str(row[0]) != control:
            raise ExperimentError(
                f"experiment '{experiment}' was planned with shares {stored}, control "
                f"'{row[0]}' and salt '{row[2]}'; changing them mid-experiment breaks its "
                "readout: keep them, or start a new experiment name"
            )
    existing = store.con.execute(
        "SELECT experiment, customer_id, salt FROM assignments WHERE experiment = ?",
        [experiment],
    ).df()
    rows = new_assignments(
        existing, customer_ids, experiment, salt, planned, strata, stratum_shares, as_of
    )
    with store.transaction() as con:
        if row is None:
            con.execute(
                "INSERT INTO experiments (name, control_arm, planned_shares, salt, source, "
                "outcomes, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                [experiment, control, json.dumps(planned), salt, source, as_of],
            )
        if len(rows):
            insert = pd.DataFrame(
                {
                    "experiment": experiment,
                    "customer_id": rows["customer_id"].astype(str).to_numpy(),
                    "arm": rows["arm"].astype(str).to_numpy(),
                    "salt": salt,
                }
            )
            con.register("lb_new_assignments", insert)
            try:
                con.execute(
                    "INSERT INTO assignments SELECT CAST(experiment AS VARCHAR), "
                    "CAST(customer_id AS VARCHAR), CAST(arm AS VARCHAR), CAST(salt AS VARCHAR), "
                    "? FROM lb_new_assignments",
                    [as_of],
                )
            finally:
                con.unregister("lb_new_assignments")
    return rows
