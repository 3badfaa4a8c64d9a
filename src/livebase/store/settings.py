"""The ``engine:`` section of livebase.yaml: which engine runs the segmentation SQL, and how.

>>> EngineSettings().kind
'duckdb'
>>> EngineSettings.model_validate({"kind": "spark", "spark_master": "spark://lake:7077"}).kind
'spark'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EngineKind", "EngineSettings"]

EngineKind = Literal["duckdb", "spark"]


class EngineSettings(BaseModel):
    """Where the features, schemes and KPIs run; history always lands in the store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EngineKind = "duckdb"
    """``duckdb`` (the workspace store, default) or ``spark`` (pyspark, local or a cluster)."""
    memory_limit: str | None = Field(None, pattern=r"^\d+(\.\d+)?\s*([KMGT]i?B)$")
    """DuckDB: cap on the memory of a segmentation run, e.g. ``2GB``; work beyond spills to
    disk. Empty: DuckDB's default (80 % of the RAM)."""
    threads: int | None = Field(None, ge=1, le=1024)
    """DuckDB: threads of a segmentation run. Empty: one per core."""
    spark_master: str = "local[*]"
    """Spark: the master URL (``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://…``)."""
    spark_conf: dict[str, str] = Field(default_factory=dict)
    """Spark: extra configuration, e.g. ``{"spark.executor.memory": "8g"}``."""
    orders_parquet: str | None = None
    """Spark: the orders as Parquet (a file, a folder or a glob, any Hadoop path: s3a://…)."""
    orders_table: str | None = None
    """Spark: the orders as a table of the Spark catalog (instead of ``orders_parquet``)."""
    customers_parquet: str | None = None
    """Spark: optional customers (customer_id, created_at); default: the customers of orders."""
    events_parquet: str | None = None
    """Spark: optional product events (customer_id, ts, name); default: none."""
