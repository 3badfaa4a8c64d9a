"""``livebase demo``: a synthetic online school, exported, ingested, segmented, reported."""

from __future__ import annotations

import shutil
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from livebase.cli._common import console, date_option, table_or_lines
from livebase.errors import WorkspaceError

if TYPE_CHECKING:
    from livebase.segments import SegmentationRun, Transitions
    from livebase.segments.labels import Language
    from livebase.store import Store
    from livebase.workspace import Workspace

__all__ = ["month_ends", "register"]

_MARKER = ".livebase-demo"
REPORT_FILE = "report.html"


def month_ends(as_of: date, count: int) -> list[date]:
    """The ``count - 1`` month-ends before ``as_of``, then ``as_of`` itself (oldest first).

    >>> [d.isoformat() for d in month_ends(date(2026, 6, 30), 3)]
    ['2026-04-30', '2026-05-31', '2026-06-30']
    >>> [d.isoformat() for d in month_ends(date(2026, 6, 15), 3)]
    ['2026-04-30', '2026-05-31', '2026-06-15']
    """
    days = [as_of]
    day = as_of.replace(day=1) - timedelta(days=1)  # the last day of the previous month
    while len(days) < count:
        days.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return sorted(days)


def _segment_history(workspace: Workspace, store: Store, days: list[date]) -> SegmentationRun:
    """Run every scheme as of each day (a progress bar); the last run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from livebase.segments import run_segmentation

    cfg = workspace.config
    run: SegmentationRun | None = None
    with Progress(
        TextColumn("[bold]segmenting[/] as of {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=len(days))
        for day in days:
            bar.update(task, description=day.isoformat())
            run = run_segmentation(
                store, cfg.features, cfg.segments, day, ran_at=datetime.now(), collect=False
            )
            bar.advance(task)
    assert run is not None
    return run


def _print_matrix(t: Transitions, lang: Language) -> None:
    """The transition matrix, compact: numbered segments, counts only, then the largest moves.

    ``livebase transitions`` prints the full view (row shares, entries and exits).
    """
    from rich import box
    from rich.table import Table

    from livebase.segments import GONE, NEW, label

    body = [str(s) for s in t.counts.columns if s not in (NEW, GONE)]
    number = {s: str(i + 1) for i, s in enumerate(body)}
    number[NEW], number[GONE] = "+", "−"
    table = Table(
        title=f"{t.scheme}: customers of {t.start_run} (rows) on {t.end_run} (columns)",
        title_justify="left",
        caption="+ joined the base in between, − left it; full view: livebase transitions",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    counts = t.counts.to_numpy()
    # a narrow terminal gets the numbers only and a legend below; numbers never wrap
    narrow = console.width < 110
    table.add_column("", no_wrap=True)
    for j, col in enumerate(t.counts.columns):
        wide = max(len(f"{int(v):,}") for v in counts[:, j])
        table.add_column(
            number.get(str(col), str(col)), justify="right", no_wrap=True, min_width=wide
        )
    for i, name in enumerate(t.counts.index):
        head = number.get(str(name), "")
        if not narrow:
            head += " " + label(str(name), lang)
        cells = [f"{counts[i, j]:,}" if counts[i, j] else "·" for j in range(counts.shape[1])]
        # the diagonal (stayed) in bold
        cells = [
            f"[bold]{c}[/]" if str(t.counts.columns[j]) == str(name) else c
            for j, c in enumerate(cells)
        ]
        table.add_row(head, *cells)
    console.print(table)
    if narrow:
        console.print(
            "  ".join(f"{number[s]} {label(s, lang)}".replace(" ", "\u00a0") for s in [NEW, *body]),
            highlight=False,
        )
    console.print("[bold]largest moves[/]")
    for row in t.flows.to_dict("records"):
        console.print(
            f"  {label(row['from_segment'], lang)} → {label(row['to_segment'], lang)}: "
            f"{row['customers']:,} ({row['share_of_from']:.0%} of them)",
            highlight=False,
        )


def _show_segments(
    workspace: Workspace, store: Store, days: list[date], run: SegmentationRun
) -> None:
    """The KPI table of the named map on the last day and its transitions from the day before."""
    from livebase.cli.segments import kpi_table
    from livebase.segments import segment_order, transitions

    cfg = workspace.config
    lang: Language = cfg.segments.language or cfg.language
    named = next((n for n, s in cfg.segments.schemes.items() if s.kind == "named"), None)
    scheme = named or next(iter(cfg.segments.schemes))
    console.print(
        f"\n[bold]Segmented[/] as of {len(days)} dates, {days[0]} … {days[-1]}: "
        f"{run.customers:,} customers, schemes {', '.join(cfg.segments.schemes)}"
    )
    console.print(kpi_table(run.kpis, scheme, lang, run.as_of))
    if len(days) > 1:
        moves = transitions(
            store.con,
            scheme,
            days[-2],
            days[-1],
            order=segment_order(cfg.segments.schemes[scheme]),
            top=5,
        )
        _print_matrix(moves, lang)


_DEMO_FILES = {
    _MARKER,
    "livebase.yaml",
    "livebase.duckdb",
    "livebase.duckdb.wal",
    "exports",
    REPORT_FILE,
    "clv_validation.png",
    "livebase.secrets",
    "livebase.lock",
    "ops.sqlite",
    "ops.sqlite-wal",
    "ops.sqlite-shm",
    ".livebase",
    "playbooks",
    "templates",
    "tasks",
    "sent",
}
"""What ``livebase demo`` writes; anything else in the folder is the user's."""


def _confirm_replace(out: Path, force: bool) -> None:
    """Replace a demo folder only when it holds nothing of the user's, or when asked to."""
    theirs = sorted(p.name for p in out.iterdir() if p.name not in _DEMO_FILES)
    if not theirs or force:
        return
    shown = ", ".join(theirs[:8]) + (f" and {len(theirs) - 8} more" if len(theirs) > 8 else "")
    if sys.stdin.isatty() and typer.confirm(
        f"{out} holds files the demo did not write ({shown}); delete them with the demo?"
    ):
        return
    raise WorkspaceError(
        f"{out} holds files the demo did not write ({shown}): move them, choose another "
        "--out folder, or add --force to delete them with the old demo"
    )


NBSP = "\u00a0"
"""Between the parts of a figure that a narrow terminal must not break apart."""


def _closed_loop(
    workspace: Workspace, store: Store, day: date, seed: int, weeks: int
) -> dict[str, object]:
    """Run the closed loop, print measured beside true, publish the dashboard's data (returned)."""
    from rich.table import Table

    from livebase.demo.closed_loop import run_closed_loop
    from livebase.measure.playbook_workflow import end_of_day, load_specs
    from livebase.report.snapshot import build_snapshot, publish_snapshot

    with console.status(f"simulating {weeks} weeks of the school's playbooks…") as status:
        loop = run_closed_loop(
            workspace, store, start=day, weeks=weeks, seed=seed,
            progress=lambda m: status.update(m),
        )  # fmt: skip
    table = Table(
        title=f"What each playbook added, {loop.start} → {loop.end} ({loop.ticks} planner ticks)"
    )
    for col in ("playbook", "entrants", "measured incr.\npurchases", "95% interval", "true",
                "covered"):  # fmt: skip
        table.add_column(col, no_wrap=True)
    lines: list[str] = []  # the same, a line per row, for a terminal too narrow for the table
    for r in loop.rows:
        measured = r.reason or f"{r.measured:+.1f}" if r.measured is not None else (r.reason or "—")
        interval = "" if r.low is None else f"[{r.low:+.1f}, {r.high:+.1f}]"
        covered = "" if r.covered is None else ("yes" if r.covered else "NO")
        table.add_row(r.playbook, str(r.entrants), measured, interval, str(r.truth), covered)
        if interval:
            verdict = {True: "covers the ", False: "MISSES the ", None: ""}[r.covered]
            lines.append(
                f"{r.playbook}: {r.entrants:,} entrants, {measured} incremental purchases, 95% "
                f"interval {interval.replace(' ', NBSP)} ({verdict}simulated truth {r.truth})"
            )
        else:
            lines.append(
                f"{r.playbook}: {r.entrants:,} entrants, not read: {measured} (simulated truth "
                f"{r.truth})"
            )
        for s in r.steps:
            step_measured = "—" if s["measured"] is None else f"{s['measured']:+.1f}"
            step_interval = "" if s["low"] is None else f"[{s['low']:+.1f}, {s['high']:+.1f}]"
            verdict = f"{s['recommendation'] or s['reason']} (cost {s['cost']:,.0f})"
            table.add_row(
                f"  └ step {s['step']} (own holdout)", "", step_measured, step_interval,
                str(s["truth"]), verdict,
            )  # fmt: skip
            step_read = ", ".join(
                part for part in (step_measured, step_interval.replace(" ", NBSP)) if part
            )
            lines.append(
                f"  └ step {s['step']} (own holdout): {step_read} (simulated truth "
                f"{s['truth']}): {verdict}"
            )
    console.print(table_or_lines(table, lines))
    sent = ", ".join(f"{n:,} {channel}" for channel, n in loop.messages.items())
    console.print(
        f"sent through the worker: {sent}; simulated purchases: {loop.orders:,}\n"
        f"reactions recorded through the tracking links and delivery reports: "
        + ", ".join(f"{n:,} {what}" for what, n in loop.reactions.items() if "received" not in what)
        + f"\nthe messages: {loop.sent_folder} (e-mail as .eml files in email/, push and SMS as "
        f"JSON lines), mentor calls in {workspace.root / 'tasks' / 'calls.csv'}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "where the loop's time went: "
        + ", ".join(f"{phase} {sec:.0f}s" for phase, sec in loop.seconds.items()),
        highlight=False,
        soft_wrap=True,
    )
    specs, titles = load_specs(workspace.root)
    snap = build_snapshot(
        store, as_of=end_of_day(loop.end), playbooks=specs, titles=titles,
        global_holdout=float(workspace.config.policy.global_holdout or 0.0),
        settings=workspace.config.learn, currency=workspace.config.currency,
    )  # fmt: skip
    publish_snapshot(workspace.root, snap)
    return snap


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Annotated[Path, typer.Option(help="Folder of the demo workspace.")] = Path(
            "demo-school"
        ),
        kind: Annotated[str, typer.Option(help="school (GetCourse-style) or shop.")] = "school",
        seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 7,
        customers: Annotated[int, typer.Option(help="Registered customers.")] = 5000,
        as_of: Annotated[
            datetime | None,
            date_option("--as-of", "Day the export is taken (default 2026-06-30)."),
        ] = None,
        months: Annotated[
            int,
            typer.Option(
                min=1, max=24, help="Segment as of this many month-ends, the last one as_of."
            ),
        ] = 6,
        flavour: Annotated[
            str,
            typer.Option(help="interface (UTF-8, as downloaded) or excel_ru (cp1251, re-saved)."),
        ] = "excel_ru",
        force: Annotated[
            bool,
            typer.Option("--force", help="Replace the demo folder even if it holds other files."),
        ] = False,
        weeks: Annotated[
            int,
            typer.Option(min=0, max=26, help="Weeks of the closed loop (playbooks, reactions)."),
        ] = 12,
    ) -> None:
        """A synthetic school: exported GetCourse-style, loaded, segmented over months, reported.

        Example: livebase demo --out demo-school --seed 7
        """
        from livebase.cli.admin import render_summary
        from livebase.demo import DEFAULT_AS_OF, generate, write_demo_files
        from livebase.demo.closed_loop import prepare_workspace
        from livebase.ingest import PRESETS, LoadOptions, load_file
        from livebase.report import write_report
        from livebase.store import summarize
        from livebase.workspace import init_workspace

        if kind not in ("school", "shop"):
            raise WorkspaceError(f"--kind: '{kind}' is not one of: school, shop")
        if flavour not in ("interface", "excel_ru"):
            raise WorkspaceError(f"--flavour: '{flavour}' is not one of: interface, excel_ru")
        if out.exists() and any(out.iterdir()):
            if not (out / _MARKER).exists():
                raise WorkspaceError(
                    f"{out} exists and is not a livebase demo: choose another --out folder"
                )
            _confirm_replace(out, force)
            shutil.rmtree(out)
        started = time.perf_counter()
        day: date = as_of.date() if as_of else DEFAULT_AS_OF
        typed_kind: Literal["school", "shop"] = "school" if kind == "school" else "shop"
        typed_flavour: Literal["interface", "excel_ru"] = (
            "excel_ru" if flavour == "excel_ru" else "interface"
        )
        with console.status("generating the synthetic base…"):
            data = generate(typed_kind, seed=seed, customers=customers, as_of=day)
        workspace = init_workspace(out, template="school")
        (out / _MARKER).write_text("created by livebase demo; safe to delete\n", encoding="utf-8")
        workspace = prepare_workspace(workspace)  # its local channels and learning settings
        files = write_demo_files(data, out / "exports", typed_flavour)
        cfg = workspace.config
        with workspace.open_store() as store:
            for path, preset in (
                (files.users, "getcourse-users"),
                (files.orders, "getcourse"),
                (files.events, "events"),
            ):
                with console.status(f"loading {path.name}…"):
                    result = load_file(
                        store,
                        str(path),
                        LoadOptions(
                            PRESETS[preset],
                            loaded_at=datetime.now(),
                            config=cfg.ingest,
                            default_currency=cfg.currency,
                        ),
                    )
                console.print(
                    f"loaded {path.name}: {result.rows_inserted:,} {result.kind} "
                    f"({result.encoding})"
                )
            summary = summarize(store)
            render_summary(summary)
            days = month_ends(day, months)
            run = _segment_history(workspace, store, days)
            _show_segments(workspace, store, days, run)
            from livebase.cli.playbooks import run_summary
            from livebase.demo.playbooks import demo_tick

            with console.status("planning one tick of the school's playbooks…"):
                tick = demo_tick(
                    workspace, store, seed=seed, day=datetime.combine(day, datetime.min.time())
                )
            console.print(run_summary(tick, cfg.currency))
            # the report is written once, with "What the playbooks added" when the loop ran
            loop = _closed_loop(workspace, store, day, seed, weeks) if weeks else None
            with console.status("writing the report…"):
                report, _ = write_report(
                    store,
                    cfg.features,
                    cfg.segments,
                    days[-1],
                    workspace.root / REPORT_FILE,
                    lang=cfg.language,
                    currency=cfg.currency,
                    playbooks=loop,
                )
        if loop is not None:
            console.print(
                f"Dashboard: cd {out} && livebase users add owner --role owner && "
                f"livebase serve, then open {workspace.config.service.base_url}/dashboard "
                "(add a marketer and an analyst the same way)",
                highlight=False,
                soft_wrap=True,
            )
        console.print(
            f"\n[bold]Demo workspace:[/] {workspace.root}  "
            f"({time.perf_counter() - started:.1f}s)\n"
            f"  exports  {files.orders.parent}\n  config   {workspace.config_path}\n"
            f"  store    {workspace.store_path}  (segment history: {len(days)} runs)\n"
            f"  report   {report}  (open it in a browser: {report.as_uri()})\n"
            f"Try: cd {out} && livebase segment --as-of {days[-1]} && livebase transitions "
            f"--from {days[-2] if len(days) > 1 else days[0]} --to {days[-1]} && "
            f"livebase report --out base.html --as-of {days[-1]} --lang en",
            highlight=False,
            soft_wrap=True,
        )
