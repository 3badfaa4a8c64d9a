"""Stores for the report tests: a small seeded base run on two dates, and CDNOW on two dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from livebase.features import FeaturesSettings
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments import SegmentationRun, SegmentsSettings, run_segmentation
from livebase.store import Store

SMALL_DATES = (date(2026, 3, 31), date(2026, 6, 30))
CDNOW_DATES = (date(1997, 9, 30), date(1998, 6, 30))
RAN_AT = datetime(2026, 7, 1)

ALERTS = SegmentsSettings.model_validate(
    {
        "alerts": [
            # Champions shrink from 7 to 5 between the runs: fires
            {"name": "Champions shrink", "segment": "Champions", "threshold": 0.1},
            # no segment can grow by a factor of a thousand: stays quiet
            {
                "name": "Champions explode",
                "segment": "Champions",
                "direction": "up",
                "threshold": 1000.0,
            },
        ]
    }
)


def small_store(customers: int = 80, seed: int = 3) -> Store:
    """A seeded base: sign-ups over two years, some never pay, buyers with 1..8 orders."""
    rng = np.random.default_rng(seed)
    store = Store.in_memory()
    start = date(2024, 7, 1)
    order = 0
    for i in range(customers):
        cid = f"c{i:03d}"
        joined = start + timedelta(days=int(rng.integers(0, 720)))
        store.con.execute(
            "INSERT INTO customers (customer_id, created_at, first_load, last_load) "
            "VALUES (?, ?, 1, 1)",
            [cid, joined],
        )
        if rng.random() < 0.25:
            continue  # never pays
        for _ in range(int(rng.integers(1, 9))):
            day = joined + timedelta(days=int(rng.integers(0, 400)))
            if day >= date(2026, 6, 30):
                continue
            amount = float(rng.choice([990, 2490, 4990, 14900]))
            store.con.execute(
                "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, "
                "paid_amount, status, first_load, last_load) VALUES (?, ?, ?, ?, ?, ?, 'paid', 1, 1)",
                [f"o{order}", cid, day, day, amount, amount],
            )
            order += 1
    return store


@pytest.fixture(scope="module")
def small() -> tuple[Store, dict[date, SegmentationRun]]:
    """The small base segmented on both dates, with two alerts configured."""
    store = small_store()
    runs = {
        day: run_segmentation(store, FeaturesSettings(), ALERTS, day, ran_at=RAN_AT)
        for day in SMALL_DATES
    }
    return store, runs


@pytest.fixture(scope="session")
def cdnow(cdnow_master: Path) -> tuple[Store, dict[date, SegmentationRun]]:
    store = Store.in_memory()
    load_file(
        store, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1))
    )
    runs = {
        day: run_segmentation(
            store, FeaturesSettings(), SegmentsSettings(), day, ran_at=datetime(2000, 1, 1)
        )
        for day in CDNOW_DATES
    }
    return store, runs
