"""The segment commands on a CDNOW workspace: segment, backfill, transitions, alerts, export,
history (registered on a fresh Typer app, as the main app will)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from livebase.cli._common import state
from livebase.cli.segment_exports import register as register_exports
from livebase.cli.segments import register
from livebase.cli.transitions import register as register_transitions
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.workspace import init_workspace

ALERTS = """
segments:
  alerts:
    - name: Champions shrink
      segment: Champions
      metric: customers
      threshold: 0.05
    - name: Lost grows
      segment: Lost
      metric: customers
      direction: up
      threshold: 100.0
"""


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """livebase (test app)."""

    register(app)
    register_transitions(app)
    register_exports(app)
    return app


@pytest.fixture(scope="module")
def ws(cdnow_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "shop"
    workspace = init_workspace(root, template="ecommerce")
    with workspace.open_store() as store:
        load_file(
            store, str(cdnow_master), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1))
        )
    return root


def invoke(app: typer.Typer, ws: Path, *args: str) -> tuple[int, str]:
    state.workspace = ws
    try:
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    finally:
        state.workspace = None
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_segment_defaults_to_the_latest_paid_day_and_prints_kpis(
    app: typer.Typer, ws: Path
) -> None:
    code, out = invoke(app, ws, "segment", "--scheme", "named", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {r["as_of"] for r in rows} == {"1998-06-30"}
    assert sum(r["customers"] for r in rows) == 23_570
    assert rows[0]["segment"] == "Champions"


@pytest.mark.slow
def test_backfill_then_transitions_chart_alerts_export_history(
    app: typer.Typer, ws: Path, tmp_path: Path
) -> None:
    code, _ = invoke(
        app,
        ws,
        "segment",
        "--from",
        "1998-03-31",
        "--to",
        "1998-06-30",
        "--every",
        "month",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "k.csv"),
    )
    assert code == 0
    kpis = pd.read_csv(tmp_path / "k.csv")
    assert set(kpis["scheme"]) == {"rfm", "abc", "named"}

    code, out = invoke(
        app,
        ws,
        "transitions",
        "--from",
        "1998-03-31",
        "--to",
        "1998-06-30",
        "--format",
        "json",
        "--chart",
        str(tmp_path / "t.png"),
    )
    assert code == 0
    t = json.loads(out)
    total = sum(sum(row.values()) for row in t["counts"].values())
    assert total == 23_570
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    code, out = invoke(app, ws, "transitions", "--from", "1998-03-31", "--to", "1998-06-30")
    assert code == 0 and "largest flows" in out

    code, out = invoke(app, ws, "alerts", "--format", "json")
    assert code == 0 and json.loads(out) == []  # no alerts configured

    code, out = invoke(
        app,
        ws,
        "export",
        "segment",
        "at risk",
        "--out",
        str(tmp_path / "r.csv"),
        "--encoding",
        "cp1251",
    )
    assert code == 0
    exported = pd.read_csv(tmp_path / "r.csv", encoding="cp1251", dtype={"customer_id": str})
    assert len(exported) > 0 and set(exported["segment"]) == {"At Risk"}
    code, _ = invoke(app, ws, "export", "segment", "Champions", "--out", str(tmp_path / "c.xlsx"))
    assert code == 0 and (tmp_path / "c.xlsx").stat().st_size > 0

    customer = str(exported["customer_id"].iloc[0])
    code, out = invoke(app, ws, "history", customer, "--format", "json")
    assert code == 0
    path = json.loads(out)
    assert {p["scheme"] for p in path} == {"rfm", "abc", "named"}


def test_alerts_exit_one_when_one_fires_with_the_numbers_behind(
    app: typer.Typer, ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ruamel.yaml import YAML

    import livebase.cli.transitions as cli_transitions
    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings

    settings = SegmentsSettings.model_validate(YAML(typ="safe").load(ALERTS)["segments"])
    monkeypatch.setattr(
        cli_transitions, "segment_settings", lambda _ws: (FeaturesSettings(), settings, "en")
    )
    code, out = invoke(app, ws, "alerts", "--format", "json")
    results = {r["name"]: r for r in json.loads(out)}
    assert set(results) == {"Champions shrink", "Lost grows"}
    for r in results.values():  # the previous test ran 1998-03-31, 1998-04-30, 1998-05-31, …
        assert (r["before_date"], r["after_date"]) == ("1998-05-31", "1998-06-30")
        assert r["change"] == pytest.approx((r["after"] - r["before"]) / r["before"])
    shrink = results["Champions shrink"]
    assert shrink["fired"] == (shrink["change"] <= -0.05)
    assert results["Lost grows"]["fired"] is False  # +10000 % is out of reach
    assert code == (1 if shrink["fired"] else 0)
    code, out = invoke(app, ws, "alerts")
    assert "Champions shrink" in out and code == (1 if shrink["fired"] else 0)
