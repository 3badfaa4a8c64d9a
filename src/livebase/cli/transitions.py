"""``livebase transitions`` and ``livebase alerts``: how customers moved between runs.

Thin: each command parses, calls one function of ``livebase.segments``, prints.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from livebase.cli._common import (
    OutputFormat,
    console,
    date_option,
    err_console,
    print_json,
    segment_settings,
    workspace,
)
from livebase.cli.segment_tables import cell
from livebase.cli.segments import FORMAT_OPTION

if TYPE_CHECKING:
    from livebase.segments import Transitions
    from livebase.segments.labels import Language

__all__ = ["register"]


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


def register(app: typer.Typer) -> None:
    """Add ``transitions`` and ``alerts``."""

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
        format: Annotated[OutputFormat, FORMAT_OPTION] = "table",
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
        from livebase.segments import segment_order, transitions_html, transitions_png
        from livebase.segments.transitions import transitions_between_runs
        from livebase.segments.workflow import check_scheme

        kind = output_format(chart, None, ("png", "html")) if chart is not None else None
        ws = workspace()
        _, segments, lang = segment_settings(ws)
        check_scheme(scheme, segments)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            result = transitions_between_runs(
                store.con,
                scheme,
                start.date() if start else None,
                end.date() if end else None,
                order=segment_order(segments.schemes[scheme]),
                top=top,
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
        format: Annotated[OutputFormat, FORMAT_OPTION] = "table",
    ) -> None:
        """Check the alerts of livebase.yaml between each scheme's latest two runs.

        Exits with code 1 when any alert fires (for cron or CI).

        Example: livebase alerts --format json
        """
        from livebase.segments import evaluate_alerts, label

        ws = workspace()
        _, segments, lang = segment_settings(ws)
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
                    f"{r.metric} {cell('x', r.before)} ({r.before_date}) → "
                    f"{cell('x', r.after)} ({r.after_date}), change {cell('x', r.change)}, "
                    f"threshold {r.threshold:g}"
                )
                console.print(
                    f"{status} [bold]{r.name}[/] — {r.scheme}: {label(r.segment, lang)}: {numbers}"
                    + (f" ({r.reason})" if r.reason else ""),
                    highlight=False,
                )
        if fired:
            raise typer.Exit(1)
