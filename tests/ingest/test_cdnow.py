"""The cdnow preset on the real CDNOW files, checked against an independent pandas reading."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

LOADED_AT = datetime(2026, 11, 22, 12, 0)


@pytest.fixture(scope="module")
def cdnow_store(cdnow_master: Path) -> Store:
    store = Store.in_memory()
    load_file(store, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=LOADED_AT))
    return store


def test_master_loads_every_row_and_customer(cdnow_store: Store) -> None:
    assert cdnow_store.fetch_value("SELECT count(*) FROM orders") == 69_659
    assert cdnow_store.fetch_value("SELECT count(DISTINCT customer_id) FROM orders") == 23_570
    assert cdnow_store.fetch_value("SELECT count(*) FROM customers") == 23_570


def test_master_total_value_matches_pandas_to_the_cent(
    cdnow_store: Store, cdnow_master: Path
) -> None:
    frame = pd.read_csv(cdnow_master, sep=r"\s+", dtype={"customer_id": str, "date": str})
    expected = sum(
        (Decimal(str(v)).quantize(Decimal("0.01")) for v in frame["dollar_value"]), Decimal(0)
    )
    assert cdnow_store.fetch_value("SELECT sum(amount) FROM orders") == expected
    assert cdnow_store.fetch_value("SELECT sum(paid_amount) FROM orders") == expected
    per_customer = frame.groupby("customer_id")["dollar_value"].sum().round(2)
    stored = dict(
        cdnow_store.con.execute(
            "SELECT customer_id, CAST(sum(paid_amount) AS DOUBLE) FROM orders GROUP BY 1"
        ).fetchall()
    )
    assert stored.keys() == set(per_customer.index)
    assert all(abs(stored[c] - v) < 0.005 for c, v in per_customer.items())


def test_master_dates_and_quantities_match(cdnow_store: Store, cdnow_master: Path) -> None:
    frame = pd.read_csv(cdnow_master, sep=r"\s+", dtype={"customer_id": str, "date": str})
    first, last = cdnow_store.con.execute(
        "SELECT min(paid_at), max(paid_at) FROM orders"
    ).fetchone() or (None, None)
    assert first == datetime.strptime(frame["date"].min(), "%Y%m%d")
    assert last == datetime.strptime(frame["date"].max(), "%Y%m%d")
    assert (
        cdnow_store.fetch_value("SELECT sum(quantity) FROM orders") == frame["number_of_cds"].sum()
    )
    # rows repeated on one customer-day are kept: they are distinct purchases
    assert (
        cdnow_store.fetch_value(
            "SELECT count(DISTINCT (customer_id, CAST(paid_at AS DATE))) FROM orders"
        )
        == 67_591
    )


def test_customer_state_agrees_with_the_order_log(cdnow_store: Store) -> None:
    mismatches = cdnow_store.fetch_value(
        """SELECT count(*) FROM customer_state s JOIN (
               SELECT customer_id, count(*) FILTER (WHERE paid_amount > 0) AS n,
                      coalesce(sum(paid_amount), 0) AS revenue,
                      max(paid_at) FILTER (WHERE paid_amount > 0) AS last_paid
               FROM orders GROUP BY 1) o USING (customer_id)
           WHERE s.paid_orders <> o.n OR s.paid_revenue <> o.revenue
              OR s.last_paid_at IS DISTINCT FROM o.last_paid"""
    )
    assert mismatches == 0
    assert cdnow_store.fetch_value("SELECT count(*) FROM customer_state") == 23_570


def test_reloading_the_same_file_adds_nothing(cdnow_master: Path) -> None:
    store = Store.in_memory()
    options = LoadOptions(PRESETS["cdnow"], loaded_at=LOADED_AT)
    load_file(store, str(cdnow_master), options)
    again = load_file(store, str(cdnow_master), options)
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 69_659)
    assert store.fetch_value("SELECT count(*) FROM orders") == 69_659
    assert store.fetch_value("SELECT count(*) FROM loads") == 2


def test_sample_file_without_header_loads(cdnow_sample: Path) -> None:
    store = Store.in_memory()
    result = load_file(store, str(cdnow_sample), LoadOptions(PRESETS["cdnow"], loaded_at=LOADED_AT))
    assert result.rows_read == result.rows_inserted == 6_919
    assert store.fetch_value("SELECT count(DISTINCT customer_id) FROM orders") == 2_357
    sample_ids = store.fetch_value(
        "SELECT count(DISTINCT attributes->>'sample_customer_id') FROM orders"
    )
    assert sample_ids == 2_357
