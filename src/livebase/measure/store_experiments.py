"""Experiments in the store: the ``experiments`` rows, imported units, and reading them back.

The tables are those of migration 004 (``experiments``, ``experiment_units``). Every write is
one transaction: an import lands whole or not at all. Nothing here reads the clock: the caller
(the CLI) passes ``created_at``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.assignment import validate_shares
from livebase.measure.experiment_file import ExperimentFile
from livebase.store import Store

__all__ = [
    "StoredExperiment",
    "check_known",
    "delete_experiment",
    "experiment_names",
    "get_experiment",
    "ident",
    "json_path",
    "list_experiments",
    "load_units",
    "save_experiment",
]


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


def json_path(key: str) -> str:
    """JSONPath of a top-level key, quoted (keys may hold spaces or dots)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ident(name: str) -> str:
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
    ``planned_shares`` is what the sample-ratio check compares the arm sizes with; without it
    the experiment has no plan (stored as ``{}``) and readouts say "no plan: SRM not checked" —
    the shares observed in the file are never taken as the plan.
    """
    planned = validate_shares(planned_shares) if planned_shares is not None else {}
    arms = set(experiment.observed_shares)
    if planned and set(planned) != arms:
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
        cols.append(f"CAST(json_extract_string(outcomes, ?) AS DOUBLE) AS {ident(o)}")
        params.append(json_path(o))
    for c in covariates:
        cols.append(f"json_extract_string(covariates, ?) AS {ident(c)}")
        params.append(json_path(c))
    params.append(exp.name)
    sql = f"SELECT {', '.join(cols)} FROM experiment_units WHERE experiment = ?"
    return sql + " ORDER BY rowid", params


def check_known(what: str, asked: Iterable[str], known: Sequence[str], exp: str) -> None:
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
    check_known("outcome", outs, exp.outcomes, name)
    check_known("covariate", covs, exp.covariates, name)
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
