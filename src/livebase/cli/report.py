"""``livebase report``: the owner's one-page HTML report as of a date.

Thin: ``livebase.report`` makes sure the runs exist, builds and writes; this parses and prints.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from livebase.cli._common import (
    config_lines,
    console,
    date_option,
    err_console,
    language,
    workspace,
)
from livebase.errors import SegmentError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""

    @app.command()
    def report(
        out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
        as_of: Annotated[
            datetime | None, date_option("--as-of", "Date (default: the latest paid order).")
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
        from livebase.features.paid_days import latest_paid_day
        from livebase.report import ensure_runs, missing_runs, write_report

        if lang is not None and lang not in ("en", "ru"):
            raise SegmentError(f"--lang: '{lang}' is not one of: en, ru")
        if out.suffix.lower() not in (".html", ".htm"):
            raise SegmentError(f"--out {out}: the report is an HTML page; name it e.g. base.html")
        ws = workspace()
        chosen = lang or language(ws)
        words: Literal["en", "ru"] = "ru" if chosen == "ru" else "en"
        cfg = ws.config
        day = as_of.date() if as_of else None
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            if day is None:
                day = latest_paid_day(store)  # EmptyStoreError on an empty store
                err_console.print(f"as of {day} (the latest paid order; --as-of to change)")
            missing = missing_runs(store, cfg.segments, day)
            if not missing:
                path, size = write_report(
                    store, cfg.features, cfg.segments, day, out, lang=words, currency=cfg.currency
                )
        if missing:
            err_console.print(
                f"no segmentation run as of {day} for {', '.join(missing)}: running it now "
                "(it is kept in the history, as 'livebase segment' would)"
            )
            with ws.open_store() as store, console.status(f"segmenting as of {day}…"):
                ensure_runs(
                    store,
                    cfg.features,
                    cfg.segments,
                    day,
                    ran_at=datetime.now(),
                    lines=config_lines(ws),
                )
                path, size = write_report(
                    store, cfg.features, cfg.segments, day, out, lang=words, currency=cfg.currency
                )
        console.print(
            f"wrote the report as of {day} ({words}, {size / 1024:,.0f} KiB) to {path}\n"
            f"open it in a browser: {path.as_uri()}",
            highlight=False,
            soft_wrap=True,
        )
