"""Uplift models: whom does a campaign actually move?

Two approaches, each for several treatments against one control (Hillstrom: "Mens E-Mail"
and "Womens E-Mail" against "No E-Mail"):

* **T-learner** (two-model approach): one outcome model per arm (control included);
  ``uplift_a(x) = E[Y | x, a] − E[Y | x, control]``. Künzel, Sekhon, Bickel & Yu (2019),
  "Metalearners for estimating heterogeneous treatment effects using machine learning", PNAS
  116(10), §"T-learner".
* **Class transformation** (per treatment, on that arm's and the control's rows):
  ``Z = Y·W + (1 − Y)(1 − W)`` and ``uplift = 2 P(Z = 1 | x) − 1`` (Jaśkowski & Jaroszewicz
  2012, "Uplift modeling for clinical trial data", ICML workshop, eq. 2–3). The identity needs
  ``P(W = 1) = 1/2``: rows are weighted ``0.5 / share`` so it holds for any split. For a
  non-binary outcome the transformed-outcome regression ``Y* = Y (W − p)/(p (1 − p))``
  (Athey & Imbens 2015, "Machine learning methods for estimating heterogeneous causal
  effects", eq. 2.3) is used instead.

Per customer the best treatment is the arm with the largest predicted uplift, or none when no
uplift is positive. Held-out evaluation (Qini, AUUC, deciles) is in
``livebase.measure.uplift_metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from livebase.errors import ModelError, did_you_mean

__all__ = [
    "HILLSTROM_FEATURES",
    "FeatureSpec",
    "UpliftModel",
    "design_matrix",
    "fit_uplift",
    "score_customers",
]

Learner = Literal["t_learner", "class_transformation"]
Estimator = Literal["gradient_boosting", "logistic"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FeatureSpec:
    """Model inputs: numeric columns as they are, categorical columns one-hot encoded."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...] = ()


HILLSTROM_FEATURES = FeatureSpec(
    numeric=("recency", "history", "mens", "womens", "newbie"),
    categorical=("zip_code", "channel"),
)
"""The pre-treatment features of the Hillstrom e-mail experiment."""


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    for col in columns:
        if col not in frame.columns:
            raise ModelError(
                f"column '{col}' is missing{did_you_mean(col, map(str, frame.columns))}; "
                f"the data has: {', '.join(map(str, frame.columns))}"
            )


def design_matrix(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    categories: Mapping[str, Sequence[str]] | None = None,
) -> tuple[FloatArray, dict[str, tuple[str, ...]]]:
    """Numeric matrix of the features and the categories used for one-hot encoding.

    Pass the categories learnt at fit time when scoring: unseen values become all-zero rows.

    >>> x, cats = design_matrix(
    ...     pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]}), FeatureSpec(("a",), ("c",))
    ... )
    >>> x.tolist(), cats
    ([[1.0, 1.0, 0.0], [2.0, 0.0, 1.0]], {'c': ('x', 'y')})
    """
    _require(frame, [*spec.numeric, *spec.categorical])
    cats: dict[str, tuple[str, ...]] = {}
    blocks = [frame[list(spec.numeric)].to_numpy(dtype=np.float64)]
    for col in spec.categorical:
        values = frame[col].astype(str).to_numpy()
        known = (
            tuple(categories[col])
            if categories is not None and col in categories
            else tuple(sorted(set(values.tolist())))
        )
        cats[col] = known
        blocks.append(
            (values[:, None] == np.array(known, dtype=object)[None, :]).astype(np.float64)
        )
    matrix = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    if not np.isfinite(matrix).all():
        raise ModelError(
            "feature values must be finite numbers: fill or drop the missing values first"
        )
    return matrix, cats


def _classifier(estimator: Estimator, seed: int) -> Any:
    if estimator == "gradient_boosting":
        return HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=100,
            random_state=seed,
        )  # fmt: skip
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _regressor(estimator: Estimator, seed: int) -> Any:
    if estimator == "gradient_boosting":
        return HistGradientBoostingRegressor(
            max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=100,
            random_state=seed,
        )  # fmt: skip
    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def _predict(model: Any, x: FloatArray, binary: bool) -> FloatArray:
    if binary:
        proba = model.predict_proba(x)
        classes = list(model.classes_)
        if 1 in classes or 1.0 in classes:
            return np.asarray(proba[:, classes.index(1)], dtype=np.float64)
        return np.zeros(x.shape[0])
    return np.asarray(model.predict(x), dtype=np.float64)


def _fit(model: Any, x: FloatArray, y: FloatArray, weight: FloatArray | None = None) -> Any:
    if weight is None:
        return model.fit(x, y)
    if hasattr(model, "steps"):
        return model.fit(x, y, **{f"{model.steps[-1][0]}__sample_weight": weight})
    return model.fit(x, y, sample_weight=weight)


@dataclass(frozen=True, eq=False)
class UpliftModel:
    """A fitted uplift model (scikit-learn estimators inside; ``to_bytes`` persists their
    parameters, never a pickle)."""

    learner: Learner
    estimator: Estimator
    outcome: str
    binary: bool
    control: str
    treatments: tuple[str, ...]
    features: FeatureSpec
    categories: Mapping[str, tuple[str, ...]]
    models: Mapping[str, Any]
    """T-learner: one model per arm (control included); class transformation: one per
    treatment arm."""
    seed: int

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predicted uplift per treatment arm (one column per arm), indexed like ``frame``."""
        x, _ = design_matrix(frame, self.features, self.categories)
        out: dict[str, FloatArray] = {}
        if self.learner == "t_learner":
            base = _predict(self.models[self.control], x, self.binary)
            for arm in self.treatments:
                out[arm] = _predict(self.models[arm], x, self.binary) - base
        else:
            for arm in self.treatments:
                if self.binary:
                    out[arm] = 2.0 * _predict(self.models[arm], x, True) - 1.0
                else:
                    out[arm] = _predict(self.models[arm], x, False)
        return pd.DataFrame(out, index=frame.index)

    def to_bytes(self) -> bytes:
        """The model's parameters as an ``.npz`` archive: no pickle, nothing runs on load
        (:mod:`livebase.measure.uplift_params`)."""
        from livebase.measure.uplift_params import model_to_bytes

        return model_to_bytes(self)

    @staticmethod
    def from_bytes(data: bytes) -> UpliftModel:
        """Read :meth:`to_bytes` back (an old pickled model is refused with what to do)."""
        from livebase.measure.uplift_params import model_from_bytes

        return model_from_bytes(data)


def fit_uplift(
    frame: pd.DataFrame,
    *,
    arm_column: str,
    control: str,
    outcome: str,
    features: FeatureSpec = HILLSTROM_FEATURES,
    learner: Learner = "t_learner",
    estimator: Estimator = "gradient_boosting",
    seed: int = 0,
) -> UpliftModel:
    """Fit an uplift model of ``outcome`` for every treatment arm against ``control``."""
    _require(frame, [arm_column, outcome])
    arms = frame[arm_column].astype(str).to_numpy()
    names = sorted(set(arms.tolist()))
    if control not in names:
        raise ModelError(
            f"control arm '{control}' not found in column '{arm_column}'"
            f"{did_you_mean(control, names)}; arms are: {', '.join(names)}"
        )
    treatments = tuple(a for a in names if a != control)
    if not treatments:
        raise ModelError(f"only the control arm '{control}' is present: nothing to compare")
    y = frame[outcome].to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        raise ModelError(f"outcome '{outcome}' has missing or non-numeric values")
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    x, cats = design_matrix(frame, features)
    models: dict[str, Any] = {}
    for arm in names:
        mask = arms == arm
        if mask.sum() < 20:
            raise ModelError(f"arm '{arm}' has {int(mask.sum())} customers: at least 20 needed")
    if learner == "t_learner":
        for arm in names:
            mask = arms == arm
            model = _classifier(estimator, seed) if binary else _regressor(estimator, seed)
            models[arm] = _fit(model, x[mask], y[mask])
    elif learner == "class_transformation":
        for arm in treatments:
            mask = (arms == arm) | (arms == control)
            w = (arms[mask] == arm).astype(np.float64)
            share = float(w.mean())
            ys = y[mask]
            if binary:
                z = ys * w + (1.0 - ys) * (1.0 - w)
                weight = np.where(w == 1.0, 0.5 / share, 0.5 / (1.0 - share))
                models[arm] = _fit(_classifier(estimator, seed), x[mask], z, weight)
            else:
                y_star = ys * (w - share) / (share * (1.0 - share))
                models[arm] = _fit(_regressor(estimator, seed), x[mask], y_star)
    else:
        raise ModelError(
            f"unknown learner '{learner}'"
            f"{did_you_mean(learner, ['t_learner', 'class_transformation'])}"
        )
    return UpliftModel(
        learner=learner,
        estimator=estimator,
        outcome=outcome,
        binary=binary,
        control=control,
        treatments=treatments,
        features=features,
        categories=cats,
        models=models,
        seed=seed,
    )


def score_customers(
    model: UpliftModel, frame: pd.DataFrame, id_column: str | None = None
) -> pd.DataFrame:
    """Per customer: predicted uplift per treatment, the best treatment and its uplift.

    ``best_arm`` is missing (None) when no treatment has a positive predicted uplift: the
    customer is a sure thing, a lost cause or a do-not-disturb, and should not be sent to.
    Columns: [id_column], ``uplift[<arm>]`` per treatment, ``best_arm``, ``best_uplift``.
    """
    pred = model.predict(frame)
    values = pred.to_numpy()
    best_idx = values.argmax(axis=1)
    best = values[np.arange(len(values)), best_idx]
    arms = np.array(model.treatments, dtype=object)[best_idx]
    out = pd.DataFrame(index=frame.index)
    if id_column is not None:
        _require(frame, [id_column])
        out[id_column] = frame[id_column].astype(str)
    for arm in model.treatments:
        out[f"uplift[{arm}]"] = pred[arm]
    out["best_arm"] = pd.Series(np.where(best > 0.0, arms, None), index=frame.index, dtype=object)
    out["best_uplift"] = best
    return out
