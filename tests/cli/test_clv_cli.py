"""``livebase clv fit | validate | show`` on CDNOW, as a user runs them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
import typer
from rich.markup import escape

from livebase.cli._common import err_console, state
from livebase.cli.clv import register
from livebase.errors import LivebaseError
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.workspace import init_workspace

Run = Callable[..., tuple[int, str, str]]


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(app)
    return app


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``livebase -w WORKSPACE clv …`` the way ``livebase.cli.main`` does: exit codes and
    the single LivebaseError handler (message on stderr, exit 1)."""
    app = _app()

    def invoke(workspace: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(state, "workspace", workspace)
        try:
            app(args=list(args), prog_name="livebase")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except LivebaseError as exc:
            err_console.print(f"error: {escape(str(exc))}", highlight=False, soft_wrap=True)
            code = 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


@pytest.fixture(scope="module")
def cdnow_template(cdnow_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = init_workspace(tmp_path_factory.mktemp("cdnow") / "shop")
    with ws.open_store() as store:
        load_file(
            store,
            str(cdnow_sample),
            LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2026, 11, 22)),
        )
    return ws.root


@pytest.fixture
def cdnow_ws(cdnow_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the CDNOW workspace for each test (fits write to the store)."""
    return Path(shutil.copytree(cdnow_template, tmp_path / "shop"))


def _query(ws: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(ws / "livebase.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _sig3(value: float) -> float:
    return float(f"{value:.3g}")


def test_fit_json_gives_the_published_cdnow_estimates_and_stores_them(
    run: Run, cdnow_ws: Path
) -> None:
    code, out, err = run(
        cdnow_ws, "clv", "fit", "--until", "1997-09-30", "--unit", "weeks", "--format", "json"
    )
    assert code == 0, err
    result = json.loads(out)
    bg, gg = result["bgnbd"], result["gamma_gamma"]
    # Fader, Hardie & Lee (2005), Table 1; Fader & Hardie, note on the Gamma-Gamma model
    assert {k: _sig3(bg[k]) for k in ("r", "alpha", "a", "b")} == {
        "r": 0.243,
        "alpha": 4.41,
        "a": 0.793,
        "b": 2.43,
    }
    assert round(bg["alpha"], 3) == 4.414 and round(bg["b"], 3) == 2.426
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert {k: _sig3(gg[k]) for k in ("p", "q", "v")} == {"p": 6.25, "q": 3.74, "v": 15.4}
    assert round(gg["v"], 2) == 15.44
    assert result["customers"] == 2357 and result["as_of"] == "1997-09-30"
    assert result["warnings"] == []
    assert len(result["top_customers"]) == 10
    assert _query(cdnow_ws, "SELECT model, as_of, customers FROM clv_models ORDER BY model") == [
        ("bgnbd", date(1997, 9, 30), 2357),
        ("gamma_gamma", date(1997, 9, 30), 946),
    ]
    per_customer = _query(
        cdnow_ws,
        "SELECT count(DISTINCT customer_id), count(*), count(DISTINCT horizon_days) "
        "FROM clv_predictions",
    )
    assert per_customer == [(2357, 2 * 2357, 2)]


def test_fit_table_prints_parameters_and_top_customers(run: Run, cdnow_ws: Path) -> None:
    code, out, err = run(cdnow_ws, "clv", "fit", "--until", "1997-09-30", "--horizon", "180")
    assert code == 0, err
    flat = " ".join(out.split())
    assert "BG/NBD on 2,357 customers, as of 1997-09-30" in flat
    assert "r = 0.2426" in flat and "log-likelihood -9582.4" in flat
    assert "Gamma-Gamma on 946 repeat buyers" in flat and "v = 15.44" in flat
    assert "Top 10 customers by CLV over 180 days" in flat
    assert "CLV 180d" in flat and "│ 05420 " in flat


def test_until_defaults_to_the_last_paid_day_not_the_clock(run: Run, cdnow_ws: Path) -> None:
    code, out, err = run(cdnow_ws, "clv", "fit", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["as_of"] == "1998-06-30"


def test_refitting_the_same_date_replaces_predictions_and_keeps_the_models(
    run: Run, cdnow_ws: Path
) -> None:
    fit = ("clv", "fit", "--until", "1997-09-30", "--format", "json")
    first = json.loads(run(cdnow_ws, *fit)[1])["fit_id"]
    second = json.loads(run(cdnow_ws, *fit, "--model", "mbgnbd", "--horizon", "30")[1])
    assert set(second) >= {"mbgnbd", "gamma_gamma", "customers", "as_of"}
    assert _query(cdnow_ws, "SELECT DISTINCT fit_id, horizon_days FROM clv_predictions") == [
        (second["fit_id"], 30)
    ]
    assert _query(cdnow_ws, "SELECT count(DISTINCT fit_id) FROM clv_models") == [(2,)]
    # a fit of another date keeps the others' predictions; show uses the latest as_of
    later = json.loads(run(cdnow_ws, "clv", "fit", "--format", "json")[1])["fit_id"]
    stored = _query(cdnow_ws, "SELECT DISTINCT fit_id FROM clv_predictions ORDER BY 1")
    assert sorted(r[0] for r in stored) == sorted([second["fit_id"], later])
    assert first not in {r[0] for r in stored}
    code, out, _ = run(cdnow_ws, "clv", "show", "--format", "json")
    assert code == 0 and json.loads(out)["fit_id"] == later


def test_validate_prints_both_tables_and_writes_the_chart(run: Run, cdnow_ws: Path) -> None:
    code, out, err = run(cdnow_ws, "clv", "validate", "--holdout-from", "1997-10-01")
    assert code == 0, err
    flat = " ".join(out.split())
    assert "fitted on 2,357 customers up to 1997-09-30" in flat
    assert "Holdout 1997-10-01 .. 1998-06-30" in flat
    assert "by calibration repeat purchases" in flat and "│ 7+ │ 64 │" in flat
    assert "Cumulative repeat transactions, week by week" in flat
    assert "│ 78 │ 1998-06-30 │ 4,339 │" in flat
    chart = cdnow_ws / "clv_validation.png"
    assert f"Chart written to {chart}" in flat
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_validate_json_has_the_tables_and_the_chart_path(
    run: Run, cdnow_ws: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "out.png"
    code, out, err = run(
        cdnow_ws,
        "clv",
        "validate",
        "--holdout-from",
        "1997-10-01",
        "--chart",
        str(chart),
        "--format",
        "json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert [r["frequency"] for r in result["by_frequency"]][-1] == "7+"
    assert sum(r["customers"] for r in result["by_frequency"]) == 2357
    assert len(result["cumulative"]) == 78
    assert result["calibration_until"] == "1997-09-30" and result["chart"] == str(chart)
    assert round(result["bgnbd"]["r"], 3) == 0.243
    assert chart.exists()


def test_show_prints_the_model_and_a_customers_predictions(run: Run, cdnow_ws: Path) -> None:
    run(cdnow_ws, "clv", "fit", "--until", "1997-09-30")
    code, out, err = run(cdnow_ws, "clv", "show", "--customer", "00004", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    stored = _query(
        cdnow_ws,
        "SELECT p_alive, clv FROM clv_predictions WHERE customer_id = '00004' "
        "AND horizon_days = 365",
    )
    assert shown["customer"]["customer_id"] == "00004"
    assert (shown["customer"]["p_alive"], shown["customer"]["clv_365d"]) == stored[0]
    assert shown["bgnbd"]["r"] == pytest.approx(0.2426, abs=1e-4)
    code, out, _ = run(cdnow_ws, "clv", "show", "--customer", "00004")
    assert code == 0 and "Customer 00004" in out and "P(alive)" in out
    code, _, err = run(cdnow_ws, "clv", "show", "--customer", "99999")
    assert code == 1 and "'99999' has no prediction" in " ".join(err.split())


def test_an_empty_store_says_to_load_orders(run: Run, tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "empty").root
    code, _, err = run(ws, "clv", "fit")
    assert code == 1
    assert "no paid orders" in err and "livebase ingest orders" in " ".join(err.split())
    code, _, err = run(ws, "clv", "show")
    assert code == 1 and "livebase clv fit" in err


def test_nobody_buying_twice_is_a_clear_error(run: Run, tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "once")
    orders = tmp_path / "orders.csv"
    lines = ["order_id,customer_id,date,amount"]
    lines += [f"A{i},c{i},2026-01-{1 + i % 28:02d},{10 + i}.50" for i in range(40)]
    orders.write_text("\n".join(lines) + "\n", "utf-8")
    with ws.open_store() as store:
        load_file(
            store, str(orders), LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 2, 1))
        )
    code, _, err = run(ws.root, "clv", "fit")
    flat = " ".join(err.split())
    assert code == 1
    assert "nobody among the 40 customers bought again" in flat
    assert "load a longer order history" in flat
    assert _query(ws.root, "SELECT count(*) FROM clv_models") == [(0,)]


def test_a_bad_date_is_a_usage_error(run: Run, cdnow_ws: Path) -> None:
    code, _, err = run(cdnow_ws, "clv", "fit", "--until", "30.09.1997")
    assert code == 2 and "--until" in err


def test_a_frequency_value_correlation_is_reported(run: Run, tmp_path: Path) -> None:
    # 300 seeded customers whose order value grows with how often they buy
    rng = np.random.default_rng(7)
    lines = ["order_id,customer_id,date,amount"]
    for c in range(300):
        first = int(rng.integers(0, 60))
        n = 1 + int(rng.poisson(rng.gamma(0.5, 0.1) * 300))
        days = sorted({first, *(first + rng.integers(1, 300, n - 1)).tolist()})
        for d in days:
            amount = (10 + 15 * len(days)) * rng.uniform(0.8, 1.2)
            day = date(2025, 1, 1) + timedelta(days=int(d))
            lines.append(f"O{len(lines)},c{c},{day.isoformat()},{amount:.2f}")
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(lines) + "\n", "utf-8")
    ws = init_workspace(tmp_path / "shop")
    with ws.open_store() as store:
        load_file(
            store, str(orders), LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 1, 1))
        )
    code, out, err = run(ws.root, "clv", "fit", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["gamma_gamma"]["correlation"] > 0.9
    # the purchase model may also be a constrained refit (its own warning, checked elsewhere)
    correlated = [w for w in result["warnings"] if "correlated (Pearson r = " in w]
    assert len(correlated) == 1
    assert "warning: frequency and average order value are correlated" in " ".join(err.split())


def test_few_repeat_buyers_fit_with_a_warning_printed_and_kept(run: Run, tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "few")
    orders = tmp_path / "orders.csv"
    lines = ["order_id,customer_id,date,amount"]
    lines += [f"A{i},c{i},2026-01-{1 + i % 28:02d},{10 + i}.50" for i in range(40)]
    lines += ["B1,c1,2026-02-10,30.00", "B2,c2,2026-03-03,50.00", "B3,c3,2026-02-20,40.00"]
    orders.write_text("\n".join(lines) + "\n", "utf-8")
    with ws.open_store() as store:
        load_file(
            store, str(orders), LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 4, 1))
        )
    code, out, err = run(ws.root, "clv", "fit")
    assert code == 0, err
    flat = " ".join(out.split())
    assert "warning: Gamma-Gamma not fitted: only 3 customers bought again" in flat
    assert "mean repeat order value, 40.00" in flat
    code, out, err = run(ws.root, "clv", "show", "--format", "json")
    assert code == 0, err
    codes = [w["code"] for w in json.loads(out)["fit_warnings"]]
    assert "few_repeat_buyers" in codes
    code, out, _ = run(ws.root, "clv", "show")
    assert "warning: Gamma-Gamma not fitted" in " ".join(out.split())
