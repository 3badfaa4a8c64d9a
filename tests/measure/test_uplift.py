"""Uplift models: recovery of a known uplift, round trips, Hillstrom (Qini/AUUC by hand: in
test_uplift_metrics.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from livebase.errors import ModelError
from livebase.measure import (
    FeatureSpec,
    UpliftModel,
    evaluate_uplift,
    fit_uplift,
    score_customers,
    split_train_test,
)

CONTROL = "No E-Mail"


def synthetic(n: int, seed: int) -> pd.DataFrame:
    """Arm A moves customers with high x1, arm B those with high x2 (logistic in x)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    arm = rng.choice(["A", "B", "ctl"], size=n)

    def sig(v: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-v))

    logit = -2.0 + 2.0 * x1 * (arm == "A") + 2.0 * x2 * (arm == "B")
    p = sig(logit)
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "arm": arm, "y": (rng.random(n) < p).astype(int),
         "id": [f"c{i}" for i in range(n)]}
    )  # fmt: skip


@pytest.mark.parametrize("learner", ["t_learner", "class_transformation"])
def test_learners_recover_who_is_persuadable(learner: str) -> None:
    data = synthetic(8_000, seed=3)
    spec = FeatureSpec(("x1", "x2"))
    train, test = split_train_test(data, "arm", 0.3, seed=0)
    model = fit_uplift(
        train, arm_column="arm", control="ctl", outcome="y", features=spec,
        learner=learner, estimator="logistic",  # type: ignore[arg-type]
    )  # fmt: skip
    pred = model.predict(test)
    a_pos = test["x1"] > 0
    assert pred["A"][a_pos].mean() - pred["A"][~a_pos].mean() > 0.08
    scores = score_customers(model, test, id_column="id")
    best = scores["best_arm"]
    both_neg = (test["x1"] < -0.5) & (test["x2"] < -0.5)
    only_a = (test["x1"] > 0.5) & (test["x2"] < -0.5)
    assert (best[only_a] == "A").mean() > 0.7
    # where no e-mail works, the predicted best uplift is near zero, far below the persuadable
    best_uplift = scores["best_uplift"]
    assert best_uplift[both_neg].mean() < 0.4 * best_uplift[only_a].mean()
    assert best[both_neg].isna().mean() > 0.7  # e-mail hurts them: send nothing
    for ev in evaluate_uplift(model, test, "arm"):
        assert ev.summary.qini_coefficient > 0.2


def test_model_round_trips_through_bytes() -> None:
    data = synthetic(3000, seed=4)
    model = fit_uplift(
        data, arm_column="arm", control="ctl", outcome="y", features=FeatureSpec(("x1", "x2")),
        estimator="logistic",
    )  # fmt: skip
    again = UpliftModel.from_bytes(model.to_bytes())
    pd.testing.assert_frame_equal(model.predict(data), again.predict(data))


def test_unknown_control_and_missing_features_are_named() -> None:
    data = synthetic(300, seed=5)
    with pytest.raises(ModelError, match="did you mean 'ctl'"):
        fit_uplift(
            data, arm_column="arm", control="ctrl", outcome="y", features=FeatureSpec(("x1",))
        )
    with pytest.raises(ModelError, match="'x3' is missing"):
        fit_uplift(
            data, arm_column="arm", control="ctl", outcome="y", features=FeatureSpec(("x3",))
        )


@pytest.fixture(scope="module")
def hill_split(hillstrom: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_train_test(pd.read_csv(hillstrom), "segment", 0.3, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("learner", "estimator"),
    [("t_learner", "gradient_boosting"), ("class_transformation", "logistic")],
)
def test_hillstrom_visit_uplift_beats_random_targeting_on_held_out_data(
    hill_split: tuple[pd.DataFrame, pd.DataFrame], learner: str, estimator: str
) -> None:
    train, test = hill_split
    model = fit_uplift(
        train, arm_column="segment", control=CONTROL, outcome="visit",
        learner=learner, estimator=estimator, seed=0,  # type: ignore[arg-type]
    )  # fmt: skip
    assert model.treatments == ("Mens E-Mail", "Womens E-Mail")
    evaluations = evaluate_uplift(model, test, "segment")
    for ev in evaluations:
        assert ev.summary.qini_coefficient > 0
        assert ev.summary.auuc > ev.summary.auuc_random
        top, bottom = ev.deciles.iloc[0], ev.deciles.iloc[-1]
        assert top["observed_uplift"] > bottom["observed_uplift"]
    scores = score_customers(model, test)
    assert set(scores["best_arm"].dropna()) <= {"Mens E-Mail", "Womens E-Mail"}
    assert (scores["best_uplift"][scores["best_arm"].isna()] <= 0).all()
