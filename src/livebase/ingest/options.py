"""What to load and how: the options of one load, given by the caller (the clock included)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from livebase.config import IngestConfig
from livebase.ingest.presets import Preset

__all__ = ["LoadOptions"]


@dataclass(frozen=True)
class LoadOptions:
    """What to load and how; ``loaded_at`` is the clock, given by the caller.

    >>> from livebase.ingest.presets import PRESETS
    >>> LoadOptions(PRESETS["getcourse"], loaded_at=datetime(2026, 2, 1)).timezone
    'UTC'
    """

    preset: Preset
    loaded_at: datetime
    config: IngestConfig = field(default_factory=IngestConfig)
    column_map: dict[str, str] = field(default_factory=dict)
    skip_bad_rows: bool = False
    default_currency: str = "USD"
    encoding: str | None = None
    delimiter: str | None = None
    conflicting_duplicates: Literal["refuse", "keep_last"] = "refuse"
    """An order id on several rows with different values: refuse those rows (an export), or
    keep the last row (a stream of updates, such as the events inbox)."""
    timezone: str = "UTC"
    """The workspace's time zone: timestamps that carry an offset are converted to it."""
    clock: Callable[[], datetime] = datetime.now
    """Stamps the end of the load in the loads table."""
