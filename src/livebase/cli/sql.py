"""``livebase sql``: the whole segmentation as commented SQL for a warehouse to schedule."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from livebase.cli._common import date_option, err_console, workspace
from livebase.errors import StoreError

__all__ = ["register"]


def _as_of(given: datetime | None) -> date:
    """``--as-of``, else the latest paid day in the workspace store (none: say so)."""
    from livebase.errors import EmptyStoreError
    from livebase.features.paid_days import latest_paid_day

    if given is not None:
        return given.date()
    ws = workspace()
    try:
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            day = latest_paid_day(store)
    except EmptyStoreError as exc:
        raise StoreError(
            "the store has no paid orders to take the date from: give --as-of DATE "
            "(the SQL computes the features as of that day)"
        ) from exc
    err_console.print(f"as of {day} (the latest paid order; --as-of to change)")
    return day


def register(app: typer.Typer) -> None:
    """Add ``sql`` to ``app``."""

    @app.command("sql")
    def sql_command(
        dialect: Annotated[
            str,
            typer.Option(
                "--dialect",
                "-d",
                help="SQL dialect to print: duckdb, spark, postgres, clickhouse, bigquery, snowflake.",
            ),
        ] = "duckdb",
        as_of: Annotated[
            datetime | None,
            date_option("--as-of", "Date of the features (default: the latest paid order)."),
        ] = None,
        out: Annotated[Path | None, typer.Option(help="Write the SQL to this file.")] = None,
    ) -> None:
        """Print the features, schemes and KPIs of livebase.yaml as SQL for your warehouse.

        The script reads tables orders, customers and events (livebase's columns) and creates
        lb_features, lb_seg_<scheme>, lb_assignments and lb_kpis.

        Example: livebase sql --dialect clickhouse --as-of 2026-06-30 --out segments.sql
        """
        from livebase.features import FeaturesSettings
        from livebase.segments import SegmentsSettings
        from livebase.segments.pipeline import pipeline_script
        from livebase.store.engine import DIALECTS

        if dialect not in DIALECTS:
            raise StoreError(f"--dialect: '{dialect}' is not one of {', '.join(DIALECTS)}")
        ws = workspace()
        features = getattr(ws.config, "features", None) or FeaturesSettings.model_validate({})
        segments = getattr(ws.config, "segments", None) or SegmentsSettings.model_validate({})
        script = pipeline_script(features, segments, _as_of(as_of), dialect)
        if out is None:
            typer.echo(script, nl=False)
        else:
            out.write_text(script, encoding="utf-8")
            err_console.print(f"wrote {out}")
