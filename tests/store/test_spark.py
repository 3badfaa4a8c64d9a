"""Spark local mode gives every CDNOW customer the same features, scores and segments as DuckDB.

The orders go to Spark as Parquet (as a data lake holds them); Spark runs the transpiled
pipeline; the results come back as Arrow and are compared with the DuckDB engine's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from test_engines import RULES, SIGNALS, assert_runs_agree

from livebase.errors import StoreError
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments.engine_run import run_on_engine
from livebase.store import Store
from livebase.store.engine import DuckDBEngine
from livebase.store.settings import EngineSettings

pytestmark = pytest.mark.slow
DATES = (date(1998, 6, 30), date(1997, 9, 30))


def _java() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        reason = "Spark needs Java 17 (apt-get install openjdk-17-jre-headless)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def lake(cdnow_master: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path]:
    store = Store.in_memory()
    load_file(
        store, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1))
    )
    folder = tmp_path_factory.mktemp("lake")
    store.con.execute(
        f"COPY (SELECT * FROM orders) TO '{folder / 'orders.parquet'}' (FORMAT parquet)"
    )
    store.con.execute(
        f"COPY (SELECT customer_id, created_at FROM customers) TO "
        f"'{folder / 'customers.parquet'}' (FORMAT parquet)"
    )
    return store, folder


@pytest.fixture(scope="module")
def spark(lake: tuple[Store, Path]) -> Iterator[object]:
    _java()
    from livebase.store.spark_engine import SparkEngine

    _, folder = lake
    engine = SparkEngine.start(
        EngineSettings(
            kind="spark",
            spark_master="local[2]",
            orders_parquet=str(folder / "orders.parquet"),
            customers_parquet=str(folder / "customers.parquet"),
            spark_conf={"spark.driver.memory": "1g"},
        )
    )
    yield engine
    engine.stop()


@pytest.mark.parametrize("as_of", DATES)
def test_spark_agrees_with_duckdb_on_every_cdnow_customer(
    lake: tuple[Store, Path], spark: object, as_of: date
) -> None:
    store, _ = lake
    duck = run_on_engine(DuckDBEngine(store.con), SIGNALS, RULES, as_of)
    on_spark = run_on_engine(spark, SIGNALS, RULES, as_of)  # type: ignore[arg-type]
    assert on_spark.features.num_rows == duck.features.num_rows > 23_000
    assert_runs_agree(on_spark, duck)


def test_spark_writes_results_as_parquet(spark: object, tmp_path: Path) -> None:
    engine = spark
    engine.materialize("lb_probe", "SELECT customer_id FROM orders LIMIT 3")  # type: ignore[attr-defined]
    engine.write_parquet("lb_probe", str(tmp_path / "probe"))  # type: ignore[attr-defined]
    engine.drop("lb_probe")  # type: ignore[attr-defined]
    assert list((tmp_path / "probe").glob("*.parquet"))


def test_spark_needs_orders_from_parquet_or_a_table() -> None:
    from livebase.store.spark_engine import SparkEngine

    with pytest.raises(StoreError, match="--orders-parquet"):
        SparkEngine.start(EngineSettings(kind="spark"))


def test_segment_on_spark_writes_history_and_parquet(
    lake: tuple[Store, Path], spark: object, tmp_path: Path
) -> None:
    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings
    from livebase.segments.engine_run import segment_on_spark

    store, folder = lake
    run = segment_on_spark(
        EngineSettings(
            kind="spark", spark_master="local[2]", orders_parquet=str(folder / "orders.parquet")
        ),
        FeaturesSettings(),
        SegmentsSettings(),
        None,  # the latest paid day in the orders Spark reads
        store=store,
        out=tmp_path / "results",
        ran_at=datetime(2000, 1, 1),
    )
    assert run.as_of == date(1998, 6, 30)
    assert set(run.kpis["scheme"]) == {"rfm", "abc", "named"}
    assert len(list((tmp_path / "results").glob("*.parquet"))) == 3
    written = store.fetch_value(
        "SELECT COUNT(*) FROM segment_history WHERE scheme = 'named' AND valid_to IS NULL"
    )
    assert written == run.customers
