"""Segmentation as a workflow: one date or a backfill, on DuckDB or Spark.

What ``livebase segment`` does, below the CLI so that the service and a scheduler can do the
same: pick the dates (``as_of``, or ``start`` … ``end`` every day/week/month, the ends
defaulting to the latest paid day), pick the engine (the workspace's ``engine:``, overridable),
and run. Dates outside the data's range are refused unless ``force`` (with the reason).
The clock is a parameter (``ran_at``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from livebase.errors import SegmentError, did_you_mean
from livebase.features.paid_days import latest_paid_day, paid_day_range
from livebase.i18n import _l
from livebase.segments.publish import PublishedStatus, publish_status
from livebase.segments.run import Every, SegmentationRun, backfill_dates, run_segmentation

if TYPE_CHECKING:
    from livebase.features.settings import FeaturesSettings
    from livebase.ops.store import OpsStore
    from livebase.segments.settings import SegmentsSettings
    from livebase.store import Store
    from livebase.store.settings import EngineSettings

__all__ = [
    "SegmentPlan",
    "as_of_problem",
    "check_scheme",
    "plan_segmentation",
    "publish_if_latest",
    "run_plan",
]


@dataclass(frozen=True)
class SegmentPlan:
    """The dates a segmentation will run for, and why (for the message the CLI prints)."""

    days: tuple[date, ...]
    """The dates in order; empty on Spark without ``as_of`` (its latest paid day)."""
    defaulted: bool
    """True when the date was not given: the latest paid day."""
    backfill: bool


def as_of_problem(store: Store, day: date) -> str | None:
    """Why ``day`` is outside the data's range (None when it is inside).

    A run after the latest paid order ages every customer (as of 2030 everyone would still be
    scored by rank, Champions included); one before the first order holds nobody.
    """
    days = paid_day_range(store)
    if days is None:
        return None
    first, last = days
    if day > last:
        return _l(
            "{day} is {days:,} days after the latest paid order ({last}): every customer "
            "would look that much older, and the run would become the latest run every other "
            "command reads",
            day=day.isoformat(),
            days=(day - last).days,
            last=last.isoformat(),
        )
    if day < first:
        return _l(
            "{day} is before the first paid order ({first}): nobody had bought yet",
            day=day.isoformat(),
            first=first.isoformat(),
        )
    return None


def plan_segmentation(
    store: Store,
    *,
    as_of: date | None = None,
    start: date | None = None,
    end: date | None = None,
    every: Every = "week",
    force: bool = False,
    spark: bool = False,
) -> SegmentPlan:
    """The dates to segment: ``as_of`` or a backfill; refuses an empty store and, without
    ``force``, dates outside the paid orders' range (SegmentError naming the reason).

    With ``spark`` and no backfill the store is not read (Spark reads its own orders).

    >>> from livebase.store import Store
    >>> plan_segmentation(Store.in_memory(), as_of=date(2026, 6, 30))
    Traceback (most recent call last):
    ...
    livebase.errors.EmptyStoreError: the store has no paid orders yet: load them with 'livebase ingest orders FILE' (or give --as-of)
    """
    if (start is not None or end is not None) and as_of is not None:
        raise SegmentError(_l("give either --as-of or --from/--to, not both"))
    if spark and start is None and end is None:
        # Spark reads its own orders: the default date is the latest paid day it sees
        return SegmentPlan(() if as_of is None else (as_of,), as_of is None, backfill=False)
    last = latest_paid_day(store)  # EmptyStoreError: an empty store has nothing to segment
    if start is not None or end is not None:
        plan = SegmentPlan(tuple(backfill_dates(start or last, end or last, every)), False, True)
    else:
        plan = SegmentPlan((as_of or last,), defaulted=as_of is None, backfill=False)
    if not force:
        for day in (as_of, start, end):
            problem = None if day is None else as_of_problem(store, day)
            if problem is not None:
                raise SegmentError(_l("{problem}. To run it anyway, add --force", problem=problem))
    return plan


def run_plan(
    store: Store,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    plan: SegmentPlan,
    *,
    ran_at: Callable[[], datetime],
    engine: EngineSettings | None = None,
    lines: Mapping[str, int] | None = None,
    results: Path | None = None,
    on_day: Callable[[date], None] | None = None,
) -> SegmentationRun:
    """Run every date of ``plan`` on the engine of ``engine`` (DuckDB, or Spark for one date);
    ``on_day`` is called before each date (a progress bar); returns the last run."""
    if engine is not None and engine.kind == "spark":
        if plan.backfill:
            raise SegmentError("a backfill (--from/--to) runs on DuckDB only: drop --engine spark")
        from livebase.segments.engine_run import segment_on_spark

        day = plan.days[0] if plan.days else None
        return segment_on_spark(
            engine, features, segments, day, store=store, out=results, ran_at=ran_at()
        )
    run: SegmentationRun | None = None
    for day in plan.days:
        if on_day is not None:
            on_day(day)
        run = run_segmentation(
            store,
            features,
            segments,
            day,
            ran_at=ran_at(),
            lines=lines,
            collect=False,
            engine=engine,
        )
    if run is None:
        raise SegmentError("no dates to segment")
    return run


def publish_if_latest(
    store: Store,
    ops: OpsStore,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    run: SegmentationRun,
    *,
    timezone: str,
    now: datetime,
) -> PublishedStatus | None:
    """Publish ``run`` as every customer's live status (``segments.publish``) when it is the
    latest run; a backfill of past dates never replaces today's status."""
    latest = store.fetch_value("SELECT max(as_of) FROM segment_runs")
    if latest is not None and latest > run.as_of:
        return None
    return publish_status(store, ops, features, segments, run, timezone=timezone, now=now)


def check_scheme(scheme: str | None, segments: SegmentsSettings) -> None:
    """SegmentError unless ``scheme`` is None or one of the schemes of livebase.yaml.

    >>> from livebase.segments.settings import SegmentsSettings
    >>> check_scheme("nmaed", SegmentsSettings.model_validate({}))
    Traceback (most recent call last):
    ...
    livebase.errors.SegmentError: --scheme: unknown scheme 'nmaed' — did you mean 'named'?; schemes: rfm, abc, named
    """
    if scheme is not None and scheme not in segments.schemes:
        names = list(segments.schemes)
        raise SegmentError(
            _l(
                "--scheme: unknown scheme '{scheme}'{hint}; schemes: {names}",
                scheme=scheme,
                hint=did_you_mean(scheme, names),
                names=", ".join(names),
            )
        )
