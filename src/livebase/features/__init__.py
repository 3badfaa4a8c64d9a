"""Per-customer features as of a date, generated as SQL over the store (RFM+).

>>> from datetime import date
>>> from livebase.store import Store
>>> store = Store.in_memory()
>>> _ = store.con.execute("INSERT INTO customers (customer_id, first_load, last_load) "
...                       "VALUES ('c1', 1, 1)")
>>> compute_features(store.con, FeaturesSettings(), date(2026, 6, 30))[
...     ["customer_id", "frequency", "ltv"]].to_dict("records")
[{'customer_id': 'c1', 'frequency': 0, 'ltv': 0.0}]
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from livebase.features._columns import BASE_FEATURES
from livebase.features._sql import feature_columns, features_sql, sql_string
from livebase.features.settings import (
    FeaturesSettings,
    SignalMeasure,
    SignalSettings,
    SignalSource,
)

__all__ = [
    "BASE_FEATURES",
    "FeaturesSettings",
    "SignalMeasure",
    "SignalSettings",
    "SignalSource",
    "compute_features",
    "feature_columns",
    "features_sql",
    "materialize_features",
    "sql_string",
]


def materialize_features(
    con: duckdb.DuckDBPyConnection, settings: FeaturesSettings, as_of: date, table: str
) -> int:
    """Compute the features as of ``as_of`` into the temporary ``table``; returns its rows."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS\n{features_sql(settings, as_of)}")
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def compute_features(
    con: duckdb.DuckDBPyConnection, settings: FeaturesSettings, as_of: date
) -> pd.DataFrame:
    """The features of every customer in the base on ``as_of``, sorted by customer_id."""
    sql = f"SELECT * FROM (\n{features_sql(settings, as_of)}\n) f ORDER BY customer_id"
    frame: pd.DataFrame = con.execute(sql).df()
    return frame
