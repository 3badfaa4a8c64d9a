"""A GetCourse-style export nobody wrote by hand (the demo generator) loads exactly."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from livebase.demo import generate_school, write_demo_files
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

LOADED_AT = datetime(2026, 11, 22, 12, 0)


@pytest.mark.parametrize("flavour", ["interface", "excel_ru"])
def test_generated_export_loads_to_the_kopeck(tmp_path: Path, flavour: str) -> None:
    data = generate_school(seed=11, customers=600)
    files = write_demo_files(data, tmp_path, flavour)  # type: ignore[arg-type]
    store = Store.in_memory()
    options = LoadOptions(PRESETS["getcourse"], loaded_at=LOADED_AT, default_currency="RUB")
    result = load_file(store, str(files.orders), options)
    assert result.rows_read == result.rows_inserted == len(data.orders)

    expected = sum(data.orders["paid_amount"], Decimal(0))
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == expected
    by_status = dict(store.con.execute("SELECT status, count(*) FROM orders GROUP BY 1").fetchall())
    assert by_status == data.orders["status"].value_counts().to_dict()
    flagged = store.fetch_value("SELECT count(*) FROM orders WHERE return_requested")
    assert flagged == int(data.orders["return_requested"].sum())


def test_users_and_events_load_and_link(tmp_path: Path) -> None:
    data = generate_school(seed=5, customers=300)
    files = write_demo_files(data, tmp_path, "excel_ru")
    store = Store.in_memory()
    for path, preset in (
        (files.users, "getcourse-users"),
        (files.orders, "getcourse"),
        (files.events, "events"),
    ):
        load_file(store, str(path), LoadOptions(PRESETS[preset], loaded_at=LOADED_AT))
    assert store.fetch_value("SELECT count(*) FROM customers") == len(data.customers)
    assert store.fetch_value("SELECT count(*) FROM events") == len(data.events)
    orphans = store.fetch_value(
        "SELECT count(*) FROM orders o ANTI JOIN customers c USING (customer_id)"
    )
    assert orphans == 0
    # the users export's names and creation dates reached the customers table
    assert store.fetch_value("SELECT count(*) FROM customers WHERE created_at IS NULL") == 0
    assert store.fetch_value("SELECT count(*) FROM customers WHERE name IS NULL") == 0
