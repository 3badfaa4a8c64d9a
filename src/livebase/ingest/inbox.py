"""The service's inbox into the analytics store: events and orders received by the API.

``POST /v1/events`` and the GetCourse webhook write the operational store's ``inbox`` (short
transactions, while batch jobs run). At the start of every batch job the rows received since
the last watermark (re-reading an overlap window) are loaded into ``events`` and ``orders``
through the same atomic, idempotent load as files — same validation, same merge by event id
and order id, same ``customer_state`` upkeep — as two Parquet files with canonical columns.
A row's ``ts`` becomes the workspace's local time, like every analytics timestamp.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from livebase.config import IngestConfig
from livebase.ingest.load import LoadOptions, LoadResult, load_file
from livebase.ingest.presets import PRESETS
from livebase.ops.bridges import OVERLAP, read_arrow
from livebase.ops.store import OpsStore
from livebase.ops.tables import WATERMARKS
from livebase.ops.writes import upsert
from livebase.store import Store

__all__ = ["InboxReport", "pull_inbox"]

SOURCE = "bridge:inbox"
_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class InboxReport:
    """What the inbox brought: loads of events and orders (None when there was nothing)."""

    events: LoadResult | None
    orders: LoadResult | None


def _since(ops: OpsStore) -> datetime | None:
    import sqlalchemy as sa

    with ops.read() as con:
        position = con.execute(
            sa.select(WATERMARKS.c.position).where(WATERMARKS.c.source == SOURCE)
        ).scalar_one_or_none()
    return None if position is None else datetime.fromisoformat(position)


def _local(column: str, timezone: str) -> str:
    zone = timezone.replace("'", "''")
    return f"timezone('{zone}', CAST(CAST({column} AS VARCHAR) AS TIMESTAMP) AT TIME ZONE 'UTC')"


def pull_inbox(
    store: Store,
    ops: OpsStore,
    *,
    timezone: str,
    ingest: IngestConfig,
    currency: str,
    now: datetime,
    overlap: timedelta = OVERLAP,
) -> InboxReport:
    """Load the inbox rows received since the last pull (re-reading ``overlap`` before it)
    into ``events`` and ``orders``."""
    since = _since(ops)
    where = ""
    params: list[object] = []
    if since is not None:
        start = (since - overlap).replace(tzinfo=None)
        if ops.dialect == "sqlite":
            where, params = " WHERE received_at > ?", [start.strftime(_SQLITE_FORMAT)]
        else:
            where, params = " WHERE received_at > $1", [start]
    rows = read_arrow(
        ops,
        "SELECT event_id, kind, customer_id, name, ts, CAST(payload AS TEXT) AS payload, "
        f"received_at FROM inbox{where}",
        params,
    )
    if rows.num_rows == 0:
        return InboxReport(None, None)
    folder = Path(tempfile.mkdtemp(prefix="livebase-inbox-"))
    con = store.con.cursor()  # its own result state; reads the same database
    try:
        con.register("lb_inbox", rows)
        con.execute(
            f"COPY (SELECT event_id, customer_id, {_local('ts', timezone)} AS ts, name, "
            "payload AS properties FROM lb_inbox WHERE kind = 'event') "
            f"TO '{folder / 'events.parquet'}' (FORMAT parquet)"
        )
        con.execute(
            "COPY (SELECT "
            "  coalesce(json_extract_string(payload, '$.order_id'), event_id) AS order_id, "
            f"  customer_id, {_local('ts', timezone)} AS created_at, "
            "  CASE WHEN json_extract_string(payload, '$.status') IN ('paid', 'partially_paid') "
            f"       THEN {_local('ts', timezone)} END AS paid_at, "
            "  json_extract_string(payload, '$.amount') AS amount, "
            "  json_extract_string(payload, '$.paid_amount') AS paid_amount, "
            f"  coalesce(json_extract_string(payload, '$.currency'), '{currency}') AS currency, "
            "  coalesce(json_extract_string(payload, '$.status'), 'paid') AS status, "
            "  json_extract_string(payload, '$.items') AS items "
            "FROM lb_inbox WHERE kind = 'order') "
            f"TO '{folder / 'orders.parquet'}' (FORMAT parquet)"
        )
        counts = dict(con.execute("SELECT kind, count(*) FROM lb_inbox GROUP BY kind").fetchall())
        newest = con.execute(
            "SELECT max(CAST(CAST(received_at AS VARCHAR) AS TIMESTAMP)) FROM lb_inbox"
        ).fetchall()[0][0]
        con.unregister("lb_inbox")
        con.close()
        loaded_at = now.replace(tzinfo=None)

        def options(preset: str) -> LoadOptions:
            return LoadOptions(
                PRESETS[preset],
                loaded_at=loaded_at,
                config=ingest,
                default_currency=currency,
                conflicting_duplicates="keep_last",  # a stream of updates: the latest wins
                clock=lambda: loaded_at,
            )

        events = (
            load_file(store, str(folder / "events.parquet"), options("events"))
            if counts.get("event")
            else None
        )
        orders = (
            load_file(store, str(folder / "orders.parquet"), options("generic"))
            if counts.get("order")
            else None
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if newest is not None:
        with ops.begin() as write:
            upsert(
                write,
                WATERMARKS,
                [
                    {
                        "source": SOURCE,
                        "position": newest.replace(tzinfo=now.tzinfo).isoformat(),
                        "updated_at": now,
                    }
                ],
                key=["source"],
            )
    return InboxReport(events, orders)
