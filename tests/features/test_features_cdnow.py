"""Features of every CDNOW customer as of two dates agree with an independent pandas computation
read straight from the raw file (not through the store)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from livebase.features import FeaturesSettings, compute_features, features_sql
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

DATES = [date(1998, 6, 30), date(1997, 9, 30)]


@pytest.fixture(scope="module")
def store(cdnow_master: Path) -> Store:
    s = Store.in_memory()
    load_file(s, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1)))
    return s


@pytest.fixture(scope="module")
def raw(cdnow_master: Path) -> pd.DataFrame:
    frame = pd.read_csv(cdnow_master, sep=r"\s+", dtype=str)
    frame.columns = ["customer_id", "date", "cds", "amount"]
    frame["day"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["amount"] = frame["amount"].astype(float)
    return frame


def reference_features(raw: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """RFM+ by pandas: counted = amount > 0 and on or before as_of."""
    d = pd.Timestamp(as_of)
    known = raw[raw["day"] <= d]
    paid = known[known["amount"] > 0]
    g = paid.groupby("customer_id")
    out = pd.DataFrame(
        {
            "first_paid_date": g["day"].min(),
            "last_paid_date": g["day"].max(),
            "orders_total": g.size(),
            "paid_days_total": g["day"].nunique(),
            "ltv": g["amount"].sum(),
        }
    )
    for n in (30, 90, 180):
        recent = paid[paid["day"] > d - pd.Timedelta(days=n)]
        out[f"paid_orders_{n}d"] = recent.groupby("customer_id").size()
    everyone = pd.DataFrame(
        index=pd.Index(sorted(known["customer_id"].unique()), name="customer_id")
    )
    out = everyone.join(out)
    for c in (
        "orders_total",
        "paid_days_total",
        "paid_orders_30d",
        "paid_orders_90d",
        "paid_orders_180d",
    ):
        out[c] = out[c].fillna(0).astype(int)
    out["ltv"] = out["ltv"].fillna(0.0)
    out["frequency"], out["monetary"] = out["orders_total"], out["ltv"]
    out["recency_days"] = (d - out["last_paid_date"]).dt.days
    span = (out["last_paid_date"] - out["first_paid_date"]).dt.days
    out["mean_interpurchase_days"] = np.where(
        out["paid_days_total"] > 1, span / (out["paid_days_total"] - 1).clip(lower=1), np.nan
    )
    out["aov"] = np.where(
        out["frequency"] > 0, out["monetary"] / out["frequency"].clip(lower=1), np.nan
    )
    first_seen = known.groupby("customer_id")["day"].min()
    out["tenure_days"] = (d - first_seen).dt.days
    return out.reset_index()


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_every_customer_features_match_pandas(store: Store, raw: pd.DataFrame, as_of: date) -> None:
    ours = compute_features(store.con, FeaturesSettings(), as_of).set_index("customer_id")
    ref = reference_features(raw, as_of).set_index("customer_id")
    assert sorted(ours.index) == sorted(ref.index)
    ours = ours.loc[ref.index]
    for column in (
        "orders_total",
        "paid_days_total",
        "frequency",
        "paid_orders_30d",
        "paid_orders_90d",
        "paid_orders_180d",
        "tenure_days",
    ):
        assert (ours[column].astype(int).to_numpy() == ref[column].to_numpy()).all(), column
    for column in ("ltv", "monetary", "aov", "mean_interpurchase_days", "recency_days"):
        np.testing.assert_allclose(
            ours[column].astype(float).to_numpy(),
            ref[column].astype(float).to_numpy(),
            rtol=1e-9,
            atol=1e-9,
            err_msg=column,
        )
    np.testing.assert_array_equal(
        pd.to_datetime(ours["last_paid_date"]).to_numpy(), ref["last_paid_date"].to_numpy()
    )


def test_a_past_date_ignores_later_orders(store: Store) -> None:
    early = compute_features(store.con, FeaturesSettings(), date(1997, 1, 15))
    assert early["last_paid_date"].dropna().max() <= pd.Timestamp("1997-01-15")
    assert int(early["customer_id"].count()) < 23_570


def test_window_limits_frequency_and_monetary_but_not_ltv(store: Store, raw: pd.DataFrame) -> None:
    as_of = date(1998, 6, 30)
    ours = compute_features(store.con, FeaturesSettings(window_days=365), as_of)
    ours = ours.set_index("customer_id")
    d = pd.Timestamp(as_of)
    inside = raw[
        (raw["amount"] > 0) & (raw["day"] > d - pd.Timedelta(days=365)) & (raw["day"] <= d)
    ]
    expected = inside.groupby("customer_id")["amount"].sum().reindex(ours.index).fillna(0.0)
    np.testing.assert_allclose(ours["monetary"].astype(float), expected.to_numpy(), atol=1e-9)
    assert (ours["ltv"].astype(float) >= ours["monetary"].astype(float) - 1e-9).all()


def test_features_sql_transpiles_to_spark_and_postgres() -> None:
    sqlglot = pytest.importorskip("sqlglot")
    sql = features_sql(FeaturesSettings(), date(1998, 6, 30))
    for dialect in ("spark", "postgres"):
        out = sqlglot.transpile(sql, read="duckdb", write=dialect)[0]
        assert "1998-07-01" in out
