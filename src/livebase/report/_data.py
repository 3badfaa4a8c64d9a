"""The report's numbers, read from the store as of a date (no writes, no clock, no language).

Every scheme shows its latest run on or before ``as_of``: the segments come from the SCD2
history, the KPIs are computed by the same SQL as a run (``kpi_sql``) over the features of
the run's date, so the tables equal what ``livebase segment --as-of`` printed for that date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from livebase.errors import SegmentError
from livebase.features import FeaturesSettings, features_sql
from livebase.models.store_io import latest_fit_id, predictions_sql
from livebase.report._treemap import squarify
from livebase.segments import (
    KPI_COLUMNS,
    AbcScheme,
    AlertResult,
    AlertSettings,
    JobsScheme,
    NamedScheme,
    QuantileScheme,
    SegmentsSettings,
    Transitions,
    evaluate_alerts,
    kpi_sql,
    order_kpis,
    resolve_run,
    run_dates,
    segment_order,
    transitions,
)
from livebase.segments.pipeline import clv_kpi_column
from livebase.segments.schemes import ABC_GROUPS
from livebase.store import Store

__all__ = ["GRID_CELLS", "ReportData", "SchemeKpis", "abc_group", "build_report"]

GRID_CELLS: tuple[str, ...] = tuple(r + f + m for m in "ABC" for r in "ABC" for f in "ABC")
"""The 27 cells of the A/B/C grid, by M, then R, then F."""

TREEMAP_SIZE = (1.6, 1.0)
"""Width and height of each treemap's layout (the renderer scales it)."""


def abc_group(cell: str) -> str:
    """The strategic group of an A/B/C cell (the rule of ``livebase.segments.schemes``).

    >>> [abc_group(c) for c in ("ABA", "ACC", "BAA", "CAA")]
    ['core', 'growing', 'pre_churn', 'churn']
    """
    r, f, m = cell[0], cell[1], cell[2]
    if r == "A":
        return "core" if "A" in (f, m) else "growing"
    return "pre_churn" if r == "B" else "churn"


@dataclass(frozen=True)
class SchemeKpis:
    """One scheme's KPI table at its latest run on or before the report's date."""

    name: str
    kind: str
    """quantile, abc, abc_group (an A/B/C scheme that outputs groups), named, rules or jobs."""
    run_date: date
    kpis: pd.DataFrame
    """segment, position (best first), the columns of ``KPI_COLUMNS``."""
    bins: int | None = None
    """Scores per dimension of a quantile scheme."""


@dataclass(frozen=True)
class ReportData:
    """Everything the owner's report shows; language-neutral (names are segment keys)."""

    as_of: date
    """The date asked for."""
    run_date: date
    """The run shown: the latest of the schemes' runs on or before ``as_of``."""
    customers: int
    buyers: int
    """Customers with at least one counted (paid) order on ``run_date``."""
    revenue: float
    """Revenue of the features' window on ``run_date``."""
    window_days: int | None
    """The RFM window (None: all history)."""
    runs: int
    """Distinct run dates on or before ``as_of``."""
    schemes: tuple[SchemeKpis, ...]
    named_scheme: str | None
    treemap: pd.DataFrame
    """The named map: segment, position, measure (customers | revenue), value, share and the
    tile x, y, w, h in a ``TREEMAP_SIZE`` rectangle (origin top left); no tile for zero."""
    grid_scheme: str | None
    grid_settings: AbcScheme | None
    grid: pd.DataFrame
    """The 27 cells (``GRID_CELLS`` order): cell, r, f, m, group, customers, share, revenue,
    revenue_share."""
    groups: pd.DataFrame
    """group (best first), cells, customers, share, revenue, revenue_share."""
    transitions: Transitions | None
    """The named map (or the first scheme) between its two latest runs; None with one run."""
    history: pd.DataFrame
    """as_of, segment, position, customers, revenue of the named map, its last 12 runs."""
    alerts: tuple[AlertResult, ...] = field(default_factory=tuple)
    """Every alert of the config checked between the two latest runs on or before ``as_of``."""
    alert_settings: tuple[AlertSettings, ...] = field(default_factory=tuple)
    """The alerts' settings, in the order of ``alerts``."""


def _kind(scheme: object) -> str:
    if isinstance(scheme, QuantileScheme):
        return "quantile"
    if isinstance(scheme, AbcScheme):
        return "abc" if scheme.output == "cell" else "abc_group"
    if isinstance(scheme, NamedScheme):
        return "named"
    return "jobs" if isinstance(scheme, JobsScheme) else "rules"


def _predictions(store: Store, day: date, features: FeaturesSettings) -> str | None:
    """The CLV predictions a run on ``day`` joined to its features (None without a fit)."""
    fit = latest_fit_id(store, as_of=day)
    return None if fit is None else predictions_sql(fit, features.clv_horizons)


def _kpis_on(store: Store, features: FeaturesSettings, names: list[str], day: date) -> pd.DataFrame:
    """KPIs of the schemes ``names`` from their history rows in force on ``day``."""
    placeholders = ", ".join("?" for _ in names)
    assignments = f"""SELECT customer_id, scheme, segment FROM segment_history
    WHERE scheme IN ({placeholders}) AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"""
    facts = features_sql(features, day, predictions=_predictions(store, day, features))
    sql = (
        f"WITH lb_report_features AS (\n{facts}\n),\n"
        f"lb_report_assignments AS (\n{assignments}\n)\n"
        + kpi_sql("lb_report_assignments", "lb_report_features", day, clv=clv_kpi_column(features))
    )
    frame: pd.DataFrame = store.con.execute(sql, [*names, day, day]).df()
    return frame.drop(columns="ltv")


def _totals(
    con: duckdb.DuckDBPyConnection, features: FeaturesSettings, day: date
) -> tuple[int, int, float]:
    row = con.execute(
        f"""SELECT COUNT(*), COUNT(CASE WHEN orders_total > 0 THEN 1 END),
               COALESCE(SUM(CAST(monetary AS DOUBLE)), 0)
        FROM (\n{features_sql(features, day)}\n) f"""
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), float(row[2])


def _treemap(kpis: pd.DataFrame) -> pd.DataFrame:
    width, height = TREEMAP_SIZE
    parts = []
    for measure in ("customers", "revenue"):
        values = kpis[measure].fillna(0).astype(float).clip(lower=0).tolist()
        total = sum(values)
        for tile in squarify(values, width, height):
            row = kpis.iloc[tile.index]
            parts.append(
                {
                    "segment": str(row["segment"]),
                    "position": int(row["position"]),
                    "measure": measure,
                    "value": values[tile.index],
                    "share": values[tile.index] / total,
                    "x": tile.x,
                    "y": tile.y,
                    "w": tile.w,
                    "h": tile.h,
                }
            )
    columns = ["segment", "position", "measure", "value", "share", "x", "y", "w", "h"]
    return pd.DataFrame(parts, columns=columns)


def _grid(kpis: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_cell: dict[str, dict[str, Any]] = {
        str(r["segment"]): {str(k): v for k, v in r.items()} for r in kpis.to_dict("records")
    }
    rows = []
    for cell in GRID_CELLS:
        found = by_cell.get(cell, {})
        rows.append(
            {
                "cell": cell,
                "r": cell[0],
                "f": cell[1],
                "m": cell[2],
                "group": abc_group(cell),
                "customers": int(found.get("customers", 0)),
                "revenue": float(found.get("revenue") or 0.0),
            }
        )
    grid = pd.DataFrame(rows)
    base = float(kpis["customers"].sum())
    money = float(kpis["revenue"].fillna(0).sum())
    grid["share"] = grid["customers"] / base if base else 0.0
    grid["revenue_share"] = grid["revenue"] / money if money else 0.0
    grid = grid[["cell", "r", "f", "m", "group", "customers", "share", "revenue", "revenue_share"]]
    groups = (
        grid.groupby("group", sort=False)
        .agg(
            cells=("cell", lambda s: tuple(sorted(s))),
            customers=("customers", "sum"),
            share=("share", "sum"),
            revenue=("revenue", "sum"),
            revenue_share=("revenue_share", "sum"),
        )
        .reindex(list(ABC_GROUPS))
        .reset_index()
    )
    return grid, groups


def _history(
    con: duckdb.DuckDBPyConnection, scheme: str, order: list[str], day: date
) -> pd.DataFrame:
    frame: pd.DataFrame = con.execute(
        """SELECT as_of, segment, customers, CAST(revenue AS DOUBLE) AS revenue
        FROM segment_snapshots
        WHERE scheme = ? AND as_of IN (
            SELECT DISTINCT as_of FROM segment_snapshots WHERE scheme = ? AND as_of <= ?
            ORDER BY as_of DESC LIMIT 12)
        ORDER BY as_of, segment""",
        [scheme, scheme, day],
    ).df()
    rank = {s: i for i, s in enumerate(order)}
    frame["position"] = [rank.get(s, len(order)) for s in frame["segment"]]
    frame["as_of"] = [pd.Timestamp(d).date() for d in frame["as_of"]]
    frame = frame.sort_values(["as_of", "position", "segment"], kind="stable")
    return frame[["as_of", "segment", "position", "customers", "revenue"]].reset_index(drop=True)


def build_report(
    store: Store,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    as_of: date,
) -> ReportData:
    """The report as of ``as_of`` from ``store`` (read only: it writes nothing).

    Every scheme of ``segments`` needs a run on or before ``as_of`` (``run_segmentation``);
    SegmentError names the scheme that has none.
    """
    if not segments.schemes:
        raise SegmentError("livebase.yaml has no segment schemes: add some under 'segments:'")
    con = store.con
    run_of = {name: resolve_run(con, name, as_of) for name in segments.schemes}
    frames = [
        _kpis_on(store, features, [n for n in run_of if run_of[n] == day], day)
        for day in sorted(set(run_of.values()))
    ]
    kpis = order_kpis(pd.concat(frames, ignore_index=True), segments)
    run_date = max(run_of.values())
    customers, buyers, revenue = _totals(con, features, run_date)
    sections = []
    for name, scheme in segments.schemes.items():
        table = kpis[kpis["scheme"] == name][["segment", "position", *KPI_COLUMNS]]
        sections.append(
            SchemeKpis(
                name=name,
                kind=_kind(scheme),
                run_date=run_of[name],
                kpis=table.reset_index(drop=True),
                bins=scheme.bins if isinstance(scheme, QuantileScheme) else None,
            )
        )
    by_name = {s.name: s for s in sections}
    named = next((s.name for s in sections if s.kind == "named"), None)
    grid_name = next((s.name for s in sections if s.kind == "abc"), None)
    treemap = _treemap(by_name[named].kpis) if named else _treemap(kpis.iloc[0:0])
    if grid_name is not None:
        grid, groups = _grid(by_name[grid_name].kpis)
        grid_settings = segments.schemes[grid_name]
        assert isinstance(grid_settings, AbcScheme)
    else:
        grid, groups = _grid(kpis.iloc[0:0])
        grid_settings = None
    moved = named or next(iter(segments.schemes))
    order = segment_order(segments.schemes[moved])
    dates = [d for d in run_dates(con, moved) if d <= as_of]
    flows = (
        transitions(con, moved, dates[-2], dates[-1], order=order, top=8)
        if len(dates) >= 2
        else None
    )
    all_runs = con.execute(
        "SELECT COUNT(DISTINCT as_of) FROM segment_runs WHERE as_of <= ?", [as_of]
    ).fetchone()
    return ReportData(
        as_of=as_of,
        run_date=run_date,
        customers=customers,
        buyers=buyers,
        revenue=revenue,
        window_days=features.window_days,
        runs=int(all_runs[0]) if all_runs else 0,
        schemes=tuple(sections),
        named_scheme=named,
        treemap=treemap,
        grid_scheme=grid_name,
        grid_settings=grid_settings,
        grid=grid,
        groups=groups,
        transitions=flows,
        history=_history(con, moved, order, run_date),
        alerts=tuple(evaluate_alerts(con, segments, after=as_of)),
        alert_settings=segments.alerts,
    )
