"""``livebase sync getcourse``: pull deals, users and payments through the export API.

For each object (``deals`` → orders, ``users`` → customers, ``payments`` → orders):

1. the window starts at ``--since``, else ``overlap_days`` before the object's watermark
   (so recent deals whose status changed are re-read), else ``start_date``;
2. one export request (step 1, counted against the request budget), then polls of the export
   id (step 2) with growing waits until the items are ready or ``max_wait_seconds`` passed
   (an export a previous sync gave up on is polled again instead: :mod:`.pending`);
3. the items are checked (every row as wide as the header) for every object before anything
   is loaded; then each export loads through the same atomic, idempotent ingest as a file;
4. the object's watermark (``getcourse:deals`` …) advances only after its load committed:
   position = the window's end date, source_ts = the newest source timestamp seen.

An error (wrong key, no API access, quota, an export never ready, malformed items, a network
timeout) raises :class:`~livebase.errors.SyncError` with the reason; nothing is loaded and
no watermark moves. No clock is read here: ``now`` and ``sleep`` are parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from livebase.config import LivebaseConfig
from livebase.connectors.getcourse import pending
from livebase.connectors.getcourse.budget import RequestBudget
from livebase.connectors.getcourse.client import ExportTable, GetCourseClient, _refusal
from livebase.connectors.getcourse.load import load_export
from livebase.connectors.settings import GetCourseObject, GetCourseSyncSettings
from livebase.errors import IngestError, QuotaError, SyncError
from livebase.ops.store import OpsStore
from livebase.ops.tables import WATERMARKS
from livebase.ops.writes import upsert
from livebase.store import Store

__all__ = ["Fetched", "ObjectSync", "SyncReport", "fetch", "load", "pull", "watermark_source"]

SleepFn = Callable[[float], None]


def watermark_source(obj: str) -> str:
    """The ``watermarks.source`` of one GetCourse object.

    >>> watermark_source("deals")
    'getcourse:deals'
    """
    return f"getcourse:{obj}"


@dataclass(frozen=True)
class ObjectSync:
    """What one object's sync did."""

    object: str
    since: date
    export_id: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    load_id: int | None
    source_ts: datetime | None
    polls: int

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, date | datetime) else v)
            for k, v in self.__dict__.items()
        }


@dataclass(frozen=True)
class SyncReport:
    """A finished sync: one entry per object, and the requests it cost."""

    objects: tuple[ObjectSync, ...]
    export_requests: int
    http_requests: int
    budget_remaining: int
    notes: tuple[str, ...] = field(default_factory=tuple)


def _watermark(ops: OpsStore, source: str) -> tuple[str | None, datetime | None]:
    with ops.read() as con:
        row = con.execute(
            sa.select(WATERMARKS.c.position, WATERMARKS.c.source_ts).where(
                WATERMARKS.c.source == source
            )
        ).one_or_none()
    return (None, None) if row is None else (row[0], row[1])


def _window_start(
    settings: GetCourseSyncSettings, position: str | None, since: date | None
) -> date:
    if since is not None:
        return since
    if position is None:
        return settings.start_date
    try:
        last = date.fromisoformat(position[:10])
    except ValueError:
        return settings.start_date
    return max(last - timedelta(days=settings.overlap_days), settings.start_date)


def _quota_spent(
    ops: OpsStore,
    budget: RequestBudget,
    what: str,
    message: str,
    now: datetime,
    waited: float,
    obj: str,
) -> QuotaError:
    """GetCourse answered that its quota is spent: block the budget for a window."""
    until = budget.block(ops, now + timedelta(seconds=waited))
    return QuotaError(
        f"{what}: GetCourse says its export quota is spent"
        f"{f' («{message}»)' if message else ''}; next sync possible at "
        f"{until.strftime('%Y-%m-%d %H:%M %Z').strip()}. Nothing was loaded",
        retry_at=until,
        source=watermark_source(obj),
    )


def _request(
    client: GetCourseClient,
    ops: OpsStore,
    budget: RequestBudget,
    obj: str,
    filters: dict[str, str],
    settings: GetCourseSyncSettings,
    now: datetime,
    sleep: SleepFn,
) -> tuple[str, int]:
    """Step 1 with the budget: returns (export id, export requests spent). While another
    export runs (one at a time per account) it waits with backoff, up to max_wait."""
    waited = 0.0
    interval = settings.poll_interval_seconds
    spent = 0
    while True:
        budget.spend(ops, now + timedelta(seconds=waited))
        spent += 1
        export_id, reason, message = client.request_export(obj, filters)
        if export_id is not None:
            return export_id, spent
        if reason == "quota":
            raise _quota_spent(ops, budget, f"export of {obj}", message, now, waited, obj)
        if reason in ("wrong_key", "no_api_access"):
            raise SyncError(
                _refusal(reason, message, f"export of {obj}", client.key_name),
                reason=reason,
                source=watermark_source(obj),
            )
        if reason != "busy":
            raise SyncError(
                f"export of {obj}: GetCourse refused the export ({message or 'no message'}); "
                "nothing was loaded",
                reason=reason,
                source=watermark_source(obj),
            )
        if waited >= settings.max_wait_seconds:
            raise SyncError(
                f"export of {obj}: another export of this account kept running for "
                f"{waited:.0f} s (GetCourse builds one export at a time); nothing was loaded — "
                "run the sync again later",
                reason="busy",
                source=watermark_source(obj),
            )
        sleep(interval)
        waited += interval
        interval = min(interval * settings.poll_backoff, settings.poll_max_interval_seconds)


def _wait(
    client: GetCourseClient,
    ops: OpsStore,
    budget: RequestBudget,
    obj: str,
    export_id: str,
    settings: GetCourseSyncSettings,
    now: datetime,
    sleep: SleepFn,
) -> tuple[ExportTable, int]:
    """Step 2: poll until the export is ready; returns (table, polls)."""
    waited = 0.0
    interval = settings.poll_interval_seconds
    polls = 0
    while True:
        sleep(interval)
        waited += interval
        polls += 1
        table, reason, message = client.fetch_export(obj, export_id)
        if table is not None:
            return table, polls
        if reason == "quota":
            what = f"export {export_id} of {obj}"
            raise _quota_spent(ops, budget, what, message, now, waited, obj)
        if reason in ("wrong_key", "no_api_access"):
            raise SyncError(
                _refusal(reason, message, f"export {export_id} of {obj}", client.key_name),
                reason=reason,
                source=watermark_source(obj),
            )
        if reason != "not_ready":
            raise SyncError(
                f"export {export_id} of {obj}: GetCourse failed to build it "
                f"({message or 'no message'}); nothing was loaded — run the sync again",
                reason=reason,
                source=watermark_source(obj),
            )
        if waited >= settings.max_wait_seconds:
            raise SyncError(
                f"export {export_id} of {obj} was still not ready after {waited:.0f} s "
                f"({polls} polls): GetCourse is slow to build it. Nothing was loaded and the "
                "watermark did not move; run the sync again later, or raise "
                "sync.getcourse.max_wait_seconds",
                reason="not_ready",
                source=watermark_source(obj),
            )
        interval = min(interval * settings.poll_backoff, settings.poll_max_interval_seconds)


def _newest(store: Store, obj: str, load_id: int, tz: ZoneInfo) -> datetime | None:
    """The newest source timestamp among the rows this load inserted or changed."""
    if obj == "users":
        sql = "SELECT max(created_at) FROM customers WHERE last_load = ?"
    else:
        sql = "SELECT max(greatest(created_at, coalesce(paid_at, created_at))) FROM orders WHERE last_load = ?"
    value = store.fetch_value(sql, [load_id])
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


@dataclass(frozen=True)
class Fetched:
    """Finished exports, checked, not yet loaded (the network part of a sync)."""

    exports: tuple[tuple[GetCourseObject, date, ExportTable, int], ...]
    """(object, window start, table, polls) per object."""
    export_requests: int
    http_requests: int


def fetch(
    ops: OpsStore,
    client: GetCourseClient,
    config: LivebaseConfig,
    *,
    now: datetime,
    sleep: SleepFn,
    objects: Sequence[GetCourseObject] | None = None,
    since: date | None = None,
) -> Fetched:
    """Steps 1–3 of the module docstring: request, poll and check every object's export.

    Writes only the request budget; the analytics store is not touched (and not locked while
    GetCourse builds the exports).
    """
    settings = config.sync.getcourse
    if settings is None:
        raise SyncError(
            "livebase.yaml has no sync.getcourse section: add one with the account name "
            "(sync: {getcourse: {account: school}})",
            reason="config",
        )
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    chosen: tuple[GetCourseObject, ...] = tuple(dict.fromkeys(objects or settings.objects))
    if "deals" in chosen and "payments" in chosen:
        raise SyncError(
            "deals and payments both load as orders (revenue would count twice): sync deals "
            "or payments, not both",
            reason="config",
        )
    if len(chosen) > settings.request_budget:
        raise SyncError(
            f"sync.getcourse.request_budget ({settings.request_budget}) is smaller than the "
            f"{len(chosen)} export requests one sync of {', '.join(chosen)} needs",
            reason="config",
        )
    budget = RequestBudget(
        settings.request_budget, timedelta(minutes=settings.budget_window_minutes)
    )
    budget.require(ops, now, len(chosen), what=f"a sync of {', '.join(chosen)}")
    # every export is fetched and checked before anything is written
    fetched: list[tuple[GetCourseObject, date, ExportTable, int]] = []
    export_requests = 0
    for obj in chosen:
        position, _ = _watermark(ops, watermark_source(obj))
        start = _window_start(settings, position, since)
        filters = {"created_at[from]": start.isoformat()}
        # an export a previous sync gave up waiting for is polled again, not asked for again
        export_id = pending.resume(ops, obj, filters, now, max_age=budget.window)
        if export_id is None:
            export_id, spent = _request(client, ops, budget, obj, filters, settings, now, sleep)
            export_requests += spent
            pending.remember(ops, obj, filters, export_id, now)
        try:
            table, polls = _wait(client, ops, budget, obj, export_id, settings, now, sleep)
        except SyncError as exc:
            if exc.reason not in ("not_ready", "timeout", "network", "quota"):
                pending.forget(ops, obj, now)
            raise
        fetched.append((obj, start, table, polls))
    return Fetched(tuple(fetched), export_requests, client.requests)


def load(
    store: Store,
    ops: OpsStore,
    fetched: Fetched,
    config: LivebaseConfig,
    *,
    now: datetime,
) -> SyncReport:
    """Step 4: load each export and advance its watermark after the load committed."""
    settings = config.sync.getcourse
    assert settings is not None
    tz = ZoneInfo(config.timezone)
    today = now.astimezone(tz).date()
    budget = RequestBudget(
        settings.request_budget, timedelta(minutes=settings.budget_window_minutes)
    )
    loaded_at = now.astimezone(tz).replace(tzinfo=None)
    results: list[ObjectSync] = []
    for obj, start, table, polls in fetched.exports:
        source = watermark_source(obj)
        _, previous_ts = _watermark(ops, source)
        load_id: int | None = None
        inserted = updated = unchanged = 0
        newest: datetime | None = None
        if table.items:
            try:
                result = load_export(
                    store,
                    table,
                    loaded_at=loaded_at,
                    config=config.ingest,
                    default_currency=config.currency,
                    clock=lambda: loaded_at,
                )
            except IngestError as exc:
                said = str(exc)
                if exc.file and said.startswith(f"{exc.file}: "):
                    said = said[len(exc.file) + 2 :]
                raise SyncError(
                    f"export {table.export_id} of {obj}: the getcourse preset rejects its "
                    f"items (rows numbered as in a CSV export, header = row 1): {said}",
                    reason="malformed",
                    source=source,
                ) from None
            load_id = result.load_id
            inserted, updated, unchanged = (
                result.rows_inserted,
                result.rows_updated,
                result.rows_unchanged,
            )
            newest = _newest(store, obj, result.load_id, tz)
        if previous_ts is not None and (newest is None or previous_ts > newest):
            newest = previous_ts
        # the load committed: only now does the object's watermark move
        with ops.begin() as con:
            upsert(
                con,
                WATERMARKS,
                [
                    {
                        "source": source,
                        "position": today.isoformat(),
                        "source_ts": newest,
                        "detail": {
                            "since": start.isoformat(),
                            "export_id": table.export_id,
                            "rows": len(table.items),
                            "inserted": inserted,
                            "updated": updated,
                            "unchanged": unchanged,
                            "load_id": load_id,
                        },
                        "updated_at": now,
                    }
                ],
                key=["source"],
            )
        pending.forget(ops, obj, now)
        results.append(
            ObjectSync(
                obj,
                start,
                table.export_id,
                len(table.items),
                inserted,
                updated,
                unchanged,
                load_id,
                newest,
                polls,
            )
        )
    remaining = budget.state(ops, now).remaining
    return SyncReport(tuple(results), fetched.export_requests, fetched.http_requests, remaining)


def pull(
    store: Store,
    ops: OpsStore,
    client: GetCourseClient,
    config: LivebaseConfig,
    *,
    now: datetime,
    sleep: SleepFn,
    objects: Sequence[GetCourseObject] | None = None,
    since: date | None = None,
) -> SyncReport:
    """Pull ``objects`` (default ``sync.getcourse.objects``) into ``store``; see the module doc.

    ``now`` must be timezone-aware; ``sleep`` waits between polls (tests pass a recorder).

    >>> import tempfile, pathlib, datetime as dt
    >>> from livebase.config import parse_config
    >>> from livebase.connectors.getcourse.replay import ReplayServer
    >>> from livebase.ops.store import OpsStore, sqlite_url
    >>> with ReplayServer(api_key="k") as server:
    ...     server.add_export("deals", ["ID заказа", "ID пользователя", "Дата создания",
    ...         "Дата оплаты", "Статус", "Стоимость, RUB"],
    ...         [["1", "7", "2026-11-01 10:00", "2026-11-01 10:05", "Завершен", "1000"]])
    ...     config = parse_config("sync:\\n  getcourse:\\n    base_url: " + server.url
    ...                           + "\\n    objects: [deals]\\n")
    ...     ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
    ...     with GetCourseClient(server.url, "k") as client:
    ...         report = pull(Store.in_memory(), ops, client, config, sleep=lambda s: None,
    ...                       now=dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC))
    >>> report.objects[0].inserted, report.export_requests
    (1, 1)
    """
    fetched = fetch(ops, client, config, now=now, sleep=sleep, objects=objects, since=since)
    return load(store, ops, fetched, config, now=now)
