"""Features as tables: computed into a temporary table or a pandas frame.

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

from livebase.features._sql import FeatureSource, features_sql
from livebase.features.settings import FeaturesSettings

__all__ = ["compute_features", "materialize_features"]


def materialize_features(
    con: duckdb.DuckDBPyConnection, settings: FeaturesSettings, as_of: date, table: str
) -> int:
    """Compute the features as of ``as_of`` into the temporary ``table``; returns its rows."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS\n{features_sql(settings, as_of)}")
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def compute_features(
    con: duckdb.DuckDBPyConnection,
    settings: FeaturesSettings,
    as_of: date,
    *,
    source: FeatureSource = "log",
) -> pd.DataFrame:
    """The features of every customer in the base on ``as_of``, sorted by customer_id.

    ``source``: the whole order log, or ``customer_state`` and the recent orders
    (``features_sql``; check ``livebase.features.state.state_ready`` first).
    """
    sql = (
        f"SELECT * FROM (\n{features_sql(settings, as_of, source=source)}\n) f ORDER BY customer_id"
    )
    frame: pd.DataFrame = con.execute(sql).df()
    return frame
