"""CDNOW loaded once and segmented as of the two reference dates (shared by the tests here)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from livebase.features import FeaturesSettings
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments import SegmentationRun, SegmentsSettings, run_segmentation
from livebase.store import Store

CDNOW_DATES = (date(1998, 6, 30), date(1997, 9, 30))


@pytest.fixture(scope="session")
def cdnow_store(cdnow_master: Path) -> Store:
    store = Store.in_memory()
    load_file(
        store, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1))
    )
    return store


@pytest.fixture(scope="session")
def cdnow_runs(cdnow_store: Store) -> dict[date, SegmentationRun]:
    """Runs in the order 1998-06-30 then 1997-09-30 (the second rebuilds the history)."""
    return {
        day: run_segmentation(
            cdnow_store, FeaturesSettings(), SegmentsSettings(), day, ran_at=datetime(2000, 1, 1)
        )
        for day in CDNOW_DATES
    }
