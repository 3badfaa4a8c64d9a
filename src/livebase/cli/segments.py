"""``livebase segment | transitions | alerts | export segment | history``."""

import io
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import pandas as pd
import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from livebase.cli._common import OutputFormat, console, err_console, print_json, workspace
from livebase.errors import SegmentError
from livebase.features import FeaturesSettings
from livebase.segments import (
    EXPORT_COLUMNS,
    KPI_COLUMNS,
    Every,
    SegmentationRun,
    SegmentsSettings,
    Transitions,
    backfill_dates,
    customer_history,
    evaluate_alerts,
    kpi_labels,
    label,
    resolve_segment,
    run_dates,
    run_segmentation,
    segment_members,
    segment_on_spark,
    segment_order,
    transitions,
    transitions_html,
    transitions_png,
    yaml_lines,
)
from livebase.segments.labels import Language
from livebase.store import Store
from livebase.workspace import Workspace

__all__ = ["kpi_table", "register"]

KpiFormat = Literal["table", "csv", "json", "parquet"]
_PERCENT = {"share", "revenue_share", "repeat_rate", "retention_30", "retention_90"}


def _settings(ws: Workspace) -> tuple[FeaturesSettings, SegmentsSettings, Language]:
    """The features and segments sections of the workspace config (defaults when absent)."""
    features = getattr(ws.config, "features", None) or FeaturesSettings.model_validate({})
    segments = getattr(ws.config, "segments", None) or SegmentsSettings.model_validate({})
    lang: Language = segments.language or ws.config.language
    return features, segments, lang


def _lines(ws: Workspace) -> dict[str, int]:
    try:
        return yaml_lines(ws.config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _default_as_of(store: Store) -> date:
    """The latest paid day in the store, or today's date when nothing is paid yet."""
    value = store.fetch_value("SELECT CAST(MAX(paid_at) AS DATE) FROM orders WHERE paid_amount > 0")
    return value if isinstance(value, date) else date.today()


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if column in _PERCENT:
        return f"{float(value):.1%}"
    if column == "customers":
        return f"{int(value):,}"
    if isinstance(value, float) or hasattr(value, "as_integer_ratio"):
        return f"{float(value):,.2f}".replace(",", " ")
    return str(value)


# the columns that fit an 80-column terminal; the rest show in wide terminals and in files
_MONEY = {"revenue", "avg_ltv", "aov"}
_NARROW_KPIS = ("customers", "share", "revenue", "revenue_share", "avg_ltv", "repeat_rate")


def kpi_table(kpis: pd.DataFrame, scheme: str, lang: Language, as_of: date) -> Table:
    """The KPI table of one scheme, sized for the terminal (shared by segment and demo)."""
    heads = kpi_labels(lang)
    columns = KPI_COLUMNS if console.width >= 150 else _NARROW_KPIS
    caption = None if columns == KPI_COLUMNS else "all KPIs: --format csv|json, or a wider terminal"
    table = Table(
        title=f"{scheme} as of {as_of}",
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column(heads["segment"], no_wrap=True)
    for column in columns:
        # values never wrap (money as one token, percentages fit in 6); headers may
        table.add_column(heads[column], justify="right", no_wrap=column in _MONEY, min_width=6)
    for row in kpis[kpis["scheme"] == scheme].to_dict("records"):
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


def _write_kpis(kpis: pd.DataFrame, fmt: KpiFormat, out: Path | None, as_of: date) -> None:
    frame = kpis.assign(as_of=as_of)
    if fmt == "parquet":
        if out is None:
            raise SegmentError("--format parquet needs --out FILE.parquet")
        frame.to_parquet(out, index=False)
    elif fmt == "csv":
        text = frame.to_csv(index=False)
        if out is None:
            print(text, end="")
        else:
            out.write_text(text, encoding="utf-8")
    else:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        if out is None:
            print_json(records)
        else:
            buffer = io.StringIO()
            frame.to_json(buffer, orient="records", date_format="iso", force_ascii=False, indent=2)
            out.write_text(buffer.getvalue(), encoding="utf-8")
    if out is not None:
        err_console.print(f"wrote {out}")


def _segment_command(
    as_of: date | None,
    start: date | None,
    end: date | None,
    every: Every,
    scheme: str | None,
    fmt: KpiFormat,
    out: Path | None,
    engine: str | None = None,
    spark: dict[str, str] | None = None,
    results: Path | None = None,
) -> None:
    ws = workspace()
    features, segments, lang = _settings(ws)
    settings = ws.config.engine
    if engine is not None or spark:
        settings = settings.model_copy(
            update={**({"kind": engine} if engine else {}), **(spark or {})}
        )
    if scheme is not None and scheme not in segments.schemes:
        raise SegmentError(
            f"--scheme: unknown scheme '{scheme}'; schemes: {', '.join(segments.schemes)}"
        )
    lines = _lines(ws)
    with ws.open_store() as store:
        if start is not None or end is not None:
            if as_of is not None:
                raise SegmentError("give either --as-of or --from/--to, not both")
            last = _default_as_of(store)
            days = backfill_dates(start or last, end or last, every)
            run = None
            with Progress(
                TextColumn("[bold]segmenting[/] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("", total=len(days))
                for day in days:
                    bar.update(task, description=str(day))
                    run = run_segmentation(
                        store,
                        features,
                        segments,
                        day,
                        ran_at=datetime.now(),
                        lines=lines,
                        collect=False,
                        engine=settings,
                    )
                    bar.advance(task)
            assert run is not None
            err_console.print(f"history written for {len(days)} dates, {days[0]} … {days[-1]}")
        else:
            day = as_of or _default_as_of(store)
            if as_of is None:
                err_console.print(f"as of {day} (the latest paid order; --as-of to change)")
            if settings.kind == "spark":
                run = segment_on_spark(
                    settings,
                    features,
                    segments,
                    day,
                    store=store,
                    out=results,
                    ran_at=datetime.now(),
                )
            else:
                run = run_segmentation(
                    store,
                    features,
                    segments,
                    day,
                    ran_at=datetime.now(),
                    lines=lines,
                    collect=False,
                    engine=settings,
                )
    kpis = run.kpis if scheme is None else run.kpis[run.kpis["scheme"] == scheme]
    if fmt != "table":
        _write_kpis(kpis.reset_index(drop=True), fmt, out, run.as_of)
        return
    console.print(f"[bold]{run.customers:,}[/] customers as of [bold]{run.as_of}[/]")
    for name in segments.schemes:
        if scheme is None or name == scheme:
            _print_thresholds(run, name)
            console.print(kpi_table(kpis, name, lang, run.as_of))
            matrix = run.job_matrices.get(name)
            if matrix is not None and not matrix.empty:
                pivot = matrix.pivot_table(
                    index="segment", columns="job", values="customers", aggfunc="sum", fill_value=0
                )
                table = Table(title=f"{name}: customers by segment × job", title_justify="left")
                table.add_column("segment")
                for job in pivot.columns:
                    table.add_column(label(str(job), lang), justify="right")
                for seg, row in pivot.iterrows():
                    table.add_row(label(str(seg), lang), *(f"{int(v):,}" for v in row))
                console.print(table)


def _print_transitions(t: Transitions, lang: Language) -> None:
    counts, shares = t.counts.to_numpy(), t.shares.to_numpy()
    names = [label(str(col), lang) for col in t.counts.columns]
    wide = console.width >= 40 + 9 * len(names)
    # narrow terminals: numbered columns and row shares; the counts follow in the next table
    table = Table(
        title=f"{t.scheme}: {t.start_run} → {t.end_run} "
        + ("(customers; row share)" if wide else "(share of each row; columns numbered as rows)"),
        title_justify="left",
        box=None if not wide else box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("from \\ to", no_wrap=True)
    for j, name in enumerate(names, start=1):
        table.add_column(name if wide else str(j), justify="right", min_width=4, no_wrap=not wide)
    for i, name in enumerate(t.counts.index):
        if wide:
            cells = [
                f"{counts[i, j]:,}\n[dim]{shares[i, j]:.0%}[/]" if counts[i, j] else "·"
                for j in range(counts.shape[1])
            ]
        else:
            cells = [f"{shares[i, j]:.0%}" if counts[i, j] else "·" for j in range(counts.shape[1])]
        row_label = label(str(name), lang)
        table.add_row(row_label if wide else f"{i + 1:>2} {row_label}", *cells)
    console.print(table)
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
    console.print("[bold]largest flows[/]")
    for row in t.flows.to_dict("records"):
        console.print(
            f"  {label(row['from_segment'], lang)} → {label(row['to_segment'], lang)}: "
            f"{row['customers']:,} ({row['share_of_from']:.1%} of the row)"
        )


def register(app: typer.Typer) -> None:
    """Add segment, transitions, alerts, export segment and history to ``app``."""
    fmt_opt = typer.Option("--format", "-f", help="table or json")

    @app.command()
    def segment(
        as_of: Annotated[
            datetime | None,
            typer.Option(
                "--as-of",
                formats=["%Y-%m-%d"],
                help="Date (default: the latest paid order in the store).",
            ),
        ] = None,
        start: Annotated[
            datetime | None,
            typer.Option("--from", formats=["%Y-%m-%d"], help="Backfill history from this date."),
        ] = None,
        end: Annotated[
            datetime | None,
            typer.Option(
                "--to",
                formats=["%Y-%m-%d"],
                help="Backfill up to this date (default: the latest paid order).",
            ),
        ] = None,
        every: Annotated[str, typer.Option(help="Backfill step: day, week or month.")] = "week",
        scheme: Annotated[str | None, typer.Option(help="Show one scheme only.")] = None,
        format: Annotated[
            str, typer.Option("--format", "-f", help="table, csv, json or parquet")
        ] = "table",
        out: Annotated[Path | None, typer.Option(help="Write the KPI table to this file.")] = None,
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
        Example: livebase segment --engine spark --orders-parquet 'lake/orders/*.parquet'
        """
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
        if format not in ("table", "csv", "json", "parquet"):
            raise SegmentError(f"--format: '{format}' is not one of table, csv, json, parquet")
        _segment_command(
            as_of.date() if as_of else None,
            start.date() if start else None,
            end.date() if end else None,
            cast(Every, every),
            scheme,
            cast(KpiFormat, format),
            out,
            engine,
            spark,
            results,
        )

    @app.command("transitions")
    def transitions_command(
        start: Annotated[
            datetime | None,
            typer.Option(
                "--from",
                formats=["%Y-%m-%d"],
                help="Start date (default: the run before the latest).",
            ),
        ] = None,
        end: Annotated[
            datetime | None,
            typer.Option("--to", formats=["%Y-%m-%d"], help="End date (default: latest run)."),
        ] = None,
        scheme: Annotated[str, typer.Option(help="The scheme.")] = "named",
        format: Annotated[OutputFormat, fmt_opt] = "table",
        chart: Annotated[Path | None, typer.Option(help="Write a heatmap: .png or .html.")] = None,
        top: Annotated[int, typer.Option(help="How many of the largest flows to list.")] = 10,
    ) -> None:
        """How customers moved between segments from one date to another.

        Example: livebase transitions --from 2026-03-31 --to 2026-06-30 --scheme named
        """
        ws = workspace()
        _, segments, lang = _settings(ws)
        if scheme not in segments.schemes:
            raise SegmentError(
                f"--scheme: unknown scheme '{scheme}'; schemes: {', '.join(segments.schemes)}"
            )
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
            if chart.suffix.lower() == ".html":
                chart.write_text(transitions_html(result, lang=lang), encoding="utf-8")
            else:
                chart.write_bytes(transitions_png(result, lang=lang))
            err_console.print(f"wrote {chart}")
        if format == "json":
            print_json(result.as_dict())
        else:
            _print_transitions(result, lang)

    @app.command()
    def alerts(
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """Check the alerts of livebase.yaml between each scheme's latest two runs.

        Exits with code 1 when any alert fires (for cron or CI).

        Example: livebase alerts --format json
        """
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
        out: Annotated[Path, typer.Option(help="A .csv or .xlsx file.")],
        scheme: Annotated[str, typer.Option(help="The scheme.")] = "named",
        as_of: Annotated[
            datetime | None,
            typer.Option("--as-of", formats=["%Y-%m-%d"], help="Date (default: latest run)."),
        ] = None,
        encoding: Annotated[str, typer.Option(help="CSV encoding: utf-8 or cp1251.")] = "utf-8",
    ) -> None:
        """Write the customers of one segment with their contact fields (CSV or XLSX).

        Example: livebase export segment "At Risk" --out at_risk.csv --encoding cp1251
        """
        if encoding.lower().replace("-", "").replace("_", "") not in (
            "utf8",
            "cp1251",
            "windows1251",
        ):
            raise SegmentError(f"--encoding: '{encoding}' is not one of utf-8, cp1251")
        ws = workspace()
        features, _, lang = _settings(ws)
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
        if out.suffix.lower() == ".xlsx":
            members.to_excel(out, index=False, sheet_name=segment[:31])
        else:
            codec = "utf-8" if encoding.lower().startswith("utf") else "cp1251"
            out.write_bytes(members.to_csv(index=False).encode(codec, errors="replace"))
        console.print(f"wrote {len(members):,} customers of '{label(segment, lang)}' to {out}")

    @app.command()
    def history(
        customer: Annotated[str, typer.Argument(help="The customer id.")],
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """One customer's path through the segments of every scheme.

        Example: livebase history 00042
        """
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
        table = Table(title=f"customer {customer}", title_justify="left")
        for col in ("scheme", "segment", "from", "to", "scores"):
            table.add_column(col)
        for r in records:
            table.add_row(
                r["scheme"],
                label(str(r["segment"]), lang),
                str(r["valid_from"]),
                "now" if r["valid_to"] is None else str(r["valid_to"]),
                str(r["scores"] or ""),
            )
        console.print(table)
