"""A run's memory: pandas imported only when a result is read, the features stored narrow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from livebase.features import FeaturesSettings, features_sql
from livebase.segments import SegmentsSettings, run_segmentation
from livebase.store import Store

AS_OF = date(2026, 6, 30)


def _school(path: Path) -> None:
    with Store.open(path, create=True) as store:
        store.con.execute(
            "INSERT INTO customers (customer_id, first_load, last_load) "
            "SELECT 'c' || range, 1, 1 FROM range(300)"
        )
        store.con.execute(
            "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount,"
            " status, first_load, last_load) "
            "SELECT 'o' || range, 'c' || (range % 250), TIMESTAMP '2025-01-01' + "
            "INTERVAL (range * 7 % 540) DAY, TIMESTAMP '2025-01-01' + INTERVAL (range * 7 % 540) DAY,"
            " 100 + range % 37, 100 + range % 37, 'paid', 1, 1 FROM range(2000)"
        )


def test_a_run_nobody_reads_never_imports_pandas(tmp_path: Path) -> None:
    """pandas is 80 MB and 0.4 s: a nightly run imports it only when its tables are read."""
    path = tmp_path / "school.duckdb"
    _school(path)
    script = textwrap.dedent(
        f"""
        import sys
        from datetime import date, datetime
        from pathlib import Path
        from livebase.features import FeaturesSettings
        from livebase.segments import SegmentsSettings, run_segmentation
        from livebase.store import Store

        with Store.open(Path({str(path)!r})) as store:
            run = run_segmentation(store, FeaturesSettings(), SegmentsSettings(),
                                   date(2026, 6, 30), ran_at=datetime(2026, 7, 1), collect=False)
            print("pandas" in sys.modules, "pyarrow" in sys.modules)
            kpis = run.kpis
            dimensions = "".join(sorted(set(run.thresholds["dimension"])))
            print("pandas" in sys.modules, int(kpis["customers"].sum()), dimensions)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    before, after = done.stdout.splitlines()
    assert before == "False False"
    # three schemes of 300 customers each; thresholds of R, F and M
    assert after == "True 900 FMR"


def test_the_tables_read_later_are_those_the_run_wrote(tmp_path: Path) -> None:
    path = tmp_path / "school.duckdb"
    _school(path)
    with Store.open(path) as store:
        run = run_segmentation(
            store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
        )
        snapshots = {
            (s, g): c
            for s, g, c in store.con.execute(
                "SELECT scheme, segment, customers FROM segment_snapshots WHERE as_of = ?", [AS_OF]
            ).fetchall()
        }
        # the features a run collected (read through its narrow view): the features' SELECT
        full = store.con.execute(
            f"SELECT * FROM ({features_sql(FeaturesSettings(), AS_OF)}) ORDER BY customer_id"
        ).df()
    kpis = {
        (s, g): c
        for s, g, c in zip(
            run.kpis["scheme"], run.kpis["segment"], run.kpis["customers"], strict=True
        )
    }
    assert kpis == snapshots
    assert list(run.kpis.columns[:3]) == ["scheme", "segment", "position"]
    assert run.kpis["customers"].dtype.kind == "i"
    assert set(run.thresholds["scheme"]) == {"rfm"}
    assert run.job_matrices == {}
    assert len(run.features) == 300 and len(run.assignments) == 900
    pd.testing.assert_frame_equal(run.features, full)


def test_a_run_leaves_no_features_behind_and_an_engine_run_may_follow(tmp_path: Path) -> None:
    """The features' view and table are dropped at the end of a run (their memory with them),
    so the pipeline on the same connection, which materialises ``lb_features`` as a table,
    runs after it, and a second run after that."""
    from livebase.segments.engine_run import run_on_engine
    from livebase.store.engine import DuckDBEngine

    path = tmp_path / "school.duckdb"
    _school(path)
    with Store.open(path) as store:
        first = run_segmentation(
            store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
        )
        left = store.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'lb_%' "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'lb_%'"
        ).fetchall()
        on_engine = run_on_engine(
            DuckDBEngine(store.con), FeaturesSettings(), SegmentsSettings(), AS_OF
        )
        again = run_segmentation(
            store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
        )
    assert left == []
    assert on_engine.features.num_rows == first.customers == again.customers == 300
