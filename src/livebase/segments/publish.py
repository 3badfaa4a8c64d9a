"""Publish a segmentation run to the operational store: every customer's live status.

After a run as of the latest date, the run's thresholds are upserted into
``status_thresholds``, then each customer's contacts, features, segment per scheme (and since
when) into ``customer_status`` (Arrow record batches in about customer order streamed through
:func:`livebase.ops.bridges.write_arrow`, so a base of millions never sits in memory whole),
so the worker, the service and live updates read them without touching DuckDB.

The statuses are committed batch by batch, not in one transaction. One transaction over 10M
rows grew SQLite's WAL past 20 GB, and it held the operational store's write lock for the
whole publish: every live update and the worker waited, and failed after their busy timeout
(30 s). While a publish runs (or after it failed half-way) some customers show the new run
and others the previous one, which the readers take: each row is replaced whole and carries
its own features, segments and ``thresholds_version`` (whose cut points are stored before
the first batch), and live updates read and write one customer's row at a time; nothing reads
``customer_status`` as a snapshot of one run (live updates already move single customers
between runs: ``source`` says which wrote a row). A segment's members read during a publish
(``livebase sync getcourse --push-segment``) are each in the segment by their latest status. Publishing again
completes a failed publish; rows that did not change (all but ``updated_at``) are not
rewritten.

>>> from datetime import UTC, date, datetime
>>> import tempfile, pathlib
>>> from livebase.ops import OpsStore, sqlite_url
>>> from livebase.segments.run import run_segmentation
>>> from livebase.segments.settings import FeaturesSettings, SegmentsSettings
>>> from livebase.store import Store
>>> store = Store.in_memory()
>>> _ = store.con.execute(
...     "INSERT INTO customers (customer_id, email, first_load, last_load) VALUES ('a', 'a@x.ru', 1, 1)")
>>> _ = store.con.execute(
...     "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
...     "status, first_load, last_load) VALUES ('o1', 'a', '2026-01-05', '2026-01-05', 10, 10, "
...     "'paid', 1, 1)")
>>> run = run_segmentation(store, FeaturesSettings(), SegmentsSettings(), date(2026, 1, 31),
...                        ran_at=datetime(2026, 2, 1))
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> publish_status(store, ops, FeaturesSettings(), SegmentsSettings(), run,
...                timezone="Europe/Moscow", now=datetime(2026, 2, 1, tzinfo=UTC)).customers
1
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from livebase.features import FeaturesSettings, features_sql, sql_string
from livebase.ops.bridges import write_arrow
from livebase.ops.store import OpsStore
from livebase.ops.tables import STATUS_THRESHOLDS
from livebase.ops.writes import upsert
from livebase.segments.history import segment_state_sql
from livebase.segments.live import live_thresholds
from livebase.segments.run import SegmentationRun
from livebase.segments.schemes import abc_monetary_bounds_sql
from livebase.segments.settings import AbcScheme, SegmentsSettings
from livebase.store import Store

__all__ = ["PublishedStatus", "publish_status"]

_UTC_TEXT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class PublishedStatus:
    """What a publish wrote: customers, the thresholds version, and the run date."""

    customers: int
    thresholds_version: str
    as_of: date


def _utc_text(column: str, timezone: str) -> str:
    zone = sql_string(timezone)
    return (
        f"strftime(timezone('UTC', CAST({column} AS TIMESTAMP) AT TIME ZONE {zone}), '{_UTC_TEXT}')"
    )


_FEATURES = "lb_publish_features"
_BATCH_ROWS = 100_000
"""Status rows are streamed to the operational store in batches of this many (a base of 10M
customers never sits in memory whole)."""


def _status_sql(schemes: list[str], as_of: date, version: str, timezone: str, now: datetime) -> str:
    """One status row per customer of the features table: contacts, features, segment and
    since per scheme, the thresholds version, the last payment (UTC text)."""
    joins = "\n".join(
        f"LEFT JOIN ({segment_state_sql(name, as_of)}) s_{i} USING (customer_id)"
        for i, name in enumerate(schemes)
    )
    segment_pairs = ", ".join(f"{sql_string(n)}, s_{i}.{n}_segment" for i, n in enumerate(schemes))
    since_pairs = ", ".join(
        f"{sql_string(n)}, CAST(s_{i}.{n}_segment_since AS VARCHAR)" for i, n in enumerate(schemes)
    )
    updated = (now if now.tzinfo is None else now.astimezone(UTC)).strftime(_UTC_TEXT)
    return f"""
SELECT
    f.customer_id,
    c.email,
    c.phone,
    c.name,
    c.timezone,
    CAST(c.attributes AS VARCHAR) AS attributes,
    CAST(to_json(f) AS VARCHAR) AS features,
    CAST(json_object({segment_pairs}) AS VARCHAR) AS segments,
    CAST(json_object({since_pairs}) AS VARCHAR) AS since,
    {sql_string(version)} AS thresholds_version,
    {sql_string(as_of.isoformat())} AS as_of,
    CASE WHEN st.last_paid_at IS NULL THEN NULL
         ELSE {_utc_text("st.last_paid_at", timezone)} END AS last_paid_at,
    {sql_string(updated)} AS updated_at,
    'batch' AS source
FROM {_FEATURES} f
LEFT JOIN customers c USING (customer_id)
LEFT JOIN (
    SELECT customer_id, max(paid_at) AS last_paid_at
    FROM orders
    WHERE paid_amount > 0 AND paid_at < {sql_string(as_of.isoformat())}::DATE + 1
    GROUP BY customer_id
) st USING (customer_id)
{joins}
"""


def publish_status(
    store: Store,
    ops: OpsStore,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    run: SegmentationRun,
    *,
    timezone: str,
    now: datetime,
) -> PublishedStatus:
    """Upsert every customer's status of ``run`` into the operational store (in key-ordered
    batches, see the module doc), with the run's cut points (:func:`livebase.segments.live.live_thresholds`) under a version
    named by their digest, so live updates recompute every scheme as this run would."""
    schemes = list(segments.schemes)
    duck = store.con
    # in customer order: the status rows come out in (nearly) the same order, so the upsert
    # writes customer_status and its key index page after page; an ORDER BY on the status
    # query itself would hold every row in memory (0.9 GB more at 1M customers)
    duck.execute(
        f"CREATE OR REPLACE TEMP TABLE {_FEATURES} AS "
        f"SELECT * FROM ({features_sql(features, run.as_of)}) ORDER BY customer_id"
    )
    try:
        abc_bounds: dict[str, tuple[float | None, float | None]] = {}
        for name, scheme in segments.schemes.items():
            if isinstance(scheme, AbcScheme):
                ((a_min, b_min),) = duck.sql(abc_monetary_bounds_sql(scheme, _FEATURES)).fetchall()
                abc_bounds[name] = (a_min, b_min)
        document = live_thresholds(run.thresholds, abc_bounds, segments, run.as_of)
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:12]
        version = f"{run.as_of.isoformat()}:{digest}"
        # the thresholds first: a status row never names a version the store lacks
        with ops.begin() as con:
            upsert(
                con,
                STATUS_THRESHOLDS,
                [
                    {
                        "version": version,
                        "as_of": run.as_of,
                        "thresholds": document,
                        "created_at": now,
                    }
                ],
                key=["version"],
            )
        sql = _status_sql(schemes, run.as_of, version, timezone, now)
        reader = duck.sql(sql).to_arrow_reader(_BATCH_ROWS)
        written = write_arrow(
            ops,
            "customer_status",
            reader,
            key=["customer_id"],
            json_columns=["attributes", "features", "segments", "since"],
            stamps=["updated_at"],
            batch_rows=_BATCH_ROWS,
        )
    finally:
        duck.execute(f"DROP TABLE IF EXISTS {_FEATURES}")
    return PublishedStatus(written, version, run.as_of)
