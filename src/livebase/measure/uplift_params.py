"""Uplift models as plain arrays: stored and loaded without pickle, so loading runs no code.

A fitted :class:`~livebase.measure.uplift.UpliftModel` holds scikit-learn estimators; pickling
them would make every stored model a program run on load. Instead each estimator is reduced to
its parameters, written as a NumPy ``.npz`` archive (read back with ``allow_pickle=False``: only
numbers and text):

* logistic regression / ridge pipelines: the scaler's mean and scale, coefficients, intercept;
* histogram gradient boosting: per tree the nodes' feature, threshold, side of missing values,
  children, leaf flag and value, plus the baseline; prediction walks the trees on the raw
  features (``x ≤ threshold`` goes left), as scikit-learn's predictor does on raw data.

The loaded predictors answer ``predict`` / ``predict_proba`` / ``classes_`` like the originals
and give the same predictions (``tests/measure/test_uplift_params.py``).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import numpy.typing as npt

from livebase.errors import ModelError
from livebase.measure.uplift import FeatureSpec, UpliftModel

__all__ = ["FORMAT", "model_from_bytes", "model_to_bytes"]

FORMAT = "npz-v1"
"""The ``uplift_models.model_format`` of models written by :func:`model_to_bytes`."""

FloatArray = npt.NDArray[np.float64]


class _Linear:
    """Standardise, then a linear score (logistic: probability by the sigmoid)."""

    def __init__(self, mean: FloatArray, scale: FloatArray, coef: FloatArray, intercept: float,
                 classes: FloatArray | None) -> None:  # fmt: skip
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept
        self.classes_ = classes

    def _raw(self, x: FloatArray) -> FloatArray:
        out: FloatArray = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return out

    def predict(self, x: FloatArray) -> FloatArray:
        return self._raw(x)

    def predict_proba(self, x: FloatArray) -> FloatArray:
        p = 1.0 / (1.0 + np.exp(-self._raw(x)))
        return np.column_stack([1.0 - p, p])


class _Trees:
    """A sum of regression trees on raw features plus a baseline (sigmoid for classifiers)."""

    def __init__(self, arrays: dict[str, Any], classes: FloatArray | None) -> None:
        self.a = arrays
        self.classes_ = classes

    def _raw(self, x: FloatArray) -> FloatArray:
        a = self.a
        raw = np.full(x.shape[0], float(a["baseline"]))
        rows = np.arange(x.shape[0])
        offsets = a["offsets"]
        for t in range(offsets.size - 1):
            off = int(offsets[t])
            idx = np.full(x.shape[0], off)
            for _ in range(int(a["max_depth"]) + 1):
                leaf = a["is_leaf"][idx]
                if leaf.all():
                    break
                value = x[rows, a["feature"][idx]]
                left = np.where(
                    np.isnan(value), a["missing_left"][idx], value <= a["threshold"][idx]
                )
                nxt = np.where(left, a["left"][idx], a["right"][idx]) + off
                idx = np.where(leaf, idx, nxt)
            raw += a["value"][idx]
        return raw

    def predict(self, x: FloatArray) -> FloatArray:
        return self._raw(x)

    def predict_proba(self, x: FloatArray) -> FloatArray:
        p = 1.0 / (1.0 + np.exp(-self._raw(x)))
        return np.column_stack([1.0 - p, p])


def _estimator_arrays(est: Any, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    classes = getattr(est, "classes_", None)
    if classes is not None:
        out[f"{prefix}classes"] = np.asarray(classes, dtype=np.float64)
    if hasattr(est, "steps"):  # StandardScaler + LogisticRegression / Ridge
        scaler, final = est.steps[0][1], est.steps[-1][1]
        coef = np.asarray(final.coef_, dtype=np.float64).reshape(-1)
        out.update({
            f"{prefix}kind": np.array("linear"),
            f"{prefix}mean": np.asarray(scaler.mean_, dtype=np.float64),
            f"{prefix}scale": np.asarray(scaler.scale_, dtype=np.float64),
            f"{prefix}coef": coef,
            f"{prefix}intercept": np.asarray(final.intercept_, dtype=np.float64).reshape(-1)[:1],
        })  # fmt: skip
        if classes is not None and len(classes) != 2:
            raise ModelError("only binary classifiers can be stored")
        return out
    predictors = [p[0] for p in est._predictors]
    nodes = [p.nodes for p in predictors]
    if any(bool(n["is_categorical"].any()) for n in nodes):
        raise ModelError("trees with native categorical splits cannot be stored")
    sizes = np.array([0] + [n.size for n in nodes])
    cat = np.concatenate(nodes)
    out.update({
        f"{prefix}kind": np.array("trees"),
        f"{prefix}baseline": np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)[:1],
        f"{prefix}offsets": np.cumsum(sizes),
        f"{prefix}max_depth": np.array(int(cat["depth"].max()) if cat.size else 0),
        f"{prefix}feature": cat["feature_idx"].astype(np.int64),
        f"{prefix}threshold": cat["num_threshold"].astype(np.float64),
        f"{prefix}missing_left": cat["missing_go_to_left"].astype(bool),
        f"{prefix}left": cat["left"].astype(np.int64),
        f"{prefix}right": cat["right"].astype(np.int64),
        f"{prefix}is_leaf": cat["is_leaf"].astype(bool),
        f"{prefix}value": cat["value"].astype(np.float64),
    })  # fmt: skip
    return out


def model_to_bytes(model: UpliftModel) -> bytes:
    """The model as an ``.npz`` archive of its parameters (no pickle anywhere)."""
    meta = {
        "learner": model.learner,
        "estimator": model.estimator,
        "outcome": model.outcome,
        "binary": model.binary,
        "control": model.control,
        "treatments": list(model.treatments),
        "features": {"numeric": list(model.features.numeric),
                     "categorical": list(model.features.categorical)},
        "categories": {k: list(v) for k, v in model.categories.items()},
        "seed": model.seed,
        "arms": list(model.models),
        "format": FORMAT,
    }  # fmt: skip
    arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta))}
    for i, arm in enumerate(model.models):
        arrays.update(_estimator_arrays(model.models[arm], f"m{i}__"))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def model_from_bytes(data: bytes) -> UpliftModel:
    """Read a model written by :func:`model_to_bytes`; anything else is refused, nothing runs."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ModelError(
            "the stored uplift model is in the old pickle format, which could run code when "
            "loaded; it is not read: refit it with 'livebase uplift fit'"
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    models: dict[str, Any] = {}
    for i, arm in enumerate(meta["arms"]):
        p = f"m{i}__"
        classes = arrays.get(f"{p}classes")
        if str(arrays[f"{p}kind"]) == "linear":
            models[arm] = _Linear(arrays[f"{p}mean"], arrays[f"{p}scale"], arrays[f"{p}coef"],
                                  float(arrays[f"{p}intercept"][0]), classes)  # fmt: skip
        else:
            keys = ("offsets", "max_depth", "feature", "threshold", "missing_left", "left",
                    "right", "is_leaf", "value")  # fmt: skip
            tree = {k: arrays[f"{p}{k}"] for k in keys}
            tree["baseline"] = float(arrays[f"{p}baseline"][0])
            models[arm] = _Trees(tree, classes)
    return UpliftModel(
        learner=meta["learner"],
        estimator=meta["estimator"],
        outcome=meta["outcome"],
        binary=bool(meta["binary"]),
        control=meta["control"],
        treatments=tuple(meta["treatments"]),
        features=FeatureSpec(
            tuple(meta["features"]["numeric"]), tuple(meta["features"]["categorical"])
        ),
        categories={k: tuple(v) for k, v in meta["categories"].items()},
        models=models,
        seed=int(meta["seed"]),
    )
