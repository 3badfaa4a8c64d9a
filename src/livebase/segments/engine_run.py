"""The segmentation on any Engine (Spark, or DuckDB itself): features, schemes, KPIs.

``run_on_engine`` executes ``pipeline_steps`` on the engine and brings back three Arrow
tables: the features, the assignments (customer, scheme, segment, scores) and the KPIs.
``save_engine_run`` writes them into the workspace store the way ``run_segmentation`` does
(SCD2 history, runs, snapshots), ``write_parquet`` next to the data in the lake.

>>> import duckdb
>>> from datetime import date
>>> from livebase.store import Store
>>> from livebase.store.engine import DuckDBEngine
>>> store = Store.in_memory()
>>> _ = store.con.execute(
...     "INSERT INTO customers (customer_id, first_load, last_load) VALUES ('a', 1, 1)")
>>> run = run_on_engine(DuckDBEngine(store.con), FeaturesSettings(), SegmentsSettings(),
...                     date(2026, 1, 31))
>>> run.assignments.num_rows, run.kpis.num_rows
(3, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from livebase.errors import SegmentError
from livebase.features import FeaturesSettings, sql_string
from livebase.segments.history import SchemeResults, write_histories
from livebase.segments.kpis import KPI_COLUMNS
from livebase.segments.pipeline import pipeline_steps
from livebase.segments.run import SegmentationRun, _config_hash, check_segment_rules, order_kpis
from livebase.segments.settings import SegmentsSettings
from livebase.store import Store
from livebase.store.engine import Engine
from livebase.store.settings import EngineSettings

__all__ = ["EngineRun", "latest_paid_day", "run_on_engine", "save_engine_run", "segment_on_spark"]


@dataclass(frozen=True)
class EngineRun:
    """What an engine computed as of a date."""

    as_of: date
    features: pa.Table
    """One row per customer (the features of ``livebase.features``)."""
    assignments: pa.Table
    """customer_id, scheme, segment, scores (JSON text)."""
    kpis: pa.Table
    """scheme, segment and the KPI columns, per segment."""

    def write_parquet(self, folder: Path) -> list[Path]:
        """Write features, assignments and KPIs as Parquet files into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("features", "assignments", "kpis"):
            path = folder / f"{name}_{self.as_of.isoformat()}.parquet"
            pq.write_table(getattr(self, name), path)
            written.append(path)
        return written


def run_on_engine(
    engine: Engine, features: FeaturesSettings, segments: SegmentsSettings, as_of: date
) -> EngineRun:
    """Execute the pipeline on ``engine`` (CLV columns are NULL: predictions live in the store).

    RuleError when a rule reads the segment history or CLV predictions (store only).
    """
    check_segment_rules(features, segments)
    steps = pipeline_steps(features, segments, as_of)
    for step in steps[:-1]:
        engine.materialize(step.table, step.sql)
    try:
        return EngineRun(
            as_of=as_of,
            features=engine.execute(f"SELECT * FROM {steps[0].table} ORDER BY customer_id"),
            assignments=engine.execute("SELECT * FROM lb_assignments ORDER BY scheme, customer_id"),
            kpis=engine.execute(steps[-1].sql),
        )
    finally:
        for step in steps[:-1]:
            engine.drop(step.table)


def save_engine_run(
    store: Store,
    run: EngineRun,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    *,
    ran_at: datetime,
) -> pd.DataFrame:
    """Write an engine's run into the store: SCD2 history, runs and snapshots; returns the
    KPI table ordered as ``run_segmentation`` orders it."""
    con = store.con
    con.register("lb_engine_assignments", run.assignments)
    con.register("lb_engine_kpis", run.kpis)
    try:
        customers = run.features.num_rows
        with store.transaction():
            write_histories(
                con,
                run.as_of,
                [
                    SchemeResults(
                        name,
                        "(SELECT customer_id, segment, scores FROM lb_engine_assignments "
                        f"WHERE scheme = {sql_string(name)})",
                    )
                    for name in segments.schemes
                ],
            )
            for name, scheme in segments.schemes.items():
                con.execute(
                    "INSERT OR REPLACE INTO segment_runs VALUES (?, ?, ?, ?, ?)",
                    [name, run.as_of, customers, _config_hash(features, scheme), ran_at],
                )
            con.execute("DELETE FROM segment_snapshots WHERE as_of = ?", [run.as_of])
            con.execute(
                "INSERT INTO segment_snapshots SELECT scheme, ?, segment, customers, share, "
                "revenue, ltv FROM lb_engine_kpis",
                [run.as_of],
            )
    finally:
        con.unregister("lb_engine_assignments")
        con.unregister("lb_engine_kpis")
    kpis = order_kpis(run.kpis.to_pandas().drop(columns="ltv"), segments)
    return kpis[["scheme", "segment", "position", *KPI_COLUMNS]]


def latest_paid_day(engine: Engine) -> date | None:
    """The day of the latest counted order the engine sees (the default ``--as-of``)."""
    rows = engine.execute(
        "SELECT CAST(MAX(paid_at) AS DATE) AS day FROM orders WHERE paid_amount > 0"
    ).to_pylist()
    day = rows[0]["day"] if rows else None
    return day if isinstance(day, date) else None


def segment_on_spark(
    settings: EngineSettings,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    as_of: date | None,
    *,
    store: Store | None,
    ran_at: datetime,
    out: Path | None = None,
) -> SegmentationRun:
    """``livebase segment --engine spark``: run on Spark (as of ``as_of``, default the latest
    paid day in the orders Spark reads), write the results into the store (history, runs,
    snapshots) and, with ``out``, as Parquet files; returns the run as ``run_segmentation``
    does (without thresholds and job matrices)."""
    from livebase.store.spark_engine import SparkEngine

    engine = SparkEngine.start(settings)
    try:
        day = as_of or latest_paid_day(engine)
        if day is None:
            raise SegmentError("the orders Spark reads have no paid order: give --as-of")
        run = run_on_engine(engine, features, segments, day)
    finally:
        engine.stop()
    if out is not None:
        run.write_parquet(out)
    if store is not None:
        kpis = save_engine_run(store, run, features, segments, ran_at=ran_at)
    else:
        kpis = order_kpis(run.kpis.to_pandas().drop(columns="ltv"), segments)
        kpis = kpis[["scheme", "segment", "position", *KPI_COLUMNS]]
    return SegmentationRun(
        as_of=day,
        customers=run.features.num_rows,
        kpis=kpis,
        thresholds=pd.DataFrame(),
        job_matrices={},
        history_paths=dict.fromkeys(segments.schemes, "spark") if store is not None else {},
    )
