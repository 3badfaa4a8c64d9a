"""The customer frame of a tick: features, segments and contacts as of a date, one row each.

Audiences, stop rules and step variants are SQL over this frame. Its columns: every feature
of ``features:`` (CLV predictions included when a fit exists), ``<scheme>_segment`` for each
scheme (from the SCD2 history in force that day), ``days_since_last_paid`` (= recency_days),
and the contacts ``email``, ``phone``, ``tz``, ``attributes``.

>>> from livebase.config import parse_config
>>> "named_segment" in rule_columns(parse_config("name: school"))
True
"""

from __future__ import annotations

from datetime import date

import duckdb

from livebase.config import LivebaseConfig
from livebase.features import feature_columns, features_sql, sql_string
from livebase.store import Store

__all__ = ["FRAME", "build_frame", "rule_columns", "segment_columns"]

FRAME = "lb_pb_frame"
"""Name of the temporary table holding the frame."""


def segment_columns(config: LivebaseConfig) -> dict[str, str]:
    """Scheme → its column in the frame."""
    return {scheme: f"{scheme}_segment" for scheme in config.segments.schemes}


def rule_columns(config: LivebaseConfig) -> list[str]:
    """Columns an audience rule, stop rule or exclusion may use."""
    return [
        *feature_columns(config.features),
        *segment_columns(config).values(),
        "days_since_last_paid",
    ]


def _predictions(store: Store, config: LivebaseConfig, day: date) -> str | None:
    try:  # no prediction stored: skip importing the models package (SciPy) altogether
        if not store.con.execute("SELECT count(*) FROM clv_predictions").fetchall()[0][0]:
            return None
    except duckdb.Error:  # a store without CLV tables has no predictions
        return None
    from livebase.models.store_io import latest_fit_id, predictions_sql

    try:
        fit = latest_fit_id(store, as_of=day)
    except duckdb.Error:
        return None
    return None if fit is None else predictions_sql(fit, config.features.clv_horizons)


def build_frame(store: Store, config: LivebaseConfig, day: date, *, table: str = FRAME) -> int:
    """(Re)create the temporary frame ``table`` as of ``day``; returns its number of rows."""
    features = features_sql(config.features, day, predictions=_predictions(store, config, day))
    d = sql_string(day.isoformat())
    pivots = ",\n".join(
        f"max(segment) FILTER (WHERE scheme = {sql_string(s)}) AS {c}"
        for s, c in segment_columns(config).items()
    )
    segments = (
        f"SELECT customer_id, {pivots} FROM segment_history "
        f"WHERE valid_from <= DATE {d} AND (valid_to IS NULL OR valid_to > DATE {d}) "
        "GROUP BY customer_id"
        if pivots
        else "SELECT NULL::VARCHAR AS customer_id WHERE false"
    )
    seg_cols = "".join(f", s.{c}" for c in segment_columns(config).values())
    store.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        WITH f AS ({features}), s AS ({segments})
        SELECT f.*{seg_cols}, f.recency_days AS days_since_last_paid,
               c.email, c.phone, c.timezone AS tz, c.attributes
        FROM f LEFT JOIN s USING (customer_id) LEFT JOIN customers c USING (customer_id)"""
    )
    row = store.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    return int(row[0]) if row else 0
