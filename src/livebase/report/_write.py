"""The report as a workflow: make sure the date has a run of every scheme, build, write.

``livebase report`` and the service do the same: when the date has no segmentation run of a
scheme yet, it is run first (and kept in the history, as ``livebase segment`` would).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from livebase.report._data import build_report
from livebase.report._render import render_html

if TYPE_CHECKING:
    from livebase.features.settings import FeaturesSettings
    from livebase.segments.settings import SegmentsSettings
    from livebase.store import Store


def missing_runs(store: Store, segments: SegmentsSettings, day: date) -> list[str]:
    """The schemes of ``segments`` with no run as of ``day``."""
    from livebase.segments import run_dates

    return [n for n in segments.schemes if day not in run_dates(store.con, n)]


def ensure_runs(
    store: Store,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    day: date,
    *,
    ran_at: datetime,
    lines: Mapping[str, int] | None = None,
) -> list[str]:
    """Run the segmentation as of ``day`` when a scheme has no run then; returns those schemes
    (empty when every run existed; the store must be writable otherwise)."""
    from livebase.segments import run_segmentation

    missing = missing_runs(store, segments, day)
    if missing:
        run_segmentation(store, features, segments, day, ran_at=ran_at, lines=lines, collect=False)
    return missing


def write_report(
    store: Store,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    day: date,
    out: Path,
    *,
    lang: Literal["en", "ru"],
    currency: str = "",
) -> tuple[Path, int]:
    """Build the report of ``day`` (its runs exist) and write it to ``out``; path and bytes."""
    data = build_report(store, features, segments, day)
    page = render_html(data, lang=lang, currency=currency)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = page.encode("utf-8")
    out.write_bytes(raw)
    return out.resolve(), len(raw)
