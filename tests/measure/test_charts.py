"""Charts are PNG images built from a readout and an uplift evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from livebase.errors import ExperimentError
from livebase.measure import (
    FeatureSpec,
    evaluate_uplift,
    fit_uplift,
    lift_chart_png,
    qini_chart_png,
    readout,
)

PNG = b"\x89PNG\r\n\x1a\n"


def test_lift_and_qini_charts_are_png() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    arm = rng.choice(["t", "c"], n)
    x = rng.normal(size=n)
    y = (rng.random(n) < 0.1 + 0.1 * ((arm == "t") & (x > 0))).astype(int)
    units = pd.DataFrame({"arm": arm, "y": y, "x": x})
    png = lift_chart_png(readout(units, control="c", outcomes=["y"], experiment="demo"))
    assert png.startswith(PNG) and len(png) > 5000
    model = fit_uplift(units, arm_column="arm", control="c", outcome="y",
                       features=FeatureSpec(("x",)), estimator="logistic")  # fmt: skip
    assert qini_chart_png(evaluate_uplift(model, units, "arm")).startswith(PNG)


def test_nothing_to_chart_is_an_error() -> None:
    with pytest.raises(ExperimentError):
        qini_chart_png([])
