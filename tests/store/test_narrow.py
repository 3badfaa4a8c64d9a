"""A wide SELECT stored without its NULL and repeated columns, given back whole by a view."""

from __future__ import annotations

from datetime import date

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.features import FeaturesSettings, features_sql
from livebase.store.narrow import create_narrow_table, drop_narrow_table

_EXPRESSIONS = [
    "x",
    "COALESCE(x, 0)",
    "COALESCE(y, CAST(0 AS DECIMAL(18,2)))",
    "CAST(NULL AS DOUBLE)",
    "CAST(NULL AS DATE)",
    "x + 1",
    "random() < 2",
    "CAST(y AS DOUBLE) / 3",
    "NULL",
    "42",
]


def _source() -> str:
    return (
        "(SELECT CASE WHEN range % 3 = 0 THEN NULL ELSE range END AS x, "
        "CAST(range / 7 AS DECIMAL(18,2)) AS y FROM range(50)) t"
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_EXPRESSIONS), min_size=1, max_size=8))
def test_the_view_gives_back_exactly_what_the_select_gives(expressions: list[str]) -> None:
    con = duckdb.connect()
    columns = ", ".join(f"{e} AS c{i}" for i, e in enumerate(expressions))
    select = f"SELECT {columns} FROM {_source()}"
    free = create_narrow_table(con, "wide", select)
    whole = con.execute(f"SELECT * FROM ({select}) ORDER BY ALL").fetchall()
    assert con.execute("SELECT * FROM wide ORDER BY ALL").fetchall() == whole
    assert con.execute("DESCRIBE wide").fetchall() == con.execute(f"DESCRIBE ({select})").fetchall()
    stored = [r[0] for r in con.execute("DESCRIBE wide__stored").fetchall()]
    # a NULL constant or a repeat of a pure expression is never stored (but a table keeps
    # its first column when every column is one); the rest always is
    impure = ("x + 1", "random() < 2", "CAST(y AS DOUBLE) / 3", "42")
    expected = [
        (e in expressions[:i] and e not in impure) or ("NULL" in e and "COALESCE" not in e)
        for i, e in enumerate(expressions)
    ]
    if all(expected):
        expected[0] = False
    assert free == [f"c{i}" for i, e in enumerate(expected) if e]
    assert stored == [f"c{i}" for i, e in enumerate(expected) if not e]


def test_the_features_of_a_run_without_predictions_store_seven_columns_less() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE customers (customer_id VARCHAR, created_at TIMESTAMP);"
        "CREATE TABLE orders (customer_id VARCHAR, created_at TIMESTAMP, paid_at TIMESTAMP, "
        "status VARCHAR, items VARCHAR[], paid_amount DECIMAL(18,2));"
        "CREATE TABLE events (customer_id VARCHAR, ts TIMESTAMP, name VARCHAR);"
        "INSERT INTO customers VALUES ('a', '2026-01-01'), ('b', '2026-02-01');"
        "INSERT INTO orders VALUES ('a', '2026-03-01', '2026-03-01', 'paid', [], 10),"
        " ('a', '2026-04-01', '2026-04-01', 'paid', [], 5), ('b', NULL, NULL, 'new', [], 0);"
    )
    select = features_sql(FeaturesSettings(), date(2026, 6, 30))
    free = create_narrow_table(con, "lb_features", select)
    assert set(free) == {
        "orders_total",
        "ltv",
        "p_alive",
        "expected_purchases_90d",
        "clv_90d",
        "expected_purchases_365d",
        "clv_365d",
    }
    assert con.execute("SELECT * FROM lb_features ORDER BY customer_id").fetchall() == (
        con.execute(f"SELECT * FROM ({select}) ORDER BY customer_id").fetchall()
    )
    # a second run in the same connection replaces both; dropping leaves nothing
    create_narrow_table(con, "lb_features", select)
    drop_narrow_table(con, "lb_features")
    assert con.execute(
        "SELECT COUNT(*) FROM duckdb_tables() WHERE table_name LIKE 'lb_features%'"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT COUNT(*) FROM duckdb_views() WHERE view_name = 'lb_features'"
    ).fetchone() == (0,)


def test_a_plain_table_of_the_name_is_replaced() -> None:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE f AS SELECT 1 AS a")
    create_narrow_table(con, "f", "SELECT 2 AS a, CAST(NULL AS INTEGER) AS b")
    assert con.execute("SELECT * FROM f").fetchall() == [(2, None)]


def test_a_select_the_view_could_not_name_is_stored_whole() -> None:
    """A star, an unnamed expression or two names equal but for case: stored as is."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS a, 2 AS b")
    for select in (
        "SELECT *, CAST(NULL AS DOUBLE) AS p FROM t",
        "SELECT a + 1, CAST(NULL AS DOUBLE) AS p FROM t",
        "SELECT a AS x, a AS X FROM t",
    ):
        assert create_narrow_table(con, "w", select) == []
        assert con.execute("SELECT * FROM w").fetchall() == con.execute(select).fetchall()
        described = con.execute("DESCRIBE w").fetchall()
        if "X" not in select:  # a table of x and X: DuckDB itself names the second X_1
            assert described == con.execute(f"DESCRIBE ({select})").fetchall()
