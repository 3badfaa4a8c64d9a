"""Shared fixtures: where the real data sets live, and how their absence is handled.

Tests that read ``../shared/data`` take the ``shared_data`` fixture. On a developer machine
without the data they are skipped with the reason; under CI (``CI=true``) a missing data set
is a failure, because CI is where the real-data checks must run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _servers import ops_store, postgres_server, postgres_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
__all__ = ["ops_store", "postgres_server", "postgres_url"]  # fixtures shared by every test

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def _require(path: Path) -> Path:
    if path.exists():
        return path
    reason = f"real data set {path} is absent (expected ../shared/data beside the project)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; under CI the real-data tests must run")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real data sets (../shared/data)."""
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def cdnow_master(shared_data: Path) -> Path:
    return _require(shared_data / "CDNOW_master.txt")


@pytest.fixture(scope="session")
def cdnow_sample(shared_data: Path) -> Path:
    return _require(shared_data / "CDNOW_sample.txt")


@pytest.fixture(scope="session")
def hillstrom(shared_data: Path) -> Path:
    return _require(shared_data / "hillstrom.csv")
