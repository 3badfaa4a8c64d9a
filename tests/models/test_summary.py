from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.errors import ModelError
from livebase.models import SUMMARY_COLUMNS, CustomerSummary, daily_transactions, summarise


def _tx(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def test_orders_on_one_day_count_as_one_transaction_with_summed_value() -> None:
    t = _tx(
        [
            ("a", "2024-01-01 09:00", 10.0),
            ("a", "2024-01-01 21:00", 5.0),
            ("a", "2024-01-03", 4.0),
            ("a", "2024-01-03", 6.0),
        ]
    )
    s = summarise(t, date(2024, 1, 10), unit="days").table.iloc[0]
    assert (s["x"], s["t_x"], s["T"]) == (1, 2.0, 9.0)
    assert s["monetary_value"] == 10.0  # the repeat day's two orders summed; first day left out


def test_weeks_divide_whole_days_by_seven() -> None:
    t = _tx([("a", "1997-01-01", 29.33), ("a", "1997-01-18", 29.73), ("a", "1997-08-02", 14.96)])
    s = summarise(t, date(1997, 9, 30), unit="weeks").table.iloc[0]
    assert s["T"] == pytest.approx(272 / 7)
    assert s["t_x"] == pytest.approx(213 / 7)
    assert s["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_zero_value_days_count_as_transactions_but_not_in_the_monetary_mean() -> None:
    t = _tx(
        [
            ("a", "2024-01-01", 10.0),
            ("a", "2024-01-05", 0.0),
            ("a", "2024-01-09", 30.0),
            ("b", "2024-01-01", 10.0),
            ("b", "2024-01-02", 0.0),
        ]
    )
    s = summarise(t, date(2024, 1, 31), unit="days").table.set_index("customer_id")
    assert s.loc["a", "x"] == 2 and s.loc["a", "monetary_x"] == 1
    assert s.loc["a", "monetary_value"] == 30.0
    assert s.loc["b", "x"] == 1 and s.loc["b", "monetary_x"] == 0
    assert s.loc["b", "monetary_value"] == 0.0


def test_transactions_after_until_are_ignored_and_late_customers_left_out() -> None:
    t = _tx([("a", "2024-01-01", 1.0), ("a", "2024-02-01", 1.0), ("b", "2024-03-01", 1.0)])
    s = summarise(t, date(2024, 1, 15), unit="days")
    assert s.table["customer_id"].tolist() == ["a"]
    assert s.table["x"].tolist() == [0]
    assert s.until == date(2024, 1, 15) and s.unit == "days" and s.customers == 1


def test_summary_has_the_documented_columns() -> None:
    s = summarise(_tx([("a", "2024-01-01", 1.0)]), date(2024, 1, 2))
    assert tuple(s.table.columns) == SUMMARY_COLUMNS


def test_a_missing_column_is_named_with_a_suggestion() -> None:
    t = pd.DataFrame({"customer_id": ["a"], "dates": ["2024-01-01"], "amount": [1.0]})
    with pytest.raises(ModelError, match="no date column 'date' — did you mean 'dates'"):
        summarise(t, date(2024, 1, 2))


def test_negative_amounts_and_empty_values_are_refused() -> None:
    with pytest.raises(ModelError, match="negative amount"):
        daily_transactions(_tx([("a", "2024-01-01", -5.0)]))
    with pytest.raises(ModelError, match="empty customer_id"):
        daily_transactions(_tx([(None, "2024-01-01", 5.0)]))  # type: ignore[list-item]


def test_no_transaction_before_until_is_an_error_naming_the_date() -> None:
    with pytest.raises(ModelError, match="2023-12-31"):
        summarise(_tx([("a", "2024-01-01", 1.0)]), date(2023, 12, 31))


def test_unknown_unit_lists_the_valid_ones() -> None:
    with pytest.raises(ModelError, match="'days', 'weeks'"):
        summarise(_tx([("a", "2024-01-01", 1.0)]), date(2024, 1, 2), unit="months")  # type: ignore[arg-type]


def test_cdnow_sample_summary_has_the_papers_counts(cdnow_summary: CustomerSummary) -> None:
    s = cdnow_summary.table
    assert len(s) == 2357
    assert int((s["x"] > 0).sum()) == 946  # the Gamma-Gamma note's 946 repeat buyers
    assert int(s["x"].sum()) == 2457  # repeat transactions in weeks 1-39 (Figure 2 at week 39)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(0, 60), st.floats(0, 1000)),
        min_size=1,
        max_size=40,
    )
)
def test_summary_invariants_hold_for_any_transactions(
    rows: list[tuple[str, int, float]],
) -> None:
    start = pd.Timestamp("2024-01-01")
    t = pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "date": [start + pd.Timedelta(days=r[1]) for r in rows],
            "amount": [r[2] for r in rows],
        }
    )
    s = summarise(t, date(2024, 3, 1), unit="days").table
    days = t.groupby("customer_id")["date"].nunique()
    assert (s["x"].to_numpy() == days.loc[s["customer_id"]].to_numpy() - 1).all()
    assert (s["t_x"] <= s["T"]).all() and (s["t_x"] >= 0).all()
    assert ((s["x"] == 0) == (s["t_x"] == 0)).all()
    assert (s["monetary_x"] <= s["x"]).all()
    assert np.isfinite(s["monetary_value"]).all() and (s["monetary_value"] >= 0).all()
