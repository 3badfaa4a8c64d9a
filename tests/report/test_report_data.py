"""The report's numbers: equal to the runs they read, laid out exactly, on a small base and CDNOW."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from livebase.errors import SegmentError
from livebase.features import FeaturesSettings
from livebase.report import GRID_CELLS, TREEMAP_SIZE, ReportData, abc_group, build_report
from livebase.segments import KPI_COLUMNS, SegmentationRun, SegmentsSettings, run_segmentation
from livebase.store import Store

from .conftest import ALERTS, CDNOW_DATES, SMALL_DATES, small_store

Runs = tuple[Store, dict[date, SegmentationRun]]


def assert_kpis_equal_the_run(data: ReportData, run: SegmentationRun) -> None:
    """Every scheme's table equals the KPIs the run itself computed (same order, same values)."""
    for section in data.schemes:
        mine = section.kpis.reset_index(drop=True)
        theirs = run.kpis[run.kpis["scheme"] == section.name].reset_index(drop=True)
        assert list(mine["segment"]) == list(theirs["segment"]), section.name
        for column in KPI_COLUMNS:
            np.testing.assert_allclose(
                mine[column].astype(float),
                theirs[column].astype(float),
                rtol=1e-9,
                err_msg=f"{section.name}.{column}",
            )


def assert_treemap_areas_are_shares(data: ReportData) -> None:
    width, height = TREEMAP_SIZE
    for measure, tiles in data.treemap.groupby("measure"):
        areas = tiles["w"] * tiles["h"] / (width * height)
        np.testing.assert_allclose(areas, tiles["share"], atol=1e-9, err_msg=str(measure))
        assert tiles["share"].sum() == pytest.approx(1.0)
        assert (tiles["x"] >= -1e-12).all() and (tiles["x"] + tiles["w"] <= width + 1e-9).all()
        assert (tiles["y"] >= -1e-12).all() and (tiles["y"] + tiles["h"] <= height + 1e-9).all()


def test_small_base_kpis_are_those_of_the_run_of_that_date(small: Runs) -> None:
    store, runs = small
    for day in SMALL_DATES:
        data = build_report(store, FeaturesSettings(), ALERTS, day)
        assert data.run_date == day
        assert_kpis_equal_the_run(data, runs[day])
        assert data.customers == runs[day].customers


def test_a_date_between_runs_shows_the_earlier_run(small: Runs) -> None:
    store, runs = small
    data = build_report(store, FeaturesSettings(), ALERTS, SMALL_DATES[0] + timedelta(days=10))
    assert data.run_date == SMALL_DATES[0] and data.as_of == SMALL_DATES[0] + timedelta(days=10)
    assert_kpis_equal_the_run(data, runs[SMALL_DATES[0]])
    assert data.transitions is None  # one run on or before that date
    assert data.runs == 1


def test_a_date_before_every_run_names_the_command_to_run(small: Runs) -> None:
    store, _ = small
    with pytest.raises(SegmentError, match="livebase segment --as-of 2025-01-01"):
        build_report(store, FeaturesSettings(), ALERTS, date(2025, 1, 1))


def test_totals_count_buyers_and_revenue_from_the_orders(small: Runs) -> None:
    store, _ = small
    day = SMALL_DATES[1]
    data = build_report(store, FeaturesSettings(), ALERTS, day)
    orders = store.con.execute("SELECT customer_id, paid_at, paid_amount FROM orders").df()
    counted = orders[orders["paid_at"] < pd.Timestamp(day + timedelta(days=1))]
    assert data.buyers == counted["customer_id"].nunique()
    assert data.revenue == pytest.approx(float(counted["paid_amount"].astype(float).sum()))
    assert data.customers == 80


def test_treemap_tiles_have_the_area_of_their_share(small: Runs) -> None:
    store, _ = small
    data = build_report(store, FeaturesSettings(), ALERTS, SMALL_DATES[1])
    assert_treemap_areas_are_shares(data)
    named = next(s for s in data.schemes if s.name == "named").kpis
    by_customers = data.treemap[data.treemap["measure"] == "customers"]
    assert set(by_customers["segment"]) == set(named.loc[named["customers"] > 0, "segment"])
    by_revenue = data.treemap[data.treemap["measure"] == "revenue"]
    assert "Prospects" not in set(by_revenue["segment"])  # no revenue, no tile


def test_grid_counts_every_buyer_once_in_its_cell(small: Runs) -> None:
    store, runs = small
    day = SMALL_DATES[1]
    data = build_report(store, FeaturesSettings(), ALERTS, day)
    assert list(data.grid["cell"]) == list(GRID_CELLS) and len(GRID_CELLS) == 27
    a = runs[day].assignments
    cells = a[(a["scheme"] == "abc") & (a["segment"] != "Prospects")]["segment"].value_counts()
    expected = cells.reindex(list(GRID_CELLS), fill_value=0)
    assert list(data.grid["customers"]) == list(expected)
    assert data.grid["customers"].sum() == data.buyers
    assert list(data.groups["group"]) == ["core", "growing", "pre_churn", "churn"]
    assert data.groups["customers"].sum() == data.buyers
    assert data.groups["revenue"].sum() == pytest.approx(data.revenue)


def test_abc_group_follows_the_documented_rule() -> None:
    for cell in GRID_CELLS:
        r, f, m = cell
        expected = (
            ("core" if f == "A" or m == "A" else "growing")
            if r == "A"
            else {"B": "pre_churn", "C": "churn"}[r]
        )
        assert abc_group(cell) == expected
    assert sum(abc_group(c) == "core" for c in GRID_CELLS) == 5


def test_transitions_and_history_cover_both_runs(small: Runs) -> None:
    store, runs = small
    data = build_report(store, FeaturesSettings(), ALERTS, SMALL_DATES[1])
    t = data.transitions
    assert t is not None and (t.start_run, t.end_run) == SMALL_DATES
    assert int(t.counts.to_numpy().sum()) == runs[SMALL_DATES[1]].customers
    assert sorted(set(data.history["as_of"])) == list(SMALL_DATES)
    for day in SMALL_DATES:
        assert data.history.loc[data.history["as_of"] == day, "customers"].sum() == (
            runs[day].customers
        )


def test_alerts_carry_the_numbers_of_both_runs(small: Runs) -> None:
    store, runs = small
    data = build_report(store, FeaturesSettings(), ALERTS, SMALL_DATES[1])
    shrink, explode = data.alerts
    assert [a.name for a in data.alert_settings] == ["Champions shrink", "Champions explode"]

    def champions(day: date) -> float:
        k = runs[day].kpis
        return float(k[(k["scheme"] == "named") & (k["segment"] == "Champions")]["customers"].sum())

    before, after = champions(SMALL_DATES[0]), champions(SMALL_DATES[1])
    assert (shrink.before, shrink.after) == (before, after) == (7.0, 5.0)
    assert shrink.change == pytest.approx(-2 / 7)
    assert shrink.fired and not explode.fired


def test_an_empty_base_still_gives_a_report() -> None:
    store = Store.in_memory()
    run_segmentation(
        store,
        FeaturesSettings(),
        SegmentsSettings(),
        date(2026, 6, 30),
        ran_at=datetime(2026, 7, 1),
        collect=False,
    )
    data = build_report(store, FeaturesSettings(), SegmentsSettings(), date(2026, 6, 30))
    assert (data.customers, data.buyers, data.revenue) == (0, 0, 0.0)
    assert data.treemap.empty and data.grid["customers"].sum() == 0


def test_a_config_without_named_map_or_grid_leaves_those_parts_empty() -> None:
    store = small_store(30, seed=5)
    settings = SegmentsSettings.model_validate({"schemes": {"rfm": {"kind": "quantile"}}})
    day = date(2026, 6, 30)
    run_segmentation(store, FeaturesSettings(), settings, day, ran_at=datetime(2026, 7, 1))
    data = build_report(store, FeaturesSettings(), settings, day)
    assert data.named_scheme is None and data.grid_scheme is None and data.treemap.empty
    assert [s.name for s in data.schemes] == ["rfm"] and data.schemes[0].bins == 5


def test_cdnow_report_matches_the_runs_and_an_independent_grid(cdnow: Runs) -> None:
    store, runs = cdnow
    for day in CDNOW_DATES:
        data = build_report(store, FeaturesSettings(), SegmentsSettings(), day)
        run = runs[day]
        assert_kpis_equal_the_run(data, run)
        assert_treemap_areas_are_shares(data)
        assert data.customers == run.customers
        # the grid from the run's features, graded here by the documented thresholds
        f = run.features[run.features["orders_total"] > 0]
        rec, freq = f["recency_days"], f["frequency"]
        r = np.where(rec <= 90, "A", np.where(rec <= 365, "B", "C"))
        fr = np.where(freq >= 3, "A", np.where(freq >= 2, "B", "C"))
        money = f["monetary"].astype(float).round(2)
        per_value = money.groupby(money).sum().sort_index(ascending=False)
        above = (per_value.cumsum() - per_value) / money.sum()
        share_above = money.map(above)
        m = np.where(share_above < 0.8, "A", np.where(share_above < 0.95, "B", "C"))
        cells = pd.Series([a + b + c for a, b, c in zip(r, fr, m, strict=True)]).value_counts()
        assert list(data.grid["customers"]) == list(cells.reindex(list(GRID_CELLS), fill_value=0))
        assert data.buyers == len(f)
        assert data.revenue == pytest.approx(float(f["monetary"].astype(float).sum()))
    data = build_report(store, FeaturesSettings(), SegmentsSettings(), CDNOW_DATES[1])
    assert data.customers == 23_570 and data.runs == 2
    t = data.transitions
    assert t is not None and (t.start_run, t.end_run) == CDNOW_DATES
    # CDNOW's cohort joined in Q1 1997: nobody is new between the two dates, nobody leaves
    assert "(new)" not in t.counts.index and "(gone)" not in t.counts.columns


def test_predicted_clv_kpis_read_the_fit_in_force_like_the_run() -> None:
    from livebase.models import BGNBD, ClvFit, GammaGamma
    from livebase.models.store_io import save_fit

    store = small_store(40, seed=12)
    day = date(2026, 6, 30)
    ids = store.con.execute("SELECT customer_id FROM customers ORDER BY 1").df()["customer_id"]
    rng = np.random.default_rng(0)
    horizon = max(FeaturesSettings().clv_horizons)
    predictions = pd.DataFrame(
        {
            "customer_id": ids,
            "p_alive": rng.uniform(0, 1, len(ids)),
            "expected_aov": rng.uniform(500, 5000, len(ids)),
            f"expected_purchases_{horizon}d": rng.uniform(0, 3, len(ids)),
            f"clv_{horizon}d": rng.uniform(0, 20_000, len(ids)),
        }
    )
    bg = BGNBD(r=0.2, alpha=4.0, a=0.8, b=2.4, log_likelihood=-1.0, customers=40, until=day)
    gg = GammaGamma(p=6.0, q=3.7, v=15.0, log_likelihood=-1.0, customers=30)
    save_fit(
        store,
        ClvFit(bg, gg),
        predictions,
        fitted_at=datetime(2026, 7, 1),
        monthly_discount_rate=0.01,
        margin=1.0,
    )
    run = run_segmentation(
        store, FeaturesSettings(), SegmentsSettings(), day, ran_at=datetime(2026, 7, 1)
    )
    data = build_report(store, FeaturesSettings(), SegmentsSettings(), day)
    assert_kpis_equal_the_run(data, run)
    named = next(s for s in data.schemes if s.name == "named").kpis
    assert named["total_clv"].sum() == pytest.approx(predictions[f"clv_{horizon}d"].sum())
