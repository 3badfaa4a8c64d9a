from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from livebase.errors import ModelError
from livebase.models import HoldoutValidation, plot_holdout_validation, validate_holdout

from .test_fallback import monthly_base


@pytest.fixture(scope="module")
def cdnow_validation(cdnow_transactions: pd.DataFrame) -> HoldoutValidation:
    return validate_holdout(cdnow_transactions, holdout_from=date(1997, 10, 1))


def test_cdnow_holdout_tables_follow_the_papers_set_up(cdnow_validation: HoldoutValidation) -> None:
    v = cdnow_validation
    assert v.calibration_until == date(1997, 9, 30) and v.holdout_until == date(1998, 6, 30)
    assert round(v.model.params["r"], 3) == 0.243
    freq = v.by_frequency
    assert freq["frequency"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert int(freq["customers"].sum()) == 2357
    assert int(freq.loc[0, "customers"]) == 1411  # 1,411 of 2,357 made no repeat purchase
    # the model tracks the conditional expectations of Figure 4 within 35 % in every bucket
    ratio = freq["expected"] / freq["actual"]
    assert ratio.between(0.65, 1.1).all()


def test_cdnow_cumulative_curve_is_78_weeks_and_ends_close_to_actual(
    cdnow_validation: HoldoutValidation,
) -> None:
    cum = cdnow_validation.cumulative
    assert len(cum) == 78 and cum["holdout"].sum() == 39
    week39 = cum.loc[cum["period"] == 39].iloc[0]
    assert week39["actual"] == 2457  # all calibration repeat transactions
    assert week39["expected"] == pytest.approx(2457, rel=0.03)
    assert cum["actual"].is_monotonic_increasing and cum["expected"].is_monotonic_increasing
    assert cum["expected"].iloc[-1] == pytest.approx(cum["actual"].iloc[-1], rel=0.06)


def test_actual_holdout_counts_are_the_customer_days_in_the_holdout(
    cdnow_validation: HoldoutValidation, cdnow_transactions: pd.DataFrame
) -> None:
    days = cdnow_transactions.assign(day=cdnow_transactions["date"].dt.normalize())
    holdout = days[days["day"] >= "1997-10-01"].drop_duplicates(["customer_id", "day"])
    assert cdnow_validation.by_frequency["actual_total"].sum() == len(holdout)


def test_chart_is_written_as_png(cdnow_validation: HoldoutValidation, tmp_path: Path) -> None:
    out = plot_holdout_validation(cdnow_validation, tmp_path / "validation.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_holdout_after_the_data_is_an_error() -> None:
    t = pd.DataFrame(
        {"customer_id": ["a", "a"], "date": ["2024-01-01", "2024-01-05"], "amount": [1.0, 1.0]}
    )
    with pytest.raises(ModelError, match="earlier --holdout-from"):
        validate_holdout(t, holdout_from=date(2024, 2, 1))


def test_a_base_nobody_leaves_is_validated_with_the_constrained_fit_and_its_warning() -> None:
    calibration, future = monthly_base(every_30_days=True, spread_days=0)
    v = validate_holdout(pd.concat([calibration, future]), holdout_from=date(2025, 1, 1))
    assert [w.code for w in v.warnings] == ["purchase_params_at_bound"]
    assert v.model.params["r"] <= 1e4
    holdout = v.by_frequency[["actual_total", "expected_total"]].sum()
    assert holdout["expected_total"] == pytest.approx(holdout["actual_total"], rel=0.10)
