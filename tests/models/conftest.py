"""Fixtures of the CLV model tests: the CDNOW sample as a transactions table and its summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from livebase.models import CustomerSummary, summarise

CDNOW_UNTIL = date(1997, 9, 30)


def read_cdnow_sample(path: Path) -> pd.DataFrame:
    """customer_id, date, amount of CDNOW_sample.txt (no header, whitespace-separated)."""
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["customer_id", "sample_customer_id", "date", "number_of_cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw[["customer_id", "date", "amount"]]


@pytest.fixture(scope="session")
def cdnow_transactions(cdnow_sample: Path) -> pd.DataFrame:
    return read_cdnow_sample(cdnow_sample)


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_transactions: pd.DataFrame) -> CustomerSummary:
    return summarise(cdnow_transactions, CDNOW_UNTIL, unit="weeks")
