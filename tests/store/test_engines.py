"""One definition, several engines: the transpiled pipeline is valid in every dialect, and the
DuckDB engine gives exactly what ``run_segmentation`` gives.

``assert_runs_agree`` is shared by the Spark and PostgreSQL tests: integers, dates, segments and
scores exactly, money to the cent, ratios to 1e-9.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot

from livebase.errors import RuleError, StoreError
from livebase.features import FeaturesSettings, SignalSettings
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments import SegmentsSettings, run_segmentation
from livebase.segments.engine_run import EngineRun, run_on_engine, save_engine_run
from livebase.segments.pipeline import pipeline_script, pipeline_steps
from livebase.store import Store
from livebase.store.engine import DIALECTS, DuckDBEngine, Engine, transpile

AS_OF = date(1998, 6, 30)
MONEY = {"monetary", "ltv", "revenue"}
SIGNALS = FeaturesSettings(
    window_days=365,
    frequency="days",
    signals={
        "big_90d": SignalSettings(source="orders", items_like="%", window_days=90),
        "spend_180d": SignalSettings(source="orders", measure="amount", window_days=180),
        "days_since_buy": SignalSettings(source="orders", measure="days_since"),
        "buy_days_90d": SignalSettings(source="orders", measure="distinct_days", window_days=90),
        "orders_per_month": SignalSettings(source="orders", measure="per_month", window_days=90),
    },
)
RULES = SegmentsSettings.model_validate(
    {
        "schemes": {
            "rfm": {"kind": "quantile"},
            "abc": {"kind": "abc", "output": "group"},
            "named": {"kind": "named"},
            "value": {
                "kind": "rules",
                "rules": [
                    {"name": "Big", "when": "monetary > 200 and frequency >= 3"},
                    {"name": "Recent", "when": "recency_days between 0 and 60"},
                ],
            },
        }
    }
)


def _plain(value: object) -> object:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, datetime):  # pandas Timestamp too
        return value.date()
    return value


def _frame(table: pa.Table | pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = table.to_pandas() if isinstance(table, pa.Table) else table
    return frame.sort_values(keys).reset_index(drop=True)


def assert_frames_agree(mine: pd.DataFrame, theirs: pd.DataFrame, what: str) -> None:
    """Same columns and rows; money to the cent, floats to 1e-9, everything else exactly."""
    assert list(mine.columns) == list(theirs.columns), what
    assert len(mine) == len(theirs), what
    for column in mine.columns:
        a, b = mine[column], theirs[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(
                a.astype(float),
                b.astype(float),
                rtol=1e-9,
                equal_nan=True,
                err_msg=f"{what}.{column}",
            )
            continue
        left = [_plain(v) for v in a]
        right = [_plain(v) for v in b]
        if column in MONEY:
            left = [None if v is None else Decimal(str(v)).quantize(Decimal("0.01")) for v in left]
            right = [
                None if v is None else Decimal(str(v)).quantize(Decimal("0.01")) for v in right
            ]
        bad = [i for i, (x, y) in enumerate(zip(left, right, strict=True)) if x != y]
        assert not bad, f"{what}.{column}: row {bad[0]}: {left[bad[0]]!r} != {right[bad[0]]!r}"


def assert_runs_agree(mine: EngineRun, theirs: EngineRun) -> None:
    """Every customer's features, scores and segments, and every KPI, agree."""
    assert_frames_agree(
        _frame(mine.features, ["customer_id"]), _frame(theirs.features, ["customer_id"]), "features"
    )
    assert_frames_agree(
        _frame(mine.assignments, ["scheme", "customer_id"]),
        _frame(theirs.assignments, ["scheme", "customer_id"]),
        "assignments",
    )
    assert_frames_agree(
        _frame(mine.kpis, ["scheme", "segment"]), _frame(theirs.kpis, ["scheme", "segment"]), "kpis"
    )


@pytest.fixture(scope="module")
def cdnow(cdnow_master: Path) -> Store:
    store = Store.in_memory()
    load_file(
        store, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1))
    )
    return store


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_step_transpiles_to_one_valid_statement_of_each_dialect(dialect: str) -> None:
    for step in pipeline_steps(SIGNALS, RULES, AS_OF):
        sql = transpile(step.sql, dialect)  # type: ignore[arg-type]
        parsed = sqlglot.parse(sql, read=dialect)
        assert len(parsed) == 1 and parsed[0] is not None, step.table


def test_generator_avoids_constructs_that_do_not_transpile_faithfully() -> None:
    """Integer division for scores, no JSON functions, no approximate quantiles."""
    spark = pipeline_script(SIGNALS, RULES, AS_OF, "spark")
    postgres = pipeline_script(SIGNALS, RULES, AS_OF, "postgres")
    assert " DIV " in spark and "DIV(" in postgres
    for script in (spark, postgres):
        lowered = script.lower()
        for construct in ("json_object(", "quantile(", "percentile", "approx_", "ntile("):
            assert construct not in lowered
    assert "LEAST_IGNORE_NULLS(" in pipeline_script(SIGNALS, RULES, AS_OF, "snowflake")


def test_unknown_dialect_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(StoreError, match="postgres"):
        transpile("SELECT 1", "oracle")  # type: ignore[arg-type]


def test_rules_reading_segment_history_run_only_in_the_store() -> None:
    history = SegmentsSettings.model_validate(
        {
            "schemes": {
                "rfm": {"kind": "quantile"},
                "named": {"kind": "named"},
                "moves": {
                    "kind": "rules",
                    "rules": [{"name": "Fell", "when": "named_segment_previous = 'Champions'"}],
                },
            }
        }
    )
    with pytest.raises(RuleError, match="DuckDB engine"):
        pipeline_steps(FeaturesSettings(), history, AS_OF)


def test_duckdb_engine_equals_run_segmentation_on_cdnow(cdnow: Store) -> None:
    engine: Engine = DuckDBEngine(cdnow.con)
    assert isinstance(engine, Engine)
    on_engine = run_on_engine(engine, SIGNALS, RULES, AS_OF)
    run = run_segmentation(cdnow, SIGNALS, RULES, AS_OF, ran_at=datetime(2000, 1, 1), source="log")
    in_store = EngineRun(
        AS_OF,
        pa.Table.from_pandas(run.features, preserve_index=False),
        pa.Table.from_pandas(run.assignments, preserve_index=False),
        on_engine.kpis,
    )
    assert_runs_agree(on_engine, in_store)
    kpis = save_engine_run(cdnow, on_engine, SIGNALS, RULES, ran_at=datetime(2000, 1, 2))
    assert_frames_agree(
        kpis.drop(columns="position").reset_index(drop=True),
        run.kpis.drop(columns="position").reset_index(drop=True),
        "kpis",
    )
    # the history now holds exactly the engine's segments
    named = cdnow.con.execute(
        "SELECT customer_id, segment FROM segment_history WHERE scheme = 'named' "
        "AND valid_to IS NULL ORDER BY customer_id"
    ).df()
    expected = run.assignments[run.assignments.scheme == "named"][["customer_id", "segment"]]
    assert named["segment"].tolist() == expected.sort_values("customer_id")["segment"].tolist()


def test_parquet_output_round_trips(tmp_path: Path) -> None:
    store = Store.in_memory()
    store.con.execute(
        "INSERT INTO customers (customer_id, first_load, last_load) VALUES ('a', 1, 1)"
    )
    run = run_on_engine(DuckDBEngine(store.con), FeaturesSettings(), SegmentsSettings(), AS_OF)
    paths = run.write_parquet(tmp_path / "out")
    assert [p.name for p in paths] == [
        "features_1998-06-30.parquet",
        "assignments_1998-06-30.parquet",
        "kpis_1998-06-30.parquet",
    ]
    assert pd.read_parquet(paths[1])["segment"].tolist() == ["Prospects"] * 3


def test_spark_and_postgres_tests_run_under_ci() -> None:
    """The cross-engine tests may skip locally without Java or PostgreSQL, never under CI."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        assert Path("/usr/bin/java").exists() or os.environ.get("JAVA_HOME")
        assert list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


def test_sql_command_prints_the_pipeline_for_a_dialect(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from livebase.cli._common import state
    from livebase.cli.sql import register
    from livebase.workspace import init_workspace

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """livebase (test app)."""

    register(app)
    root = tmp_path / "shop"
    init_workspace(root, template="ecommerce")
    state.workspace = root
    try:
        result = CliRunner().invoke(
            app, ["sql", "--dialect", "clickhouse", "--as-of", "2026-06-30"]
        )
        bad = CliRunner().invoke(app, ["sql", "--dialect", "oracle"])
    finally:
        state.workspace = None
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("-- livebase segmentation as of 2026-06-30, clickhouse dialect")
    assert "CREATE TABLE lb_features AS" in out and "CREATE TABLE lb_kpis AS" in out
    assert "Nullable(" in out  # ClickHouse types, not DuckDB's
    assert isinstance(bad.exception, StoreError) and "postgres" in str(bad.exception)
