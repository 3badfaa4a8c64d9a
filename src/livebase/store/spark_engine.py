"""Apache Spark as an Engine: the same segmentation SQL, transpiled with sqlglot, on pyspark.

Local mode on a laptop (``local[*]``) or any cluster (``spark://…``, ``yarn``, ``k8s://…``).
The orders come from Parquet (a file, folder or glob; any Hadoop path) or a table of the Spark
catalog; customers and events are optional (customers default to those with orders, events to
none). Inside the session they are the views ``orders``, ``customers`` and ``events`` with the
columns of the livebase store, so the generated SQL reads them unchanged.

Session settings that make Spark agree with DuckDB to the last customer: timestamps without
time zone (``spark.sql.timestampType=TIMESTAMP_NTZ``, session time zone UTC), ANSI SQL.

    engine = SparkEngine.start(EngineSettings(kind="spark", orders_parquet="orders.parquet"))
    engine.execute("SELECT COUNT(*) AS n FROM orders").to_pylist()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from livebase.errors import StoreError
from livebase.store.engine import Dialect, transpile
from livebase.store.settings import EngineSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SPARK_DEFAULTS", "SparkEngine"]

SPARK_DEFAULTS: dict[str, str] = {
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
"""Settings every livebase Spark session gets (livebase.yaml ``engine.spark_conf`` adds to
or overrides them, e.g. ``spark.sql.shuffle.partitions`` on a cluster)."""

_ORDER_COLUMNS: dict[str, str] = {
    "customer_id": "STRING",
    "created_at": "TIMESTAMP_NTZ",
    "paid_at": "TIMESTAMP_NTZ",
    "paid_amount": "DECIMAL(18,2)",
    "status": "STRING",
    "items": "STRING",
}
_DEFAULTS: dict[str, str] = {"status": "'paid'"}


def _columns(frame: DataFrame, wanted: dict[str, str], what: str, required: set[str]) -> str:
    """A SELECT list giving ``wanted`` columns with livebase's types; absent optional ones
    are NULL (or a default)."""
    have = {f.name.lower(): f.name for f in frame.schema.fields}
    missing = sorted(required - set(have))
    if missing:
        raise StoreError(
            f"the {what} have no column {', '.join(missing)} (columns: {', '.join(sorted(have))}); "
            "rename them to livebase's names: customer_id, created_at, paid_at, paid_amount, "
            "status, items"
        )
    parts = []
    for name, sql_type in wanted.items():
        if name in have:
            parts.append(f"CAST(`{have[name]}` AS {sql_type}) AS {name}")
        else:
            parts.append(f"CAST({_DEFAULTS.get(name, 'NULL')} AS {sql_type}) AS {name}")
    return ", ".join(parts)


class SparkEngine:
    """Runs livebase SQL on a SparkSession (``start`` builds one from ``EngineSettings``)."""

    def __init__(
        self,
        session: SparkSession,
        *,
        orders: DataFrame,
        customers: DataFrame | None = None,
        events: DataFrame | None = None,
    ) -> None:
        self.session = session
        orders.createOrReplaceTempView("lb_source_orders")
        session.sql(
            "CREATE OR REPLACE TEMP VIEW orders AS SELECT "
            + _columns(orders, _ORDER_COLUMNS, "orders", {"customer_id", "paid_at", "paid_amount"})
            + " FROM lb_source_orders"
        )
        if customers is None:
            session.sql(
                "CREATE OR REPLACE TEMP VIEW customers AS SELECT DISTINCT customer_id, "
                "CAST(NULL AS TIMESTAMP_NTZ) AS created_at FROM orders"
            )
        else:
            customers.createOrReplaceTempView("lb_source_customers")
            wanted = {"customer_id": "STRING", "created_at": "TIMESTAMP_NTZ"}
            session.sql(
                "CREATE OR REPLACE TEMP VIEW customers AS SELECT "
                + _columns(customers, wanted, "customers", {"customer_id"})
                + " FROM lb_source_customers"
            )
        if events is None:
            session.sql(
                "CREATE OR REPLACE TEMP VIEW events AS SELECT CAST(NULL AS STRING) AS customer_id, "
                "CAST(NULL AS TIMESTAMP_NTZ) AS ts, CAST(NULL AS STRING) AS name WHERE 1 = 0"
            )
        else:
            events.createOrReplaceTempView("lb_source_events")
            wanted = {"customer_id": "STRING", "ts": "TIMESTAMP_NTZ", "name": "STRING"}
            session.sql(
                "CREATE OR REPLACE TEMP VIEW events AS SELECT "
                + _columns(events, wanted, "events", {"customer_id", "ts", "name"})
                + " FROM lb_source_events"
            )

    @classmethod
    def start(cls, settings: EngineSettings, *, app_name: str = "livebase") -> SparkEngine:
        """A session on ``settings.spark_master`` reading ``orders_parquet`` or ``orders_table``."""
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - pyspark is a dependency
            raise StoreError("the Spark engine needs pyspark: pip install pyspark") from exc
        if (settings.orders_parquet is None) == (settings.orders_table is None):
            raise StoreError(
                "the Spark engine reads the orders from Parquet or a table: give exactly one of "
                "--orders-parquet PATH or --orders-table NAME (engine.orders_parquet / "
                "engine.orders_table in livebase.yaml)"
            )
        builder: Any = SparkSession.builder.master(settings.spark_master).appName(app_name)
        for key, value in {**SPARK_DEFAULTS, **settings.spark_conf}.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        reader = session.read
        if settings.orders_parquet is not None:
            orders = reader.parquet(settings.orders_parquet)
        else:
            orders = session.table(str(settings.orders_table))
        customers = (
            reader.parquet(settings.customers_parquet) if settings.customers_parquet else None
        )
        events = reader.parquet(settings.events_parquet) if settings.events_parquet else None
        return cls(session, orders=orders, customers=customers, events=events)

    @property
    def dialect(self) -> Dialect:
        return "spark"

    def _sql(self, sql: str) -> DataFrame:
        return self.session.sql(transpile(sql, "spark", pretty=False))

    def execute(self, sql: str) -> pa.Table:
        table: pa.Table = self._sql(sql).toArrow()
        return table

    def materialize(self, name: str, sql: str) -> None:
        frame = self._sql(sql).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)

    def drop(self, name: str) -> None:
        self.session.catalog.dropTempView(name)

    def write_parquet(self, name: str, path: str) -> None:
        """Write the session table ``name`` as Parquet at ``path`` (replacing it)."""
        self.session.table(name).write.mode("overwrite").parquet(path)

    def stop(self) -> None:
        self.session.stop()
