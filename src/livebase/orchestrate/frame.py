"""The customer frame of a tick: features, segments and contacts as of a date, one row each.

Audiences, stop rules and step variants are SQL over this frame. Its columns: every feature
of ``features:`` (CLV predictions included when a fit exists), ``<scheme>_segment`` for each
scheme (from the SCD2 history in force that day), ``days_since_last_paid`` (= recency_days),
``uplift`` and ``uplift_arm`` (the customer's best predicted uplift and its arm, from the
latest ``livebase uplift score`` on or before the day; NULL without one), and the contacts ``email``, ``phone``, ``tz``, ``attributes``.

>>> from livebase.config import parse_config
>>> "named_segment" in rule_columns(parse_config("name: school"))
True
"""

from __future__ import annotations

import functools
from datetime import date

import duckdb

from livebase.config import LivebaseConfig
from livebase.features import feature_columns, features_sql, sql_string
from livebase.store import Store

__all__ = [
    "FRAME",
    "build_frame",
    "checked_rule",
    "clv_predictions_sql",
    "frame_sql",
    "rule_columns",
    "segment_columns",
]

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
        "uplift",
        "uplift_arm",
    ]


def checked_rule(config: LivebaseConfig, condition: str | None, name: str) -> str | None:
    """``condition`` checked against the frame's columns and normalised (None when empty).

    >>> from livebase.config import parse_config
    >>> checked_rule(parse_config("name: school"), "monetary >= 5000", "audience.where")
    'monetary >= 5000'
    """
    if not condition:
        return None
    return _checked(tuple(rule_columns(config)), condition, name)


@functools.lru_cache(maxsize=1024)
def _checked(columns: tuple[str, ...], condition: str, name: str) -> str:
    """``check_condition``, once per rule and columns (a tick checks every rule; replay ticks
    every day): parsing with sqlglot was a few per cent of a replay."""
    from livebase.segments.rules import check_condition

    return check_condition(condition, list(columns), rule=name)


def clv_predictions_sql(store: Store, config: LivebaseConfig, day: date) -> str | None:
    """The SELECT of the CLV predictions in force on ``day`` (None: no fit, columns NULL)."""
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


def frame_sql(
    config: LivebaseConfig, day: date, predictions: str | None, *, customers: str | None = None
) -> str:
    """The SELECT of the frame as of ``day`` (``predictions``: ``clv_predictions_sql``);
    ``customers`` (a SELECT of customer ids) keeps only their rows, scanning only theirs."""
    features = features_sql(config.features, day, predictions=predictions, customers=customers)
    d = sql_string(day.isoformat())
    only = "" if customers is None else f" AND customer_id IN ({customers})"
    pivots = ",\n".join(
        f"max(segment) FILTER (WHERE scheme = {sql_string(s)}) AS {c}"
        for s, c in segment_columns(config).items()
    )
    segments = (
        f"SELECT customer_id, {pivots} FROM segment_history "
        f"WHERE valid_from <= DATE {d} AND (valid_to IS NULL OR valid_to > DATE {d}){only} "
        "GROUP BY customer_id"
        if pivots
        else "SELECT NULL::VARCHAR AS customer_id WHERE false"
    )
    seg_cols = "".join(f", s.{c}" for c in segment_columns(config).values())
    return f"""WITH f AS ({features}), s AS ({segments}),
        u AS (SELECT customer_id, arg_max(best_uplift, scored_at) AS uplift,
                     arg_max(best_arm, scored_at) AS uplift_arm
              FROM uplift_scores WHERE scored_at < DATE {d} + INTERVAL 1 DAY{only}
              GROUP BY customer_id)
        SELECT f.*{seg_cols}, f.recency_days AS days_since_last_paid, u.uplift, u.uplift_arm,
               c.email, c.phone, c.timezone AS tz, c.attributes
        FROM f LEFT JOIN s USING (customer_id) LEFT JOIN u USING (customer_id)
        LEFT JOIN customers c USING (customer_id)"""


def build_frame(store: Store, config: LivebaseConfig, day: date, *, table: str = FRAME) -> int:
    """(Re)create the temporary frame ``table`` as of ``day``; returns its number of rows."""
    sql = frame_sql(config, day, clv_predictions_sql(store, config, day))
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS\n{sql}")
    row = store.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    return int(row[0]) if row else 0
