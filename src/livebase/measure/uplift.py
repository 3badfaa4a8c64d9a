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
uplift is positive. Evaluation on a held-out split (seeded): the Qini curve (Radcliffe 2007,
"Using control groups to target on predicted lift", DMA Analytics Journal), the uplift curve
and its area (AUUC; Rzepakowski & Jaroszewicz 2012, KAIS 32), and uplift by decile.
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
    "ArmEvaluation",
    "FeatureSpec",
    "QiniSummary",
    "UpliftModel",
    "design_matrix",
    "evaluate_uplift",
    "fit_uplift",
    "qini_curve",
    "qini_summary",
    "score_customers",
    "split_train_test",
    "uplift_by_decile",
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


def split_train_test(
    frame: pd.DataFrame, arm_column: str, test_share: float = 0.3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split, stratified by arm, into (train, test).

    >>> f = pd.DataFrame({"arm": ["a", "b"] * 50})
    >>> [len(p) for p in split_train_test(f, "arm", 0.3, seed=1)]
    [70, 30]
    """
    if not 0.0 < test_share < 1.0:
        raise ModelError(f"test_share must be in (0, 1), got {test_share}")
    rng = np.random.default_rng(seed)
    arms = frame[arm_column].astype(str).to_numpy()
    test = np.zeros(len(frame), dtype=bool)
    for arm in sorted(set(arms.tolist())):
        idx = np.flatnonzero(arms == arm)
        k = round(idx.size * test_share)
        test[rng.permutation(idx)[:k]] = True
    return frame[~test], frame[test]


def _cumulative(
    y: FloatArray, treated: npt.NDArray[np.bool_], score: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    order = np.argsort(-score, kind="stable")
    w = treated[order].astype(np.float64)
    yo = y[order]
    return np.cumsum(w), np.cumsum(1.0 - w), np.cumsum(yo * w), np.cumsum(yo * (1.0 - w))


def qini_curve(y: npt.ArrayLike, treated: npt.ArrayLike, uplift: npt.ArrayLike) -> pd.DataFrame:
    """Qini and uplift curves, targeting customers in order of decreasing predicted uplift.

    ``qini(k) = Y_t(k) − Y_c(k) · N_t(k)/N_c(k)`` — incremental responses among the top k had
    they all been treated, at the treated scale (Radcliffe 2007); ``uplift_curve(k) =
    (Y_t(k)/N_t(k) − Y_c(k)/N_c(k)) · k`` (Rzepakowski & Jaroszewicz 2012). The ``random``
    column is the straight line of random targeting. Starts at (0, 0).

    >>> c = qini_curve([1, 0, 1, 0], [1, 1, 0, 0], [0.9, 0.1, 0.2, 0.3])
    >>> c["qini"].tolist()
    [0.0, 1.0, 1.0, 0.5, 0.0]
    """
    ya = np.asarray(y, dtype=np.float64)
    wa = np.asarray(treated, dtype=bool)
    sa = np.asarray(uplift, dtype=np.float64)
    nt, nc, yt, yc = _cumulative(ya, wa, sa)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(nc > 0, yt - yc * nt / nc, yt)
        rate_t = np.where(nt > 0, yt / nt, 0.0)
        rate_c = np.where(nc > 0, yc / nc, 0.0)
    k = np.arange(1, ya.size + 1, dtype=np.float64)
    curve = (rate_t - rate_c) * k
    zero = np.zeros(1)
    n = float(ya.size)
    frame = pd.DataFrame(
        {
            "n": np.concatenate([zero, k]),
            "fraction": np.concatenate([zero, k / n]),
            "n_treatment": np.concatenate([zero, nt]),
            "n_control": np.concatenate([zero, nc]),
            "qini": np.concatenate([zero, qini]),
            "uplift_curve": np.concatenate([zero, curve]),
        }
    )
    frame["random"] = frame["fraction"] * (qini[-1] if qini.size else 0.0)
    frame["random_uplift_curve"] = frame["fraction"] * (curve[-1] if curve.size else 0.0)
    return frame


def _area(x: FloatArray, y: FloatArray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


@dataclass(frozen=True)
class QiniSummary:
    """Areas of the Qini and uplift curves (x = fraction targeted, y per customer)."""

    qini_coefficient: float
    """(area model − area random) / (area perfect − area random) of the Qini curve: 0 is
    random targeting, 1 a perfect ranking (the normalised Qini of Radcliffe 2007)."""
    qini_area: float
    """Area between the Qini curve and the random line, per customer."""
    auuc: float
    """Area under the uplift curve, per customer (incremental responses per customer)."""
    auuc_random: float
    auuc_normalized: float
    """(AUUC − random) / (perfect − random), the perfect uplift curve ranking treated responders,
    then control non-responders, then treated non-responders, then control responders — the
    normalisation of scikit-uplift's ``uplift_auc_score`` (``perfect_uplift_curve``)."""


def qini_summary(y: npt.ArrayLike, treated: npt.ArrayLike, uplift: npt.ArrayLike) -> QiniSummary:
    """Qini coefficient and AUUC of a ranking, with the perfect ranking as the upper bound.

    The perfect Qini ranking puts treated responders first and control responders last
    (negative effects allowed), as scikit-uplift's ``perfect_qini_curve``; the perfect uplift
    curve is that of scikit-uplift's ``perfect_uplift_curve`` (binary outcome).
    """
    ya = np.asarray(y, dtype=np.float64)
    wa = np.asarray(treated, dtype=bool)
    n = float(ya.size)
    model = qini_curve(ya, wa, uplift)
    perfect = qini_curve(ya, wa, ya * wa - ya * (~wa))
    # scikit-uplift's perfect uplift curve: treated responders, control non-responders, treated
    # non-responders, control responders
    perfect_uplift = qini_curve(ya, wa, 2.0 * (ya == wa) + wa)
    x = model["fraction"].to_numpy()

    def areas(col: str, rand: str, f: pd.DataFrame) -> tuple[float, float]:
        return _area(x, f[col].to_numpy() / n), _area(x, f[rand].to_numpy() / n)

    qm, qr = areas("qini", "random", model)
    qp, _ = areas("qini", "random", perfect)
    um, ur = areas("uplift_curve", "random_uplift_curve", model)
    up, _ = areas("uplift_curve", "random_uplift_curve", perfect_uplift)
    return QiniSummary(
        qini_coefficient=(qm - qr) / (qp - qr) if qp != qr else float("nan"),
        qini_area=qm - qr,
        auuc=um,
        auuc_random=ur,
        auuc_normalized=(um - ur) / (up - ur) if up != ur else float("nan"),
    )


def uplift_by_decile(
    y: npt.ArrayLike, treated: npt.ArrayLike, uplift: npt.ArrayLike, bins: int = 10
) -> pd.DataFrame:
    """Observed vs predicted uplift by bins of predicted uplift (bin 1 = highest predicted).

    >>> t = uplift_by_decile([1, 0, 1, 0] * 5, [1, 1, 0, 0] * 5, list(range(20)), bins=2)
    >>> t[["bin", "n_treatment", "n_control"]].values.tolist()
    [[1, 4, 6], [2, 6, 4]]
    """
    ya = np.asarray(y, dtype=np.float64)
    wa = np.asarray(treated, dtype=bool)
    sa = np.asarray(uplift, dtype=np.float64)
    order = np.argsort(-sa, kind="stable")
    labels = np.empty(ya.size, dtype=np.int64)
    labels[order] = np.arange(ya.size) * bins // max(ya.size, 1) + 1
    rows = []
    for b in range(1, bins + 1):
        m = labels == b
        t, c = m & wa, m & ~wa
        rt = float(ya[t].mean()) if t.any() else float("nan")
        rc = float(ya[c].mean()) if c.any() else float("nan")
        rows.append(
            {
                "bin": b,
                "n_treatment": int(t.sum()),
                "n_control": int(c.sum()),
                "response_treatment": rt,
                "response_control": rc,
                "observed_uplift": rt - rc,
                "predicted_uplift": float(sa[m].mean()) if m.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class ArmEvaluation:
    """Held-out evaluation of one treatment arm's uplift ranking."""

    arm: str
    n_treatment: int
    n_control: int
    summary: QiniSummary
    curve: pd.DataFrame
    deciles: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "arm": self.arm,
            "n_treatment": self.n_treatment,
            "n_control": self.n_control,
            "qini_coefficient": s.qini_coefficient,
            "qini_area": s.qini_area,
            "auuc": s.auuc,
            "auuc_random": s.auuc_random,
            "auuc_normalized": s.auuc_normalized,
            "deciles": self.deciles.to_dict("records"),
        }


def evaluate_uplift(
    model: UpliftModel, test: pd.DataFrame, arm_column: str
) -> tuple[ArmEvaluation, ...]:
    """Evaluate each treatment arm's ranking on held-out rows of that arm and the control."""
    _require(test, [arm_column, model.outcome])
    pred = model.predict(test)
    arms = test[arm_column].astype(str).to_numpy()
    y = test[model.outcome].to_numpy(dtype=np.float64)
    out = []
    for arm in model.treatments:
        mask = (arms == arm) | (arms == model.control)
        treated = arms[mask] == arm
        score = pred[arm].to_numpy()[mask]
        out.append(
            ArmEvaluation(
                arm=arm,
                n_treatment=int(treated.sum()),
                n_control=int((~treated).sum()),
                summary=qini_summary(y[mask], treated, score),
                curve=qini_curve(y[mask], treated, score),
                deciles=uplift_by_decile(y[mask], treated, score),
            )
        )
    return tuple(out)
