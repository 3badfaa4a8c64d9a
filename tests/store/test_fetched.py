"""Rows kept from DuckDB give the DataFrame the query's own ``.df()`` gives."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from livebase.store.fetched import FetchedRows

QUERIES = [
    # the types of the KPI, threshold and matrix tables, NULLs in every column
    "SELECT * FROM (VALUES ('rfm', 'Champions', 12::BIGINT, 0.25::DOUBLE, 100.5::DECIMAL(18,2), "
    "DATE '2026-01-01', 3::INTEGER, TRUE), (NULL, 'Lost', NULL, NULL, NULL, NULL, NULL, NULL)) "
    "t(scheme, segment, customers, share, revenue, day, score, flag)",
    "SELECT 'R' AS dimension, 5::HUGEINT AS h, 2.5::FLOAT AS f, '{\"r\": 1}'::JSON AS scores",
    "SELECT range::BIGINT AS x FROM range(0)",  # empty
    'SELECT \'a"b\' AS "odd ""name", TIMESTAMP \'2026-06-30 12:00:00\' AS ts',
]


@pytest.mark.parametrize("sql", QUERIES)
def test_the_frame_is_the_frame_df_gives(sql: str) -> None:
    con = duckdb.connect()
    kept = FetchedRows.fetch(con, sql)
    pd.testing.assert_frame_equal(kept.frame(), con.execute(sql).df())


def test_rows_are_fetched_whole_so_the_connection_is_free() -> None:
    con = duckdb.connect()
    FetchedRows.fetch(con, "SELECT range FROM range(5000)")
    assert con.sql("SELECT 1").fetchall() == [(1,)]
