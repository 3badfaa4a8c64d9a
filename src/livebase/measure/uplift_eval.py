"""Honest uplift evaluation: repeated seeded splits against a simple heuristic, not one lucky split.

One train/test split gives one Qini coefficient, and on a data set like Hillstrom its spread
from split to split is larger than the difference between a model and random targeting. Here
the model is refitted on ``n_splits`` seeded splits and reported as mean ± sd, beside

* the **best single-feature ranking**: every numeric feature and every category, in both
  directions, is tried as a ranking on the training part; the one with the largest Qini there is
  evaluated on the test part (so the heuristic is chosen as honestly as the model is fitted);
* **random** targeting (scores drawn at random on the test part).

A model is worth its complexity only when it beats the heuristic by more than the spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.measure.uplift import (
    HILLSTROM_FEATURES,
    Estimator,
    FeatureSpec,
    Learner,
    fit_uplift,
)
from livebase.measure.uplift_metrics import (
    QiniSummary,
    evaluate_uplift,
    qini_summary,
    split_train_test,
)

__all__ = ["RepeatedUplift", "best_single_feature", "repeated_uplift_evaluation"]


@dataclass(frozen=True)
class RepeatedUplift:
    """Per split, arm and ranking ("model", "heuristic", "random"): the held-out metrics."""

    runs: pd.DataFrame
    """Columns split, arm, ranking, feature (the heuristic's choice), qini_coefficient,
    qini_area, auuc, auuc_normalized."""

    def summary(self) -> pd.DataFrame:
        """Mean and sd over splits per arm and ranking.

        Columns arm, ranking, qini_mean, qini_sd, auuc_normalized_mean, auuc_normalized_sd,
        splits, and the heuristic's most chosen feature.
        """
        g = self.runs.groupby(["arm", "ranking"], sort=False)
        out = g.agg(
            qini_mean=("qini_coefficient", "mean"),
            qini_sd=("qini_coefficient", "std"),
            auuc_normalized_mean=("auuc_normalized", "mean"),
            auuc_normalized_sd=("auuc_normalized", "std"),
            splits=("split", "nunique"),
            feature=("feature", lambda f: f.mode().iloc[0] if f.notna().any() else None),
        )
        return out.reset_index()


def _candidates(frame: pd.DataFrame, spec: FeatureSpec) -> dict[str, npt.NDArray[np.float64]]:
    out: dict[str, npt.NDArray[np.float64]] = {}
    for col in spec.numeric:
        x = frame[col].to_numpy(dtype=np.float64)
        out[f"+{col}"] = x
        out[f"-{col}"] = -x
    for col in spec.categorical:
        values = frame[col].astype(str).to_numpy()
        for v in sorted(set(values.tolist())):
            x = (values == v).astype(np.float64)
            out[f"+{col}={v}"] = x
            out[f"-{col}={v}"] = -x
    return out


def best_single_feature(
    frame: pd.DataFrame, treated: npt.ArrayLike, outcome: str, spec: FeatureSpec
) -> str:
    """The single-feature ranking ("+history", "-recency", "+channel=Web", …) with the largest
    Qini coefficient on ``frame`` (pass the training part).

    >>> f = pd.DataFrame({"a": [5, 1, 5, 1, 1, 5, 1, 5] * 10, "y": [1, 0, 0, 0, 0, 0, 0, 0] * 10})
    >>> w = np.array([1, 1, 0, 0] * 20, dtype=bool)   # only treated customers with a = 5 buy
    >>> best_single_feature(f, w, "y", FeatureSpec(("a",)))
    '+a'
    """
    y = frame[outcome].to_numpy(dtype=np.float64)
    w = np.asarray(treated, dtype=bool)
    best, best_q = "", -np.inf
    for name, x in _candidates(frame, spec).items():
        q = qini_summary(y, w, x).qini_coefficient
        if q > best_q:
            best, best_q = name, q
    return best


def repeated_uplift_evaluation(
    frame: pd.DataFrame,
    *,
    arm_column: str,
    control: str,
    outcome: str,
    features: FeatureSpec = HILLSTROM_FEATURES,
    learner: Learner = "t_learner",
    estimator: Estimator = "gradient_boosting",
    n_splits: int = 10,
    test_share: float = 0.3,
    seed: int = 0,
) -> RepeatedUplift:
    """Fit and evaluate on ``n_splits`` seeded splits (seeds ``seed … seed + n_splits − 1``);
    per split and treatment arm, score the model, the best single feature and random."""
    rows: list[dict[str, object]] = []
    rng = np.random.default_rng(seed)
    for s in range(seed, seed + n_splits):
        train, test = split_train_test(frame, arm_column, test_share, seed=s)
        model = fit_uplift(
            train, arm_column=arm_column, control=control, outcome=outcome,
            features=features, learner=learner, estimator=estimator, seed=s,
        )  # fmt: skip
        for ev in evaluate_uplift(model, test, arm_column):
            sm = ev.summary
            rows.append(_row(s, ev.arm, "model", None, sm))
            arms_tr = train[arm_column].astype(str).to_numpy()
            mask_tr = (arms_tr == ev.arm) | (arms_tr == control)
            part = train[mask_tr]
            name = best_single_feature(part, arms_tr[mask_tr] == ev.arm, outcome, features)
            arms_te = test[arm_column].astype(str).to_numpy()
            mask_te = (arms_te == ev.arm) | (arms_te == control)
            tpart = test[mask_te]
            y = tpart[outcome].to_numpy(dtype=np.float64)
            w = arms_te[mask_te] == ev.arm
            score = _candidates(tpart, features)[name]
            rows.append(_row(s, ev.arm, "heuristic", name, qini_summary(y, w, score)))
            rand = rng.random(y.size)
            rows.append(_row(s, ev.arm, "random", None, qini_summary(y, w, rand)))
    return RepeatedUplift(pd.DataFrame(rows))


def _row(
    split: int, arm: str, ranking: str, feature: str | None, s: QiniSummary
) -> dict[str, object]:
    return {
        "split": split,
        "arm": arm,
        "ranking": ranking,
        "feature": feature,
        "qini_coefficient": s.qini_coefficient,
        "qini_area": s.qini_area,
        "auuc": s.auuc,
        "auuc_normalized": s.auuc_normalized,
    }
