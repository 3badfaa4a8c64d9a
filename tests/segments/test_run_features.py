"""A run's features (distinct paid days counted as orders less same-day repeats) equal the
portable COUNT(DISTINCT) features of ``compute_features`` on CDNOW, at both reference dates."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from livebase.features import FeaturesSettings, compute_features
from livebase.segments import SegmentationRun
from livebase.store import Store

CDNOW_DATES = (date(1998, 6, 30), date(1997, 9, 30))  # those of conftest.cdnow_runs


@pytest.mark.parametrize("day", CDNOW_DATES)
def test_run_features_equal_the_count_distinct_reference(
    cdnow_store: Store, cdnow_runs: dict[date, SegmentationRun], day: date
) -> None:
    reference = compute_features(cdnow_store.con, FeaturesSettings(), day)
    ran = cdnow_runs[day].features.reset_index(drop=True)
    assert (ran["paid_days_total"] < ran["orders_total"]).any()  # same-day repeats exist
    pd.testing.assert_frame_equal(ran, reference)
