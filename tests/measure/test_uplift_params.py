"""Uplift models are stored as parameter arrays: the same predictions, no pickle, old pickles
refused with what to do."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest

from livebase.errors import ModelError
from livebase.measure import FeatureSpec, fit_uplift
from livebase.measure.uplift_params import model_from_bytes, model_to_bytes


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 3000
    f = pd.DataFrame(
        {
            "arm": rng.choice(["c", "t", "u"], n),
            "a": rng.normal(size=n),
            "b": rng.integers(0, 5, n).astype(float),
            "city": rng.choice(["x", "y"], n),
        }
    )
    f["y"] = (rng.random(n) < 0.2 + 0.2 * (f["arm"] != "c") * (f["a"] > 0)).astype(int)
    f["r"] = f["y"] * rng.gamma(2.0, 10.0, n)
    return f


@pytest.mark.parametrize("learner", ["t_learner", "class_transformation"])
@pytest.mark.parametrize("estimator", ["gradient_boosting", "logistic"])
@pytest.mark.parametrize("outcome", ["y", "r"])
def test_stored_parameters_predict_exactly_what_the_fitted_model_does(
    frame: pd.DataFrame, learner: str, estimator: str, outcome: str
) -> None:
    model = fit_uplift(
        frame, arm_column="arm", control="c", outcome=outcome,
        features=FeatureSpec(("a", "b"), ("city",)),
        learner=learner, estimator=estimator,  # type: ignore[arg-type]
    )  # fmt: skip
    data = model_to_bytes(model)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    back = model_from_bytes(data)
    np.testing.assert_allclose(back.predict(frame).to_numpy(), model.predict(frame).to_numpy())
    assert (back.treatments, back.control, back.categories) == (
        model.treatments, model.control, model.categories,
    )  # fmt: skip


def test_a_pickle_is_refused_without_being_loaded() -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("this must never run",))

    with pytest.raises(ModelError, match="refit it with 'livebase uplift fit'"):
        model_from_bytes(pickle.dumps(Boom()))
