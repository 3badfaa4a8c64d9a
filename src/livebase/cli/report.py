"""``livebase report``: the owner's one-page HTML report as of a date."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from livebase.cli._common import console, err_console, workspace
from livebase.errors import SegmentError
from livebase.report import build_report, render_html
from livebase.segments import run_dates, run_segmentation, yaml_lines
from livebase.segments.labels import Language
from livebase.store import Store
from livebase.workspace import Workspace

__all__ = ["register", "write_report"]


def _latest_paid_day(store: Store) -> date | None:
    value = store.fetch_value("SELECT CAST(MAX(paid_at) AS DATE) FROM orders WHERE paid_amount > 0")
    return value if isinstance(value, date) else None


def _missing_runs(store: Store, ws: Workspace, day: date) -> list[str]:
    """The schemes of the config with no run on ``day``."""
    return [n for n in ws.config.segments.schemes if day not in run_dates(store.con, n)]


def write_report(
    ws: Workspace, store: Store, day: date, out: Path, lang: Language
) -> tuple[Path, int]:
    """Build the report of ``day`` from ``store`` (runs exist) and write it; path and bytes."""
    data = build_report(store, ws.config.features, ws.config.segments, day)
    page = render_html(data, lang=lang, currency=ws.config.currency)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = page.encode("utf-8")
    out.write_bytes(raw)
    return out.resolve(), len(raw)


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""

    @app.command()
    def report(
        out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
        as_of: Annotated[
            datetime | None,
            typer.Option(
                "--as-of",
                formats=["%Y-%m-%d"],
                help="Date (default: the latest paid order in the store).",
            ),
        ] = None,
        lang: Annotated[
            str | None,
            typer.Option(help="ru or en (default: the workspace's language in livebase.yaml)."),
        ] = None,
    ) -> None:
        """Write the owner's report: one self-contained HTML page that opens offline.

        Segment sizes and value, the A/B/C grid, KPI tables, transitions and alerts. When the
        date has no segmentation run yet, it is run first (and written to the history).

        Example: livebase report --out base.html --lang ru
        """
        if lang is not None and lang not in ("en", "ru"):
            raise SegmentError(f"--lang: '{lang}' is not one of: en, ru")
        if out.suffix.lower() not in (".html", ".htm"):
            raise SegmentError(f"--out {out}: the report is an HTML page; name it e.g. base.html")
        ws = workspace()
        language: Language = "ru" if (lang or ws.config.language) == "ru" else "en"
        exists = ws.store_path.exists()
        day = as_of.date() if as_of else None
        with ws.open_store(read_only=exists) as store:
            if day is None:
                day = _latest_paid_day(store)
                if day is None:
                    raise SegmentError(
                        "no paid orders in the store yet: load them first "
                        "('livebase ingest orders FILE'), or give --as-of"
                    )
                err_console.print(f"as of {day} (the latest paid order; --as-of to change)")
            missing = _missing_runs(store, ws, day)
            if not missing:
                path, size = write_report(ws, store, day, out, language)
        if missing:
            err_console.print(
                f"no segmentation run as of {day} for {', '.join(missing)}: running it now "
                "(it is kept in the history, as 'livebase segment' would)"
            )
            try:
                lines = yaml_lines(ws.config_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                lines = {}
            with ws.open_store() as store, console.status(f"segmenting as of {day}…"):
                run_segmentation(
                    store,
                    ws.config.features,
                    ws.config.segments,
                    day,
                    ran_at=datetime.now(),
                    lines=lines,
                    collect=False,
                )
                path, size = write_report(ws, store, day, out, language)
        console.print(
            f"wrote the report as of {day} ({language}, {size / 1024:,.0f} KiB) to {path}\n"
            f"open it in a browser: {path.as_uri()}",
            highlight=False,
            soft_wrap=True,
        )
