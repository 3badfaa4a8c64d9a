from __future__ import annotations

import json
import math
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.errors import ModelError
from livebase.models import (
    BGNBD,
    DAYS_PER_MONTH,
    ClvFit,
    CustomerSummary,
    GammaGamma,
    fit_clv,
    model_from_dict,
    predict_clv,
    summarise,
)

BG = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0, customers=0)
GG = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, customers=0)


def _summary(rows: list[tuple[int, float, float, float, int]]) -> CustomerSummary:
    table = pd.DataFrame(rows, columns=["x", "t_x", "T", "monetary_value", "monetary_x"])
    table.insert(0, "customer_id", [f"c{i}" for i in range(len(rows))])
    return CustomerSummary(table=table, unit="weeks", until=date(1997, 9, 30))


def test_clv_equals_an_independent_month_by_month_sum() -> None:
    s = _summary([(2, 30.43, 38.86, 22.35, 2), (0, 0.0, 20.0, 0.0, 0), (7, 35.0, 38.0, 50.0, 7)])
    out = predict_clv(s, BG, GG, horizons_days=[100], monthly_discount_rate=0.02, margin=0.3)
    for i, row in s.table.iterrows():
        total, previous = 0.0, 0.0
        for k in range(1, math.ceil(100 / DAYS_PER_MONTH) + 1):
            end = min(k * DAYS_PER_MONTH, 100.0) / 7
            cum = BG.expected_purchases(end, [row["x"]], [row["t_x"]], [row["T"]])[0]
            total += (cum - previous) / 1.02**k
            previous = cum
        aov = GG.expected_aov([row["monetary_x"]], [row["monetary_value"]])[0]
        assert out.loc[i, "clv_100d"] == pytest.approx(0.3 * aov * total, rel=1e-10)
        assert out.loc[i, "expected_purchases_100d"] == pytest.approx(previous, rel=1e-12)


def test_prediction_table_has_the_feature_columns() -> None:
    out = predict_clv(_summary([(1, 3.0, 10.0, 5.0, 1)]), BG, GG, horizons_days=(90, 365))
    assert list(out.columns) == [
        "customer_id",
        "p_alive",
        "expected_aov",
        "expected_purchases_90d",
        "clv_90d",
        "expected_purchases_365d",
        "clv_365d",
    ]


@settings(max_examples=40, deadline=None)
@given(
    x=st.integers(0, 30),
    frac=st.floats(0.01, 1.0),
    T=st.floats(1.0, 80.0),
    rate=st.floats(0.0, 0.2),
    horizon=st.integers(1, 1000),
)
def test_discounting_never_adds_value_and_nothing_is_nan(
    x: int, frac: float, T: float, rate: float, horizon: int
) -> None:
    t_x = T * frac if x else 0.0
    s = _summary([(x, t_x, T, 30.0 if x else 0.0, x)])
    undiscounted = predict_clv(s, BG, GG, horizons_days=[horizon], monthly_discount_rate=0.0)
    discounted = predict_clv(s, BG, GG, horizons_days=[horizon], monthly_discount_rate=rate)
    assert np.isfinite(discounted.drop(columns="customer_id").to_numpy()).all()
    assert discounted.loc[0, f"clv_{horizon}d"] <= undiscounted.loc[0, f"clv_{horizon}d"] + 1e-9
    expected = undiscounted.loc[0, f"expected_purchases_{horizon}d"]
    aov = undiscounted.loc[0, "expected_aov"]
    assert undiscounted.loc[0, f"clv_{horizon}d"] == pytest.approx(expected * aov, rel=1e-9)


def test_bad_options_are_refused_with_the_valid_range() -> None:
    s = _summary([(1, 3.0, 10.0, 5.0, 1)])
    with pytest.raises(ModelError, match="margin"):
        predict_clv(s, BG, GG, margin=1.5)
    with pytest.raises(ModelError, match="monthly_discount_rate"):
        predict_clv(s, BG, GG, monthly_discount_rate=-0.1)
    with pytest.raises(ModelError, match="horizons"):
        predict_clv(s, BG, GG, horizons_days=[0])


def test_fit_clv_on_cdnow_gives_the_cli_json(cdnow_summary: CustomerSummary) -> None:
    fit = fit_clv(cdnow_summary)
    data = json.loads(json.dumps(fit.to_dict()))
    assert set(data["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert {"p", "q", "v"} <= set(data["gamma_gamma"])
    assert data["customers"] == 2357 and data["as_of"] == "1997-09-30"
    assert round(data["bgnbd"]["log_likelihood"], 1) == -9582.4
    assert ClvFit.from_dict(data) == fit
    out = predict_clv(cdnow_summary, fit.purchases, fit.spend)
    assert len(out) == 2357 and not out.isna().to_numpy().any()


def test_zero_amount_repeat_orders_fall_back_to_the_population_spend() -> None:
    rows = []
    rng = np.random.default_rng(3)
    for i in range(60):
        rows.append((f"c{i}", "2024-01-01", 20.0))
        for d in range(1, int(rng.integers(1, 6))):
            rows.append((f"c{i}", f"2024-02-{d:02d}", float(rng.gamma(4.0, 10.0))))
    rows += [("zero", "2024-01-01", 15.0), ("zero", "2024-02-10", 0.0)]
    t = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    s = summarise(t, date(2024, 3, 31), unit="weeks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_clv(s)
    out = predict_clv(s, fit.purchases, fit.spend).set_index("customer_id")
    assert out.loc["zero", "expected_aov"] == pytest.approx(fit.spend.population_mean)
    assert not out.isna().to_numpy().any()


def test_a_single_day_of_data_cannot_be_fitted_and_says_why() -> None:
    t = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "date": ["2024-01-01"] * 3, "amount": [1.0, 2.0, 3.0]}
    )
    with pytest.raises(ModelError, match="later --until"):
        fit_clv(summarise(t, date(2024, 1, 1)))


def test_unknown_purchase_model_and_saved_model_names_are_refused(
    cdnow_summary: CustomerSummary,
) -> None:
    with pytest.raises(ModelError, match="'bgnbd', 'mbgnbd'"):
        fit_clv(cdnow_summary, model="pareto")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="unknown saved model"):
        model_from_dict({"model": "pareto"})
