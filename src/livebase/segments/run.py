"""A segmentation run as of a date: features, every scheme, history, snapshots, KPIs.

>>> from datetime import date, datetime
>>> from livebase.store import Store
>>> store = Store.in_memory()
>>> _ = store.con.execute(
...     "INSERT INTO customers (customer_id, first_load, last_load) VALUES ('a', 1, 1), ('b', 1, 1)")
>>> _ = store.con.execute(
...     "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
...     "status, first_load, last_load) VALUES ('o1', 'a', '2026-01-05', '2026-01-05', 10, 10, "
...     "'paid', 1, 1)")
>>> run = run_segmentation(store, FeaturesSettings(), SegmentsSettings(), date(2026, 1, 31),
...                        ran_at=datetime(2026, 2, 1))
>>> sorted(run.assignments[run.assignments.scheme == "named"].segment)  # nobody below 'a'
['Lost', 'Prospects']
>>> run.kpis.loc[run.kpis.scheme == "abc", ["segment", "customers"]].values.tolist()
[['ACA', 1], ['Prospects', 1]]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd

from livebase.errors import SegmentError
from livebase.features import FeaturesSettings, feature_columns, features_sql
from livebase.segments.history import segment_state_sql, write_history
from livebase.segments.kpis import KPI_COLUMNS, kpi_sql
from livebase.segments.rules import CheckedRule, check_rules
from livebase.segments.schemes import (
    abc_sql,
    named_sql,
    quantile_sql,
    quantile_thresholds_sql,
    rules_sql,
    segment_order,
)
from livebase.segments.settings import (
    AbcScheme,
    JobsScheme,
    NamedScheme,
    QuantileScheme,
    RulesScheme,
    SegmentsSettings,
)
from livebase.store import Store

__all__ = [
    "Every",
    "SegmentationRun",
    "backfill_dates",
    "check_segment_rules",
    "order_kpis",
    "rule_columns",
    "run_segmentation",
]

Every = Literal["day", "week", "month"]
_FEATURES = "lb_features"
_STATE_SUFFIXES = ("_segment", "_segment_previous", "_segment_since", "_segment_days")


@dataclass(frozen=True)
class SegmentationRun:
    """What a run computed. ``assignments`` and ``features`` are empty unless collected."""

    as_of: date
    customers: int
    kpis: pd.DataFrame
    """scheme, segment, position (best first), the KPI columns of ``KPI_COLUMNS``."""
    thresholds: pd.DataFrame
    """Quantile schemes: scheme, dimension, feature, score, customers, min_value, max_value."""
    job_matrices: dict[str, pd.DataFrame]
    """Jobs scheme → long table: segment (of ``matrix_with``), job, customers, revenue."""
    history_paths: dict[str, str]
    """Scheme → how its history was written: append or rebuild."""
    assignments: pd.DataFrame = field(default_factory=pd.DataFrame)
    """customer_id, scheme, segment, scores (JSON text), when collected."""
    features: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per customer, when collected."""


def rule_columns(features: FeaturesSettings, segments: SegmentsSettings, scheme: str) -> list[str]:
    """The columns rules of ``scheme`` may use: features, signals, earlier schemes' states."""
    columns = list(feature_columns(features))
    for name in segments.schemes:
        if name == scheme:
            break
        columns += [name + suffix for suffix in _STATE_SUFFIXES]
    return columns


def check_segment_rules(
    features: FeaturesSettings,
    segments: SegmentsSettings,
    lines: Mapping[str, int] | None = None,
) -> dict[str, list[CheckedRule]]:
    """Check the rules of every rules and jobs scheme; RuleError names the rule and line.

    ``lines`` is ``yaml_lines(text of livebase.yaml)`` when the config came from a file.
    """
    checked: dict[str, list[CheckedRule]] = {}
    for name, scheme in segments.schemes.items():
        if isinstance(scheme, RulesScheme | JobsScheme):
            columns = rule_columns(features, segments, name)
            checked[name] = check_rules(scheme.rules, columns, scheme=name, lines=lines)
    return checked


def _config_hash(features: FeaturesSettings, scheme: object) -> str:
    text = features.model_dump_json() + getattr(scheme, "model_dump_json", lambda: "")()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def order_kpis(kpis: pd.DataFrame, segments: SegmentsSettings) -> pd.DataFrame:
    """Sort a KPI table by scheme (config order) and segment (best first); adds ``position``."""
    if kpis.empty:
        return kpis.assign(position=pd.Series(dtype="int64"))
    ranks: dict[tuple[str, str], int] = {}
    for name, scheme in segments.schemes.items():
        for i, segment in enumerate(segment_order(scheme)):
            ranks.setdefault((name, segment), i)
    order = list(segments.schemes)
    out = kpis.copy()
    out["position"] = [
        ranks.get((s, g), 10_000) for s, g in zip(out["scheme"], out["segment"], strict=True)
    ]
    out["_scheme"] = [order.index(s) if s in order else len(order) for s in out["scheme"]]
    out = out.sort_values(["_scheme", "position", "segment"], kind="stable").drop(columns="_scheme")
    return out.reset_index(drop=True)


def run_segmentation(
    store: Store,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    as_of: date,
    *,
    ran_at: datetime,
    lines: Mapping[str, int] | None = None,
    collect: bool = True,
) -> SegmentationRun:
    """Compute every scheme as of ``as_of``, write history, runs and snapshots in one transaction.

    ``ran_at`` stamps ``segment_runs`` (the caller's clock). With ``collect`` the per-customer
    features and assignments come back as DataFrames too.
    """
    checked = check_segment_rules(features, segments, lines)
    con = store.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_FEATURES} AS\n{features_sql(features, as_of)}")
    customers = int(con.execute(f"SELECT COUNT(*) FROM {_FEATURES}").fetchone()[0])  # type: ignore[index]
    history_paths: dict[str, str] = {}
    tables: dict[str, str] = {}
    with store.transaction():
        for name, scheme in segments.schemes.items():
            table = f"lb_seg_{name}"
            if isinstance(scheme, QuantileScheme):
                sql = quantile_sql(name, scheme, _FEATURES)
            elif isinstance(scheme, AbcScheme):
                sql = abc_sql(name, scheme, _FEATURES)
            elif isinstance(scheme, NamedScheme):
                sql = named_sql(name, scheme, tables[scheme.based_on])
            else:
                sql = rules_sql(
                    name, scheme, checked[name], _rule_inputs(checked[name], tables, as_of)
                )
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS\n{sql}")
            tables[name] = table
            history_paths[name] = write_history(con, name, as_of, table)
            con.execute(
                "INSERT OR REPLACE INTO segment_runs VALUES (?, ?, ?, ?, ?)",
                [name, as_of, customers, _config_hash(features, scheme), ran_at],
            )
        union = "\nUNION ALL\n".join(
            f"SELECT customer_id, scheme, segment, CAST(scores AS VARCHAR) AS scores FROM {t}"
            for t in tables.values()
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE lb_assignments AS\n{union}")
        kpis: pd.DataFrame = con.execute(kpi_sql("lb_assignments", _FEATURES, as_of)).df()
        con.execute("DELETE FROM segment_snapshots WHERE as_of = ?", [as_of])
        con.register("lb_kpis", kpis)
        con.execute(
            "INSERT INTO segment_snapshots SELECT scheme, ?, segment, customers, share, "
            "revenue, ltv FROM lb_kpis",
            [as_of],
        )
        con.unregister("lb_kpis")
    thresholds = [
        con.execute(quantile_thresholds_sql(tables[n], _FEATURES)).df().assign(scheme=n)
        for n, s in segments.schemes.items()
        if isinstance(s, QuantileScheme)
    ]
    matrices = {
        n: con.execute(_job_matrix_sql(tables[n], tables[s.matrix_with])).df()
        for n, s in segments.schemes.items()
        if isinstance(s, JobsScheme)
    }
    kpis = order_kpis(kpis.drop(columns="ltv"), segments)
    kpis = kpis[["scheme", "segment", "position", *KPI_COLUMNS]]
    assignments = features_frame = pd.DataFrame()
    if collect:
        assignments = con.execute("SELECT * FROM lb_assignments ORDER BY scheme, customer_id").df()
        features_frame = con.execute(f"SELECT * FROM {_FEATURES} ORDER BY customer_id").df()
    return SegmentationRun(
        as_of=as_of,
        customers=customers,
        kpis=kpis,
        thresholds=(
            pd.concat(thresholds, ignore_index=True)[
                ["scheme", "dimension", "feature", "score", "customers", "min_value", "max_value"]
            ]
            if thresholds
            else pd.DataFrame()
        ),
        job_matrices=matrices,
        history_paths=history_paths,
        assignments=assignments,
        features=features_frame,
    )


def _rule_inputs(checked: list[CheckedRule], tables: Mapping[str, str], as_of: date) -> str:
    """The features joined with the segment states of the earlier schemes the rules use."""
    used = [n for n in tables if any(f"{n}_segment" in rule.sql for rule in checked)]
    if not used:
        return _FEATURES
    joins = "\n".join(
        f"LEFT JOIN ({segment_state_sql(n, as_of)}) st_{n} ON st_{n}.customer_id = f.customer_id"
        for n in used
    )
    cols = ", ".join(f"st_{n}.{n}{suffix}" for n in used for suffix in _STATE_SUFFIXES)
    return f"(SELECT f.*, {cols}\nFROM {_FEATURES} f\n{joins}) inputs"


def _job_matrix_sql(jobs: str, by: str) -> str:
    return f"""SELECT b.segment, j.segment AS job, COUNT(*) AS customers,
       SUM(f.monetary) AS revenue
FROM {jobs} j
JOIN {by} b ON b.customer_id = j.customer_id
JOIN {_FEATURES} f ON f.customer_id = j.customer_id
GROUP BY b.segment, j.segment
ORDER BY b.segment, j.segment"""


def backfill_dates(start: date, end: date, every: Every) -> list[date]:
    """The run dates from ``start`` to ``end`` (both included) every day, week or month.

    Months keep the day of ``start`` (clamped to the month's last day).

    >>> backfill_dates(date(2026, 1, 31), date(2026, 4, 30), "month")
    [datetime.date(2026, 1, 31), datetime.date(2026, 2, 28), datetime.date(2026, 3, 31), datetime.date(2026, 4, 30)]
    """
    if end < start:
        raise SegmentError(f"--from {start} is after --to {end}")
    days: list[date] = []
    if every in ("day", "week"):
        step = timedelta(days=1 if every == "day" else 7)
        day = start
        while day <= end:
            days.append(day)
            day += step
    else:
        k = 0
        while True:
            month = start.month - 1 + k
            year, month = start.year + month // 12, month % 12 + 1
            last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
            day = date(year, month, min(start.day, last))
            if day > end:
                break
            days.append(day)
            k += 1
    if days[-1] != end:
        days.append(end)
    return days
