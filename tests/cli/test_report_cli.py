"""``livebase report`` on a CDNOW workspace (registered on a fresh Typer app, as the main app
will): runs the segmentation when the date has none, writes one self-contained page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from livebase.cli._common import state
from livebase.cli.report import register
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments import run_dates
from livebase.workspace import Workspace, init_workspace


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """livebase (test app)."""

    register(app)
    return app


@pytest.fixture(scope="module")
def ws(cdnow_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report") / "shop"
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
    return result.exit_code, result.output


def runs(ws: Path) -> list[str]:
    with Workspace.load(ws).open_store(read_only=True) as store:
        return [d.isoformat() for d in run_dates(store.con, "named")]


def test_report_runs_the_missing_segmentation_then_reuses_it(
    app: typer.Typer, ws: Path, tmp_path: Path
) -> None:
    out = tmp_path / "base.html"
    code, text = invoke(app, ws, "report", "--out", str(out))
    assert code == 0, text
    assert "as of 1998-06-30 (the latest paid order" in text
    assert "no segmentation run as of 1998-06-30" in text and "running it now" in text
    assert str(out.resolve()) in text and out.resolve().as_uri() in text
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "Champions" in page and "Can&#39;t Lose" in page
    assert runs(ws) == ["1998-06-30"]
    # the run exists now: the second report reads it and runs nothing
    again = tmp_path / "again.html"
    code, text = invoke(app, ws, "report", "--out", str(again), "--as-of", "1998-06-30")
    assert code == 0 and "running it now" not in text
    assert again.read_text(encoding="utf-8") == page
    assert runs(ws) == ["1998-06-30"]


def test_report_in_russian_as_of_an_earlier_date_shows_the_transitions(
    app: typer.Typer, ws: Path, tmp_path: Path
) -> None:
    invoke(app, ws, "report", "--out", str(tmp_path / "first.html"), "--as-of", "1998-06-30")
    out = tmp_path / "ru.html"
    code, text = invoke(
        app, ws, "report", "--out", str(out), "--as-of", "1997-09-30", "--lang", "ru"
    )
    assert code == 0, text
    assert "(ru," in text
    page = out.read_text(encoding="utf-8")
    assert "Чемпионы" in page and "Champions" not in page
    assert "Клиентская база на 1997-09-30" in page
    # the later report now has two runs to compare
    later = tmp_path / "later.html"
    invoke(app, ws, "report", "--out", str(later), "--as-of", "1998-06-30", "--lang", "en")
    assert "Where the customers of each segment on 1997-09-30 were on 1998-06-30" in (
        later.read_text(encoding="utf-8")
    )


def test_report_rejects_an_unknown_language_and_a_non_html_file(
    app: typer.Typer, ws: Path, tmp_path: Path
) -> None:
    from livebase.errors import SegmentError

    with pytest.raises(SegmentError, match="--lang: 'de' is not one of: en, ru"):
        invoke(app, ws, "report", "--out", str(tmp_path / "x.html"), "--lang", "de")
    with pytest.raises(SegmentError, match=r"name it e\.g\. base\.html"):
        invoke(app, ws, "report", "--out", str(tmp_path / "x.pdf"))


def test_report_on_an_empty_store_says_to_load_orders(app: typer.Typer, tmp_path: Path) -> None:
    from livebase.errors import EmptyStoreError

    root = tmp_path / "empty"
    init_workspace(root, template="ecommerce")
    with pytest.raises(EmptyStoreError, match="the store has no paid orders yet"):
        invoke(app, root, "report", "--out", str(tmp_path / "x.html"))
