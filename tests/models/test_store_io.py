"""CLV transactions read from the store, and fits and predictions saved to it and read back."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.errors import ModelError
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.models import ClvFit, CustomerSummary, fit_clv, predict_clv, summarise
from livebase.models.store_io import (
    last_paid_date,
    latest_fit_id,
    load_fit,
    load_predictions,
    predictions_sql,
    read_transactions,
    save_fit,
    stored_fits,
)
from livebase.store import Store

CDNOW_UNTIL = date(1997, 9, 30)
FITTED_AT = datetime(2026, 11, 22, 12, 0)

_INSERT = (
    "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
    "currency, status, first_load, last_load) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 1)"
)


def _orders(store: Store, rows: list[tuple[str, str, str | None, float, float, str, str]]) -> None:
    """rows: (order_id, customer_id, paid_at, amount, paid_amount, currency, status)."""
    for order_id, customer, paid_at, amount, paid, currency, status in rows:
        store.con.execute(
            _INSERT, [order_id, customer, paid_at, paid_at, amount, paid, currency, status]
        )


@pytest.fixture(scope="module")
def cdnow_store(cdnow_sample: Path) -> Store:
    store = Store.in_memory()
    load_file(
        store,
        str(cdnow_sample),
        LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2026, 11, 22)),
    )
    return store


@pytest.fixture(scope="module")
def cdnow_fit(cdnow_store: Store) -> tuple[CustomerSummary, ClvFit, pd.DataFrame]:
    t = read_transactions(cdnow_store, until=CDNOW_UNTIL)
    summary = summarise(t, CDNOW_UNTIL, unit="weeks", date_col="paid_at", amount_col="paid_amount")
    fit = fit_clv(summary)
    predictions = predict_clv(summary, fit.purchases, fit.spend, horizons_days=(90, 365))
    return summary, fit, predictions


# --- reading transactions ------------------------------------------------------------------


def test_only_paid_orders_count_and_until_includes_its_whole_day() -> None:
    store = Store.in_memory()
    _orders(
        store,
        [
            ("1", "a", "2024-01-01 09:00", 10, 10, "USD", "paid"),
            ("2", "a", "2024-01-05 23:59:59", 8, 4, "USD", "partially_paid"),
            ("3", "a", "2024-01-06 00:00", 5, 5, "USD", "paid"),  # the day after until
            ("4", "b", None, 9, 0, "USD", "pending"),
            ("5", "b", "2024-01-02", 9, 0, "USD", "refunded"),
            ("6", "c", "2024-01-03", 20, 0, "USD", "cancelled"),
        ],
    )
    t = read_transactions(store, until=date(2024, 1, 5))
    assert list(t.columns) == ["customer_id", "paid_at", "paid_amount"]
    assert t[["customer_id", "paid_amount"]].values.tolist() == [["a", 10.0], ["a", 4.0]]
    assert len(read_transactions(store)) == 3
    assert last_paid_date(store) == date(2024, 1, 6)


def test_free_paid_orders_count_by_default_and_can_be_skipped() -> None:
    store = Store.in_memory()
    _orders(
        store,
        [
            ("1", "a", "2024-01-01", 10, 10, "USD", "paid"),
            ("2", "a", "2024-01-08", 0, 0, "USD", "paid"),  # free: the customer came back
            ("3", "b", "2024-01-09", 0, 0, "USD", "paid"),  # only a free order
            ("4", "b", "2024-01-10", 0, 0, "USD", "partially_paid"),  # nothing paid yet
        ],
    )
    counted = read_transactions(store)
    assert counted["customer_id"].tolist() == ["a", "a", "b"]
    summary = summarise(counted, date(2024, 1, 29), date_col="paid_at", amount_col="paid_amount")
    a = summary.table.set_index("customer_id").loc["a"]
    assert (a["x"], a["monetary_x"], a["monetary_value"]) == (1, 0, 0.0)
    skipped = read_transactions(store, count_free_orders=False)
    assert skipped["customer_id"].tolist() == ["a"]
    assert last_paid_date(store) == date(2024, 1, 9)
    assert last_paid_date(store, count_free_orders=False) == date(2024, 1, 1)


def test_several_currencies_need_a_choice() -> None:
    store = Store.in_memory()
    _orders(
        store,
        [
            ("1", "a", "2024-01-01", 10, 10, "USD", "paid"),
            ("2", "b", "2024-01-02", 900, 900, "RUB", "paid"),
        ],
    )
    with pytest.raises(ModelError, match=r"several currencies \(RUB, USD\).*--currency"):
        read_transactions(store)
    assert read_transactions(store, currency="RUB")["customer_id"].tolist() == ["b"]


@functools.cache
def _scratch_store() -> Store:
    """One migrated in-memory store reused across hypothesis examples (emptied by each)."""
    return Store.in_memory()


_STATUSES = ("paid", "partially_paid", "pending", "cancelled", "refunded")
_order = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(min_value=0, max_value=20),  # paid day offset
    st.integers(min_value=0, max_value=86399),  # second of the day
    st.sampled_from([0, 5, 12]),
    st.sampled_from(_STATUSES),
)


@settings(max_examples=40, deadline=None)
@given(orders=st.lists(_order, max_size=12), until=st.integers(min_value=0, max_value=20))
def test_transactions_are_the_paid_orders_up_to_the_end_of_until(
    orders: list[tuple[str, int, int, int, str]], until: int
) -> None:
    store = _scratch_store()
    store.con.execute("DELETE FROM orders")
    start = datetime(2024, 3, 1)
    rows = []
    for i, (customer, day, second, amount, status) in enumerate(orders):
        paid = amount if status in ("paid", "partially_paid") else 0
        when = start + timedelta(days=day, seconds=second)
        rows.append((str(i), customer, when.isoformat(" "), amount, paid, "USD", status))
    _orders(store, rows)
    end = start.date() + timedelta(days=until)
    got = read_transactions(store, until=end)
    expected = sorted(
        (customer, start + timedelta(days=day, seconds=second))
        for customer, day, second, amount, status in orders
        if (status == "paid" or (status == "partially_paid" and amount > 0)) and day <= until
    )
    assert sorted(zip(got["customer_id"], got["paid_at"], strict=True)) == expected


def test_cdnow_in_the_store_gives_the_published_summary(
    cdnow_store: Store, cdnow_summary: CustomerSummary
) -> None:
    t = read_transactions(cdnow_store, until=CDNOW_UNTIL)
    summary = summarise(t, CDNOW_UNTIL, unit="weeks", date_col="paid_at", amount_col="paid_amount")
    assert summary.customers == 2357
    pd.testing.assert_frame_equal(summary.table, cdnow_summary.table, check_dtype=False)
    # 8 customers' only order is worth 0: without free orders they leave the base
    skipped = read_transactions(cdnow_store, until=CDNOW_UNTIL, count_free_orders=False)
    assert skipped["customer_id"].nunique() == 2349


# --- saving and loading fits ---------------------------------------------------------------


def test_fit_and_predictions_round_trip(
    cdnow_fit: tuple[CustomerSummary, ClvFit, pd.DataFrame],
) -> None:
    _, fit, predictions = cdnow_fit
    store = Store.in_memory()
    fit_id = save_fit(
        store, fit, predictions, fitted_at=FITTED_AT, monthly_discount_rate=0.01, margin=0.3
    )
    stored = load_fit(store)
    assert stored.fit_id == fit_id and stored.fit == fit
    assert stored.as_of == CDNOW_UNTIL and stored.fitted_at == FITTED_AT
    assert stored.horizons_days == (90, 365)
    assert (stored.monthly_discount_rate, stored.margin) == (0.01, 0.3)
    assert stored.predicted_customers == 2357
    rows = store.con.execute(
        "SELECT model, version, as_of, customers, CAST(params AS VARCHAR) FROM clv_models "
        "ORDER BY model_id"
    ).fetchall()
    assert [r[:4] for r in rows] == [
        ("bgnbd", 1, CDNOW_UNTIL, 2357),
        ("gamma_gamma", 1, CDNOW_UNTIL, 946),
    ]
    assert '"alpha"' in rows[0][4] and '"v"' in rows[1][4]
    assert store.fetch_value("SELECT count(*) FROM clv_predictions") == 2 * 2357
    loaded = load_predictions(store)
    expected = predictions.sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded, expected, check_dtype=False)
    one = load_predictions(store, customer_id="00004")
    assert one["customer_id"].tolist() == ["00004"]
    assert load_predictions(store, customer_id="nobody").empty


def test_the_latest_fit_per_as_of_wins(
    cdnow_fit: tuple[CustomerSummary, ClvFit, pd.DataFrame],
) -> None:
    _, fit, predictions = cdnow_fit
    store = Store.in_memory()

    def save(f: ClvFit, preds: pd.DataFrame) -> str:
        return save_fit(store, f, preds, fitted_at=FITTED_AT, monthly_discount_rate=0.0, margin=1)

    first = save(fit, predictions)
    second = save(fit, predictions.head(100))
    assert first != second
    # the earlier prediction for the same as_of is gone, the model stays for the record
    assert latest_fit_id(store) == second
    assert store.fetch_value("SELECT count(DISTINCT fit_id) FROM clv_predictions") == 1
    fits = stored_fits(store)
    assert fits["fit_id"].tolist() == [second, first]
    assert fits["predictions"].tolist() == [100, 0]
    # a backtest as of an earlier date keeps today's predictions, and is used only before it
    earlier = ClvFit.from_dict(
        {
            "models": {
                "purchases": {**fit.purchases.to_dict(), "until": "1997-06-30"},
                "spend": fit.spend.to_dict(),
            }
        }
    )
    backtest = save(earlier, predictions.head(10))
    assert latest_fit_id(store) == second
    assert latest_fit_id(store, as_of=date(1997, 9, 29)) == backtest
    assert latest_fit_id(store, as_of=date(1997, 6, 29)) is None
    assert len(load_predictions(store, as_of=date(1997, 8, 1))) == 10
    with pytest.raises(ModelError, match=r"as of 1997-06-29 or earlier.*livebase clv fit"):
        load_fit(store, as_of=date(1997, 6, 29))


def test_bad_predictions_store_nothing(
    cdnow_fit: tuple[CustomerSummary, ClvFit, pd.DataFrame],
) -> None:
    _, fit, predictions = cdnow_fit
    store = Store.in_memory()
    broken = predictions.copy()
    broken.loc[0, "clv_90d"] = float("nan")
    with pytest.raises(ModelError, match="missing values"):
        save_fit(store, fit, broken, fitted_at=FITTED_AT, monthly_discount_rate=0.01, margin=1)
    with pytest.raises(ModelError, match="output of predict_clv"):
        save_fit(
            store,
            fit,
            predictions.drop(columns="p_alive"),
            fitted_at=FITTED_AT,
            monthly_discount_rate=0.01,
            margin=1,
        )
    assert store.fetch_value("SELECT count(*) FROM clv_models") == 0
    assert latest_fit_id(store) is None


def test_an_empty_store_has_no_fit_and_says_how_to_make_one() -> None:
    store = Store.in_memory()
    with pytest.raises(ModelError, match="livebase clv fit"):
        load_fit(store)
    with pytest.raises(ModelError, match="livebase clv fit"):
        load_predictions(store)
    assert stored_fits(store).empty


def test_predictions_sql_runs_as_a_cte_for_feature_joins(
    cdnow_fit: tuple[CustomerSummary, ClvFit, pd.DataFrame],
) -> None:
    _, fit, predictions = cdnow_fit
    store = Store.in_memory()
    fit_id = save_fit(
        store, fit, predictions, fitted_at=FITTED_AT, monthly_discount_rate=0.01, margin=1
    )
    sql = predictions_sql(fit_id, [365])
    n = store.fetch_value(
        f"WITH clv AS ({sql}) SELECT count(*) FROM clv WHERE p_alive < 0.3 AND clv_365d > 0"
    )
    assert n == int(((predictions["p_alive"] < 0.3) & (predictions["clv_365d"] > 0)).sum())


class _FailingPredictions:
    """A connection proxy whose INSERT INTO clv_predictions fails, like a full disk would."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def execute(self, sql: str, params: object = None) -> duckdb.DuckDBPyConnection:
        if "INSERT INTO clv_predictions" in sql:
            raise duckdb.IOException("simulated write failure")
        return self._con.execute(sql, params)

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


def test_a_failure_while_writing_predictions_stores_nothing(
    cdnow_fit: tuple[CustomerSummary, ClvFit, pd.DataFrame],
) -> None:
    _, fit, predictions = cdnow_fit
    store = Store.in_memory()
    first = save_fit(
        store, fit, predictions, fitted_at=FITTED_AT, monthly_discount_rate=0.01, margin=1
    )
    real = store.transaction

    @contextlib.contextmanager
    def failing() -> Iterator[Any]:
        with real() as con:
            yield _FailingPredictions(con)

    store.transaction = failing  # type: ignore[method-assign]
    with pytest.raises(duckdb.IOException, match="simulated"):
        save_fit(store, fit, predictions, fitted_at=FITTED_AT, monthly_discount_rate=0.0, margin=1)
    assert store.fetch_value("SELECT count(*) FROM clv_models") == 2
    assert latest_fit_id(store) == first
    assert store.fetch_value("SELECT count(*) FROM clv_predictions") == 2 * 2357


def test_fit_warnings_are_stored_with_their_model_and_read_back() -> None:
    # 12 customers, 3 of whom bought again: Gamma-Gamma falls back to the base mean
    rows = [(f"c{i}", "2024-01-02", 20.0 + i) for i in range(12)]
    rows += [("c0", "2024-02-02", 30.0), ("c1", "2024-03-05", 50.0), ("c2", "2024-04-01", 40.0)]
    s = summarise(pd.DataFrame(rows, columns=["customer_id", "date", "amount"]), date(2024, 6, 1))
    fit = fit_clv(s)
    assert "few_repeat_buyers" in [w.code for w in fit.warnings]
    store = Store.in_memory()
    fit_id = save_fit(
        store,
        fit,
        predict_clv(s, fit.purchases, fit.spend),
        fitted_at=FITTED_AT,
        monthly_discount_rate=0.01,
        margin=1.0,
    )
    assert load_fit(store, fit_id=fit_id).fit.warnings == fit.warnings
    saved = store.con.execute(
        "SELECT model, json_array_length(saved -> 'fit_warnings') FROM clv_models ORDER BY 1"
    ).fetchall()
    spend_warnings = sum(w.part == "spend" for w in fit.warnings)
    assert saved == [("bgnbd", len(fit.warnings) - spend_warnings), ("gamma_gamma", spend_warnings)]
