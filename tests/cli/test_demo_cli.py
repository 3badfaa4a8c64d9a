"""``livebase demo`` end to end in a temporary folder: generated, loaded, segmented as of
month-ends, KPI table and transition matrix printed, report written, paths shown."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from livebase.cli.demo import month_ends, register
from livebase.errors import WorkspaceError
from livebase.segments import run_dates
from livebase.workspace import Workspace


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """livebase (test app)."""

    register(app)
    return app


def test_demo_segments_six_month_ends_and_writes_the_report(
    app: typer.Typer, tmp_path: Path
) -> None:
    out = tmp_path / "school"
    started = time.perf_counter()
    result = CliRunner().invoke(
        app,
        ["demo", "--out", str(out), "--customers", "300", "--weeks", "0"],
        env={"COLUMNS": "200"},
    )
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    text = result.output
    days = [d.isoformat() for d in month_ends(date(2026, 6, 30), 6)]
    assert days == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
        "2026-06-30",
    ]
    with Workspace.load(out).open_store(read_only=True) as store:
        assert [d.isoformat() for d in run_dates(store.con, "named")] == days
    # the named map's KPI table (the school template is in Russian) and the matrix
    assert "named as of 2026-06-30" in text and "Чемпионы" in text
    assert "named: customers of 2026-05-31 (rows) on 2026-06-30 (columns)" in text
    assert "largest moves" in text
    report = out / "report.html"
    assert report.exists()
    page = report.read_text(encoding="utf-8")
    assert "Клиентская база на 2026-06-30" in page and "<script" not in page
    for line in ("exports", "config", "store", "report"):
        assert re.search(rf"^\s+{line}\s+\S", text, re.M), line
    assert str(report.resolve()) in text
    assert elapsed < 60


def test_demo_refuses_a_folder_it_did_not_create(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code != 0 and isinstance(result.exception, WorkspaceError)
    assert "is not a livebase demo" in str(result.exception)
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"
