"""``livebase segment`` and ``livebase segment members``.

Thin: each command parses, calls one function of ``livebase.segments``, prints. The heavy
modules (DuckDB, pandas) are imported inside the commands, so ``livebase --help`` stays fast.
Transitions and alerts are in ``cli/transitions.py``, exports and history in
``cli/segment_exports.py``, the tables in ``cli/segment_tables.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from livebase.cli._common import (
    OutputFormat,
    config_lines,
    console,
    date_option,
    err_console,
    print_json,
    segment_settings,
    workspace,
)
from livebase.cli.segment_tables import kpi_table
from livebase.errors import SegmentError
from livebase.i18n import _l

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMAT_OPTION", "kpi_table", "register"]

_KPI_FORMATS = ("table", "csv", "json", "parquet", "xlsx")
FORMAT_OPTION = typer.Option("--format", "-f", help="table or json")
"""The --format option of the commands that print a table or JSON."""


def _write_kpis(kpis: pd.DataFrame, fmt: str, out: Path | None, as_of: date, lang: str) -> None:
    from livebase.cli._output import STDOUT, csv_style, write_frame

    frame = kpis.assign(as_of=as_of)
    target = out if out is not None else STDOUT
    for warning in write_frame(frame, target, fmt, csv_style(lang), sheet="kpis"):
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if out is not None and str(out) != "-":
        err_console.print(f"wrote {out}", highlight=False)


def _segment_command(
    *,
    as_of: date | None,
    start: date | None,
    end: date | None,
    every: str,
    scheme: str | None,
    fmt: str | None,
    out: Path | None,
    engine: str | None,
    spark: dict[str, str],
    results: Path | None,
    force: bool,
    wide: bool,
    show_all: bool,
) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from livebase.cli._output import output_format
    from livebase.cli.segment_tables import print_run
    from livebase.jobs import batch_job
    from livebase.segments.workflow import (
        check_scheme,
        plan_segmentation,
        publish_if_latest,
        run_plan,
    )

    chosen = output_format(out, fmt, _KPI_FORMATS[1:]) if out is not None else fmt or "table"
    ws = workspace()
    features, segments, lang = segment_settings(ws)
    settings = ws.config.engine
    if engine is not None or spark:
        settings = settings.model_copy(
            update={**({"kind": engine} if engine else {}), **(spark or {})}
        )
    check_scheme(scheme, segments)
    lines = config_lines(ws)
    with batch_job(ws, command="livebase segment", now=datetime.now(UTC)) as job:
        store = job.store
        plan = plan_segmentation(
            store,
            as_of=as_of,
            start=start,
            end=end,
            every=cast(Any, every),
            force=force,
            spark=settings.kind == "spark",
        )
        if plan.defaulted and plan.days:
            err_console.print(
                f"as of {plan.days[0]} (the day of the latest paid order; --as-of to change)",
                highlight=False,
            )
        with Progress(
            TextColumn("[bold]segmenting[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
            disable=not plan.backfill,
        ) as bar:
            task = bar.add_task("", total=len(plan.days))

            def step(day: date) -> None:
                bar.update(task, description=str(day), completed=plan.days.index(day))

            run = run_plan(
                store,
                features,
                segments,
                plan,
                ran_at=datetime.now,
                engine=settings,
                lines=lines,
                results=results,
                on_day=step,
            )
        published = publish_if_latest(
            store,
            job.ops,
            features,
            segments,
            run,
            timezone=ws.config.timezone,
            now=datetime.now(UTC),
        )
    if published is not None:
        err_console.print(
            f"live status of {published.customers:,} customers updated "
            f"(thresholds {published.thresholds_version})",
            highlight=False,
        )
    if plan.backfill:
        err_console.print(
            f"history written for {len(plan.days)} dates, {plan.days[0]} … {plan.days[-1]}"
        )
    kpis = run.kpis if scheme is None else run.kpis[run.kpis["scheme"] == scheme]
    if chosen != "table":
        _write_kpis(kpis.reset_index(drop=True), chosen, out, run.as_of, lang)
        return
    print_run(run, segments, scheme, lang, wide=wide, show_all=show_all)


def _members_command(name: str, scheme: str, as_of: date | None, limit: int, fmt: str) -> None:
    from livebase.cli.segment_tables import members_table
    from livebase.segments.export import members_of
    from livebase.segments.workflow import check_scheme

    ws = workspace()
    features, segments, lang = segment_settings(ws)
    check_scheme(scheme, segments)
    with ws.open_store(read_only=ws.store_path.exists()) as store:
        segment, members = members_of(store.con, features, scheme, name, lang, as_of)
    if fmt == "json":
        print_json(members.astype(object).where(members.notna(), None).to_dict("records"))
        return
    console.print(members_table(members, scheme, segment, lang, limit))


def register(app: typer.Typer) -> None:
    """Add ``segment`` and ``segment members``."""
    segment_app = typer.Typer(
        help="Segment the base, or list a segment's members.",
        invoke_without_command=True,
    )
    app.add_typer(segment_app, name="segment")

    @segment_app.callback(invoke_without_command=True)
    def segment(
        ctx: typer.Context,
        as_of: Annotated[
            datetime | None, date_option("--as-of", "Date (default: the latest paid order).")
        ] = None,
        start: Annotated[
            datetime | None, date_option("--from", "Backfill history from this date.")
        ] = None,
        end: Annotated[
            datetime | None,
            date_option("--to", "Backfill up to this date (default: the latest paid order)."),
        ] = None,
        every: Annotated[str, typer.Option(help="Backfill step: day, week or month.")] = "week",
        scheme: Annotated[str | None, typer.Option(help="Show one scheme only.")] = None,
        format: Annotated[
            str | None,
            typer.Option(
                "--format", "-f", help="table, csv, json, parquet or xlsx (default: from --out)."
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                help="Write the KPI table to this file (.csv .json .parquet .xlsx; - = stdout)."
            ),
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="Run a date outside the paid orders' range.")
        ] = False,
        wide: Annotated[bool, typer.Option("--wide", help="Every KPI column.")] = False,
        show_all: Annotated[
            bool, typer.Option("--all", help="Every segment and the score thresholds.")
        ] = False,
        engine: Annotated[
            str | None, typer.Option(help="duckdb (default) or spark (default: engine.kind).")
        ] = None,
        orders_parquet: Annotated[
            str | None, typer.Option(help="Spark: orders as Parquet files (path or glob).")
        ] = None,
        orders_table: Annotated[
            str | None, typer.Option(help="Spark: orders as a table of the Spark catalog.")
        ] = None,
        spark_master: Annotated[
            str | None, typer.Option(help="Spark: master URL (default local[*]).")
        ] = None,
        results: Annotated[
            Path | None, typer.Option(help="Spark: also write the results as Parquet here.")
        ] = None,
    ) -> None:
        """Segment the base as of a date (every scheme), write history, print KPIs per segment.

        Example: livebase segment --from 2026-01-01 --to 2026-06-30 --every week
        Example: livebase segment --out kpi.csv
        Example: livebase segment members "At Risk"
        """
        if ctx.invoked_subcommand is not None:
            return
        if engine is not None and engine not in ("duckdb", "spark"):
            raise SegmentError(
                _l("--engine: '{engine}' is not one of duckdb, spark", engine=engine)
            )
        spark = {
            k: v
            for k, v in {
                "orders_parquet": orders_parquet,
                "orders_table": orders_table,
                "spark_master": spark_master,
            }.items()
            if v
        }
        if every not in ("day", "week", "month"):
            raise SegmentError(_l("--every: '{every}' is not one of day, week, month", every=every))
        if format is not None and format not in _KPI_FORMATS:
            raise SegmentError(
                _l(
                    "--format: '{format}' is not one of {formats}",
                    format=format,
                    formats=", ".join(_KPI_FORMATS),
                )
            )
        _segment_command(
            as_of=as_of.date() if as_of else None,
            start=start.date() if start else None,
            end=end.date() if end else None,
            every=every,
            scheme=scheme,
            fmt=format,
            out=out,
            engine=engine,
            spark=spark,
            results=results,
            force=force,
            wide=wide,
            show_all=show_all,
        )

    @segment_app.command("members")
    def members(
        name: Annotated[str, typer.Argument(help="The segment, e.g. 'At Risk' (or its label).")],
        scheme: Annotated[str, typer.Option(help="The scheme.")] = "named",
        as_of: Annotated[
            datetime | None, date_option("--as-of", "Date (default: the latest run).")
        ] = None,
        limit: Annotated[
            int, typer.Option(help="How many to list, highest LTV first (0 = all).")
        ] = 20,
        format: Annotated[OutputFormat, FORMAT_OPTION] = "table",
    ) -> None:
        """The customers of one segment, highest lifetime value first.

        Example: livebase segment members "At Risk" --limit 50
        """
        _members_command(name, scheme, as_of.date() if as_of else None, limit, format)
