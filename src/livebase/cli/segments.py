"""``livebase segment [members] | transitions | alerts | export segment | history``.

Thin: each command parses, calls one function of ``livebase.segments``, prints. The heavy
modules (DuckDB, pandas) are imported inside the commands, so ``livebase --help`` stays fast.
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
    language,
    print_json,
    workspace,
)
from livebase.errors import SegmentError

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentationRun, SegmentsSettings, Transitions
    from livebase.segments.labels import Language
    from livebase.workspace import Workspace

__all__ = ["kpi_table", "register"]

_PERCENT = {"share", "revenue_share", "repeat_rate", "retention_30", "retention_90"}
_KPI_FORMATS = ("table", "csv", "json", "parquet", "xlsx")
_FMT_OPT = typer.Option("--format", "-f", help="table or json")
_LONG_SCHEME = 12
"""A scheme with more segments than this (77 RFM cells) shows its largest ones unless --all."""


def _settings(ws: Workspace) -> tuple[FeaturesSettings, SegmentsSettings, Language]:
    """The features and segments sections of the workspace config (defaults when absent)."""
    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings

    features = getattr(ws.config, "features", None) or FeaturesSettings.model_validate({})
    segments = getattr(ws.config, "segments", None) or SegmentsSettings.model_validate({})
    return features, segments, language(ws)


def _check_scheme(scheme: str | None, segments: SegmentsSettings) -> None:
    from livebase.errors import did_you_mean

    if scheme is not None and scheme not in segments.schemes:
        names = list(segments.schemes)
        raise SegmentError(
            f"--scheme: unknown scheme '{scheme}'{did_you_mean(scheme, names)}; "
            f"schemes: {', '.join(names)}"
        )


def _cell(column: str, value: Any) -> str:
    import pandas as pd

    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if column in _PERCENT:
        return f"{float(value):.1%}"
    if column == "customers":
        return f"{int(value):,}".replace(",", "\u00a0")
    if isinstance(value, float) or hasattr(value, "as_integer_ratio"):
        return f"{float(value):,.2f}".replace(",", "\u00a0")
    return str(value)


# the columns that fit an 80-column terminal; the rest show with --wide and in files
_MONEY = {"revenue", "avg_ltv", "aov"}
_NARROW_KPIS = ("customers", "share", "revenue", "avg_ltv", "repeat_rate")


def kpi_table(
    kpis: pd.DataFrame,
    scheme: str,
    lang: Language,
    as_of: date,
    *,
    wide: bool = False,
    limit: int | None = None,
) -> Table:
    """The KPI table of one scheme, sized for the terminal (shared by segment and demo).

    At 80 columns the key numbers stay whole: secondary columns are dropped and the caption
    says which (``wide`` keeps them all); ``limit`` shows the largest segments only.
    """
    import pandas as pd
    from rich import box
    from rich.table import Table

    from livebase.segments import KPI_COLUMNS, kpi_labels, label

    heads = kpi_labels(lang)
    columns = KPI_COLUMNS if wide or console.width >= 150 else _NARROW_KPIS
    notes: list[str] = []
    if columns != KPI_COLUMNS:
        dropped = [heads[c] for c in KPI_COLUMNS if c not in columns]
        notes.append(f"not shown: {', '.join(dropped)} (--wide, or --format csv|json)")
    rows = kpis[kpis["scheme"] == scheme]
    if limit is not None and len(rows) > limit:
        notes.append(f"the {limit} largest of {len(rows)} segments (--all for every one)")
        rows = rows.sort_values("customers", ascending=False).head(limit)
    table = Table(
        title=f"{scheme} as of {as_of}",
        title_justify="left",
        caption="\n".join(notes) or None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column(heads["segment"], overflow="fold")
    for column in columns:
        # numbers never wrap nor get cut: the segment column folds instead
        table.add_column(heads[column], justify="right", no_wrap=True, overflow="ignore")
    for row in rows.to_dict("records"):
        cells = [
            # money is exact in files; whole units (non-breaking groups) read better here
            f"{row[c]:,.0f}".replace(",", "\u00a0")
            if c in _MONEY and pd.notna(row[c])
            else _cell(c, row[c])
            for c in columns
        ]
        table.add_row(label(str(row["segment"]), lang), *cells)
    return table


def _print_thresholds(run: SegmentationRun, scheme: str) -> None:
    from rich.table import Table

    rows = run.thresholds[run.thresholds["scheme"] == scheme] if len(run.thresholds) else None
    if rows is None or rows.empty:
        return
    table = Table(
        title=f"{scheme}: score thresholds (ties share the lower score)", title_justify="left"
    )
    for column in ("dimension", "score", "customers", "from", "to"):
        table.add_column(column, justify="left" if column == "dimension" else "right")
    for row in rows.to_dict("records"):
        table.add_row(
            f"{row['dimension']} ({row['feature']})",
            str(row["score"]),
            f"{row['customers']:,}",
            f"{row['min_value']:g}",
            f"{row['max_value']:g}",
        )
    console.print(table)


def _write_kpis(kpis: pd.DataFrame, fmt: str, out: Path | None, as_of: date, lang: str) -> None:
    from livebase.cli._output import STDOUT, csv_style, write_frame

    frame = kpis.assign(as_of=as_of)
    target = out if out is not None else STDOUT
    for warning in write_frame(frame, target, fmt, csv_style(lang), sheet="kpis"):
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if out is not None and str(out) != "-":
        err_console.print(f"wrote {out}", highlight=False)


def _print_run(
    run: SegmentationRun,
    segments: SegmentsSettings,
    scheme: str | None,
    lang: Language,
    *,
    wide: bool,
    show_all: bool,
) -> None:
    from rich.table import Table

    from livebase.segments import label

    console.print(f"[bold]{run.customers:,}[/] customers as of [bold]{run.as_of}[/]")
    kpis = run.kpis
    for name in segments.schemes:
        if scheme is not None and name != scheme:
            continue
        if show_all:
            _print_thresholds(run, name)
        limit = None if show_all else _LONG_SCHEME
        console.print(kpi_table(kpis, name, lang, run.as_of, wide=wide, limit=limit))
        matrix = run.job_matrices.get(name)
        if matrix is not None and not matrix.empty:
            pivot = matrix.pivot_table(
                index="segment", columns="job", values="customers", aggfunc="sum", fill_value=0
            )
            table = Table(title=f"{name}: customers by segment × job", title_justify="left")
            table.add_column("segment", overflow="fold")
            for job in pivot.columns:
                table.add_column(label(str(job), lang), justify="right", no_wrap=True)
            for seg, row in pivot.iterrows():
                table.add_row(label(str(seg), lang), *(f"{int(v):,}" for v in row))
            console.print(table)


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
    from livebase.jobs import batch_job
    from livebase.segments.workflow import plan_segmentation, publish_if_latest, run_plan

    chosen = output_format(out, fmt, _KPI_FORMATS[1:]) if out is not None else fmt or "table"
    ws = workspace()
    features, segments, lang = _settings(ws)
    settings = ws.config.engine
    if engine is not None or spark:
        settings = settings.model_copy(
            update={**({"kind": engine} if engine else {}), **(spark or {})}
        )
    _check_scheme(scheme, segments)
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
    _print_run(run, segments, scheme, lang, wide=wide, show_all=show_all)


def _print_transitions(t: Transitions, lang: Language, *, wide: bool) -> None:
    from rich import box
    from rich.table import Table

    from livebase.segments import label

    counts, shares = t.counts.to_numpy(), t.shares.to_numpy()
    names = [label(str(col), lang) for col in t.counts.columns]
    roomy = wide or console.width >= 40 + 9 * len(names)
    # narrow terminals: numbered columns and row shares; every column is kept
    table = Table(
        title=f"{t.scheme}: {t.start_run} → {t.end_run} "
        + ("(customers; row share)" if roomy else "(share of each row; columns numbered as rows)"),
        title_justify="left",
        box=None if not roomy else box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("from \\ to", overflow="fold")
    for j, name in enumerate(names, start=1):
        table.add_column(
            name if roomy else str(j), justify="right", no_wrap=True, overflow="ignore"
        )
    for i, name in enumerate(t.counts.index):
        if roomy:
            cells = [
                f"{counts[i, j]:,}\n[dim]{shares[i, j]:.0%}[/]" if counts[i, j] else "·"
                for j in range(counts.shape[1])
            ]
        else:
            cells = [f"{shares[i, j]:.0%}" if counts[i, j] else "·" for j in range(counts.shape[1])]
        row_label = label(str(name), lang)
        table.add_row(row_label if roomy else f"{i + 1:>2} {row_label}", *cells)
    console.print(table)
    if not roomy:
        legend = ", ".join(f"{j} {n}" for j, n in enumerate(names, start=1))
        console.print(f"[dim]columns: {legend} (--wide for names and counts)[/]")
    movement = Table(title="entries and exits", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("segment", "at_start", "at_end", "stayed", "entries", "exits", "net"):
        movement.add_column(col, justify="left" if col == "segment" else "right")
    for row in t.movement.to_dict("records"):
        movement.add_row(
            label(row["segment"], lang),
            *(
                f"{row[c]:+,}" if c == "net" else f"{row[c]:,}"
                for c in ("at_start", "at_end", "stayed", "entries", "exits", "net")
            ),
        )
    console.print(movement)
    if t.flows.empty:
        console.print("[bold]no customer moved between segments[/]")
        return
    console.print("[bold]largest flows[/]")
    for row in t.flows.to_dict("records"):
        console.print(
            f"  {label(row['from_segment'], lang)} → {label(row['to_segment'], lang)}: "
            f"{row['customers']:,} ({row['share_of_from']:.1%} of the row)"
        )


def _members_command(name: str, scheme: str, as_of: date | None, limit: int, fmt: str) -> None:
    from rich import box
    from rich.table import Table

    from livebase.segments import label, resolve_segment, run_dates, segment_members

    ws = workspace()
    features, segments, lang = _settings(ws)
    _check_scheme(scheme, segments)
    with ws.open_store(read_only=ws.store_path.exists()) as store:
        runs = run_dates(store.con, scheme)
        if not runs:
            raise SegmentError(f"scheme '{scheme}' was never run: run 'livebase segment'")
        segment = resolve_segment(store.con, scheme, name, lang)
        members = segment_members(store.con, features, scheme, segment, as_of or runs[-1])
    if fmt == "json":
        print_json(members.astype(object).where(members.notna(), None).to_dict("records"))
        return
    shown = members.sort_values("ltv", ascending=False).head(limit) if limit else members
    table = Table(
        title=f"{scheme}: {label(segment, lang)} — {len(members):,} customers",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption=None
        if len(shown) == len(members)
        else f"the {len(shown)} of highest LTV (--limit 0 for all; 'livebase export segment' "
        "writes a file)",
        caption_justify="left",
    )
    table.add_column("customer", no_wrap=True)
    table.add_column("name", overflow="ellipsis", max_width=24)
    for head in ("recency", "orders", "LTV"):
        table.add_column(head, justify="right", no_wrap=True)
    for r in shown.to_dict("records"):
        table.add_row(
            str(r["customer_id"]),
            str(r.get("name") or r.get("email") or "—"),
            _cell("x", r.get("recency_days")).removesuffix(".00"),
            _cell("x", r.get("frequency")).removesuffix(".00"),
            f"{float(r['ltv'] or 0):,.0f}".replace(",", "\u00a0"),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add segment (and segment members), transitions, alerts, export segment and history."""
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
            raise SegmentError(f"--engine: '{engine}' is not one of duckdb, spark")
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
            raise SegmentError(f"--every: '{every}' is not one of day, week, month")
        if format is not None and format not in _KPI_FORMATS:
            raise SegmentError(f"--format: '{format}' is not one of {', '.join(_KPI_FORMATS)}")
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
        format: Annotated[OutputFormat, _FMT_OPT] = "table",
    ) -> None:
        """The customers of one segment, highest lifetime value first.

        Example: livebase segment members "At Risk" --limit 50
        """
        _members_command(name, scheme, as_of.date() if as_of else None, limit, format)

    @app.command("transitions")
    def transitions_command(
        start: Annotated[
            datetime | None,
            date_option("--from", "Start date (default: the run before the latest)."),
        ] = None,
        end: Annotated[
            datetime | None, date_option("--to", "End date (default: the latest run).")
        ] = None,
        scheme: Annotated[str, typer.Option(help="The scheme.")] = "named",
        format: Annotated[OutputFormat, _FMT_OPT] = "table",
        chart: Annotated[
            Path | None, typer.Option(help="Write a heatmap: a .png or .html file.")
        ] = None,
        top: Annotated[int, typer.Option(help="How many of the largest flows to list.")] = 10,
        wide: Annotated[bool, typer.Option("--wide", help="Names and counts in columns.")] = False,
    ) -> None:
        """How customers moved between segments from one date to another.

        Example: livebase transitions --from 2026-03-31 --to 2026-06-30 --scheme named
        """
        from livebase.cli._output import output_format, write_bytes
        from livebase.segments import (
            run_dates,
            segment_order,
            transitions,
            transitions_html,
            transitions_png,
        )

        kind = output_format(chart, None, ("png", "html")) if chart is not None else None
        ws = workspace()
        _, segments, lang = _settings(ws)
        _check_scheme(scheme, segments)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            runs = run_dates(store.con, scheme)
            if len(runs) < 1:
                raise SegmentError(f"scheme '{scheme}' was never run: run 'livebase segment'")
            d2 = end.date() if end else runs[-1]
            d1 = start.date() if start else (runs[-2] if len(runs) > 1 else runs[-1])
            result = transitions(
                store.con, scheme, d1, d2, order=segment_order(segments.schemes[scheme]), top=top
            )
        if chart is not None:
            raw = (
                transitions_html(result, lang=lang).encode("utf-8")
                if kind == "html"
                else transitions_png(result, lang=lang)
            )
            write_bytes(chart, raw)
            err_console.print(f"wrote {chart}", highlight=False)
        if format == "json":
            print_json(result.as_dict())
        elif chart is None or str(chart) != "-":
            _print_transitions(result, lang, wide=wide)

    @app.command()
    def alerts(
        format: Annotated[OutputFormat, _FMT_OPT] = "table",
    ) -> None:
        """Check the alerts of livebase.yaml between each scheme's latest two runs.

        Exits with code 1 when any alert fires (for cron or CI).

        Example: livebase alerts --format json
        """
        from livebase.segments import evaluate_alerts, label

        ws = workspace()
        _, segments, lang = _settings(ws)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            results = evaluate_alerts(store.con, segments)
        fired = [r for r in results if r.fired]
        if format == "json":
            print_json([r.as_dict() for r in results])
        elif not results:
            console.print("No alerts configured: add 'alerts:' under 'segments:' in livebase.yaml.")
        else:
            # one line per alert: readable in any terminal width, and in a cron mail
            for r in results:
                status = "[red bold]FIRED[/]" if r.fired else ("ok   " if not r.reason else "n/a  ")
                numbers = (
                    f"{r.metric} {_cell('x', r.before)} ({r.before_date}) → "
                    f"{_cell('x', r.after)} ({r.after_date}), change {_cell('x', r.change)}, "
                    f"threshold {r.threshold:g}"
                )
                console.print(
                    f"{status} [bold]{r.name}[/] — {r.scheme}: {label(r.segment, lang)}: {numbers}"
                    + (f" ({r.reason})" if r.reason else ""),
                    highlight=False,
                )
        if fired:
            raise typer.Exit(1)

    export_app = typer.Typer(help="Export customers for manual playbooks.", no_args_is_help=True)
    app.add_typer(export_app, name="export")

    @export_app.command("segment")
    def export_segment(
        name: Annotated[str, typer.Argument(help="The segment, e.g. 'At Risk' (or its label).")],
        out: Annotated[
            Path, typer.Option(help="A .csv, .xlsx, .json or .parquet file (- = CSV on stdout).")
        ],
        scheme: Annotated[str, typer.Option(help="The scheme.")] = "named",
        as_of: Annotated[
            datetime | None, date_option("--as-of", "Date (default: the latest run).")
        ] = None,
        encoding: Annotated[
            str | None,
            typer.Option(
                help="CSV encoding: utf-8 or cp1251 (default: UTF-8; with a BOM and ';' in a "
                "Russian workspace, for Excel)."
            ),
        ] = None,
    ) -> None:
        """Write the customers of one segment with their contact fields.

        Example: livebase export segment "At Risk" --out at_risk.csv --encoding cp1251
        """
        from livebase.cli._output import csv_style, output_format, write_frame
        from livebase.segments import (
            EXPORT_COLUMNS,
            label,
            resolve_segment,
            run_dates,
            segment_members,
        )

        fmt = output_format(out, None, ("csv", "xlsx", "json", "parquet"))
        ws = workspace()
        features, _, lang = _settings(ws)
        style = csv_style(lang, encoding)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            runs = run_dates(store.con, scheme)
            if not runs:
                raise SegmentError(f"scheme '{scheme}' was never run: run 'livebase segment'")
            segment = resolve_segment(store.con, scheme, name, lang)
            members = segment_members(
                store.con, features, scheme, segment, as_of.date() if as_of else runs[-1]
            )
        members = members[list(EXPORT_COLUMNS)].assign(
            segment=members["segment"].map(lambda s: label(str(s), lang))
        )
        for warning in write_frame(members, out, fmt, style, sheet=segment):
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        err_console.print(
            f"wrote {len(members):,} customers of '{label(segment, lang)}' to {out}",
            highlight=False,
        )

    @app.command()
    def history(
        customer: Annotated[str, typer.Argument(help="The customer id.")],
        format: Annotated[OutputFormat, _FMT_OPT] = "table",
    ) -> None:
        """One customer's path through the segments of every scheme.

        Example: livebase history 00042
        """
        from livebase.segments import customer_history

        ws = workspace()
        _, _, lang = _settings(ws)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            rows = customer_history(store.con, customer)
        if rows.empty:
            raise SegmentError(f"customer '{customer}' has no segment history")
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        if format == "json":
            print_json(records)
            return
        console.print(history_table(records, lang, title=f"customer {customer}"))


def scores_text(scores: Any) -> str:
    """Scores as ``R 5 · F 4 · M 5`` instead of raw JSON."""
    import json

    if scores is None or scores == "":
        return ""
    value = json.loads(scores) if isinstance(scores, str) else scores
    if isinstance(value, dict):
        return " · ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def history_table(records: list[dict[Any, Any]], lang: Language, *, title: str) -> Table:
    """A customer's SCD2 rows as a table that fits 80 columns (shared with ``customer``)."""
    from rich import box
    from rich.table import Table

    from livebase.segments import label

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("scheme", no_wrap=True)
    table.add_column("segment", overflow="fold")
    table.add_column("from", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("scores", overflow="fold")
    for r in records:
        table.add_row(
            str(r["scheme"]),
            label(str(r["segment"]), lang),
            str(r["valid_from"])[:10],
            "now" if r["valid_to"] is None else str(r["valid_to"])[:10],
            scores_text(r.get("scores")),
        )
    return table
