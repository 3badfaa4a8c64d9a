"""Uplift models and scores in the store (migrations 004, 005 and 008: parameters, no pickles).

A refit or a scoring run is one transaction. Nothing here reads the clock: the caller passes
``fitted_at`` / ``scored_at``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from livebase.errors import ModelError, did_you_mean
from livebase.measure.store_experiments import get_experiment
from livebase.measure.uplift import FeatureSpec, UpliftModel
from livebase.measure.uplift_metrics import ArmEvaluation
from livebase.measure.uplift_params import FORMAT, model_from_bytes, model_to_bytes
from livebase.store import Store

__all__ = [
    "MAX_CATEGORIES",
    "StoredUpliftModel",
    "load_uplift_model",
    "read_uplift_scores",
    "save_uplift_model",
    "save_uplift_scores",
    "uplift_features",
]

MAX_CATEGORIES = 50
"""A text covariate with more distinct values than this is not used as an uplift feature."""


@dataclass(frozen=True, eq=False)
class StoredUpliftModel:
    """An ``uplift_models`` row with its model read back from its parameters (never a pickle)."""

    name: str
    experiment: str
    outcome: str
    model: UpliftModel
    test_share: float
    n_train: int
    n_test: int
    evaluation: list[dict[str, Any]]
    fitted_at: datetime


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
            "INSERT INTO uplift_models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                model_to_bytes(model),
                fitted_at,
                FORMAT,
            ],
        )
    return name


def _load_model(name: str, fmt: object, data: bytes) -> UpliftModel:
    if fmt != FORMAT:
        raise ModelError(
            f"uplift model '{name}' was stored as a pickle by an older livebase; pickles can run "
            "code when loaded, so it is not read: refit it with 'livebase uplift fit'"
        )
    return model_from_bytes(data)


def load_uplift_model(
    store: Store, experiment: str, outcome: str | None = None
) -> StoredUpliftModel:
    """The stored model of ``experiment`` for ``outcome`` (default: the latest fitted)."""
    get_experiment(store, experiment)
    rows = store.con.execute(
        "SELECT name, outcome, test_share, n_train, n_test, evaluation, model, fitted_at, "
        "model_format "
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
        model=_load_model(str(row[0]), row[8], bytes(row[6])),
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
