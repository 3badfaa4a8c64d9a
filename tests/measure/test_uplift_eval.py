"""Honest uplift evaluation: repeated seeded splits, the best single feature, random."""

from __future__ import annotations

import numpy as np
import pandas as pd

from livebase.measure import FeatureSpec
from livebase.measure.uplift_eval import best_single_feature, repeated_uplift_evaluation
from livebase.measure.uplift_metrics import qini_summary


def _persuadables(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Only young customers react to the e-mail: the single feature 'age' ranks them."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["ctl", "mail"], n)
    age = rng.integers(18, 70, n).astype(float)
    noise = rng.normal(size=n)
    p = 0.1 + np.where((arm == "mail") & (age < 35), 0.25, 0.0)
    return pd.DataFrame({"arm": arm, "age": age, "noise": noise, "y": (rng.random(n) < p) * 1})


def test_the_heuristic_picks_the_feature_that_carries_the_effect() -> None:
    f = _persuadables()
    assert best_single_feature(f, f["arm"] == "mail", "y", FeatureSpec(("age", "noise"))) == "-age"


def test_repeated_splits_give_mean_and_spread_for_model_heuristic_and_random() -> None:
    f = _persuadables()
    r = repeated_uplift_evaluation(
        f, arm_column="arm", control="ctl", outcome="y", features=FeatureSpec(("age", "noise")),
        estimator="logistic", n_splits=4, seed=3,
    )  # fmt: skip
    s = r.summary().set_index("ranking")
    assert set(s.index) == {"model", "heuristic", "random"}
    assert (s["splits"] == 4).all() and (s["qini_sd"] > 0).all()
    assert s.loc["heuristic", "feature"] == "-age"
    assert (
        s.loc["model", "qini_mean"] > s.loc["random", "qini_mean"] + 2 * s.loc["random", "qini_sd"]
    )
    assert abs(s.loc["random", "qini_mean"]) < 0.1


def test_normalised_auuc_is_one_for_scikit_uplifts_perfect_ranking() -> None:
    y = np.array([1, 0, 1, 0, 0, 1, 1, 0], dtype=float)
    w = np.array([1, 1, 0, 0, 1, 0, 1, 0], dtype=bool)
    # treated responders, control non-responders, treated non-responders, control responders
    perfect = 2.0 * (y == w) + w
    assert qini_summary(y, w, perfect).auuc_normalized == 1.0
    assert qini_summary(y, w, -perfect).auuc_normalized < 0
