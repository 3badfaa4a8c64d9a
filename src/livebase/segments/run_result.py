"""What a segmentation run computed, its tables made DataFrames when first read.

A nightly run that nobody reads the KPI table of never imports pandas: its 80 MB would
otherwise sit under the run's statements, and its import took 0.4 s of the run.

>>> from datetime import date
>>> import pandas as pd
>>> run = SegmentationRun(as_of=date(2026, 6, 30), customers=2, history_paths={},
...     kpis=lambda: pd.DataFrame({"scheme": ["rfm"]}), thresholds=pd.DataFrame(), job_matrices={})
>>> run.kpis["scheme"].tolist(), run.assignments.empty
(['rfm'], True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Literal, TypeAlias, TypeVar

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SegmentationRun"]

T = TypeVar("T")
Made: TypeAlias = T | Callable[[], T]
"""A value, or what makes it on first use."""


def _made(value: Made[T] | None, empty: Callable[[], T]) -> T:
    if value is None:
        return empty()
    if callable(value):
        return value()
    return value


def _empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


class SegmentationRun:
    """What a run computed. ``assignments`` and ``features`` are empty unless collected."""

    def __init__(
        self,
        *,
        as_of: date,
        customers: int,
        kpis: Made[pd.DataFrame],
        thresholds: Made[pd.DataFrame],
        job_matrices: Made[dict[str, pd.DataFrame]],
        history_paths: dict[str, str],
        assignments: Made[pd.DataFrame] | None = None,
        features: Made[pd.DataFrame] | None = None,
        source: Literal["log", "state"] = "log",
    ) -> None:
        self.as_of = as_of
        self.customers = customers
        self.history_paths = history_paths
        """Scheme → how its history was written: append (the changed rows), first (no
        history yet: every row inserted) or rebuild (a date on or before an earlier run)."""
        self.source: Literal["log", "state"] = source
        """Where the features came from: the whole order log, or customer_state and the
        recent orders (incremental)."""
        self._kpis = kpis
        self._thresholds = thresholds
        self._job_matrices = job_matrices
        self._assignments = assignments
        self._features = features

    def __repr__(self) -> str:
        return (
            f"SegmentationRun(as_of={self.as_of}, customers={self.customers}, "
            f"history_paths={self.history_paths}, source={self.source!r})"
        )

    @functools.cached_property
    def kpis(self) -> pd.DataFrame:
        """scheme, segment, position (best first), the KPI columns of ``KPI_COLUMNS``."""
        return _made(self._kpis, _empty_frame)

    @functools.cached_property
    def thresholds(self) -> pd.DataFrame:
        """Quantile schemes: scheme, dimension, feature, score, customers, min_value,
        max_value."""
        return _made(self._thresholds, _empty_frame)

    @functools.cached_property
    def job_matrices(self) -> dict[str, pd.DataFrame]:
        """Jobs scheme → long table: segment (of ``matrix_with``), job, customers, revenue."""
        return _made(self._job_matrices, dict)

    @functools.cached_property
    def assignments(self) -> pd.DataFrame:
        """customer_id, scheme, segment, scores (JSON text), when collected."""
        return _made(self._assignments, _empty_frame)

    @functools.cached_property
    def features(self) -> pd.DataFrame:
        """One row per customer, when collected."""
        return _made(self._features, _empty_frame)
