"""``livebase run`` and ``livebase playbook check|preview|explain|replay|overlap``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from livebase.cli._common import OutputFormat, console, print_json, table_or_lines, workspace

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
AsOf = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=_FORMATS,
        help="Moment to plan for, in the workspace's time zone (default: now).",
    ),
]
_REPLAY_KEYS = (
    "start",
    "end",
    "playbooks",
    "weekly",
    "messages",
    "per_customer",
    "hits",
    "overlaps",
)
Format = Annotated[OutputFormat, typer.Option("--format", help="table or json.")]


def _moment(value: datetime | None, timezone: str) -> datetime:
    from zoneinfo import ZoneInfo

    if value is None:
        return datetime.now(UTC)
    return value.replace(tzinfo=ZoneInfo(timezone)) if value.tzinfo is None else value


_TICK_COUNTS = (  # attribute of a playbook's tick counts, table header, words in a line
    ("entered", "entered", "entered"),
    ("held_out", "held\nout", "held out"),
    ("capped", "capped", "capped"),
    ("deferred", "deferred", "deferred"),
    ("suppressed", "suppr.", "suppressed"),
    ("no_consent", "no\nconsent", "no consent"),
    ("no_contact", "no\ncontact", "no contact"),
    ("exited", "exited", "exited"),
)
_PLANNED_AT = 2
"""The planned messages come after the entered and held out, in the table and in a line."""


def _planned(counts: Any) -> str:
    return ", ".join(f"{ch} {n:,}" for ch, n in sorted(counts.planned.items()))


def run_table(result: Any, currency: str) -> Table:
    """The ``livebase run`` table: per playbook what the tick did (also printed by the demo).
    No cell wraps: ``run_summary`` prints lines instead when the terminal is too narrow."""
    table = Table(title=f"Tick as of {result.plan.as_of:%Y-%m-%d %H:%M}", padding=(0, 1))
    table.add_column("playbook", no_wrap=True)
    headers = [header for _, header, _ in _TICK_COUNTS]
    headers.insert(_PLANNED_AT, "planned")
    for header in [*headers, f"cost\n{currency}"]:
        table.add_column(header, justify="left" if header == "planned" else "right", no_wrap=True)
    for name, c in sorted(result.plan.counts.items()):
        cells = [f"{getattr(c, attribute):,}" for attribute, _, _ in _TICK_COUNTS]
        cells.insert(_PLANNED_AT, _planned(c) or "0")
        table.add_row(name, *cells, f"{c.cost:,.2f}")
    return table


def run_lines(result: Any, currency: str) -> list[str]:
    """The ``livebase run`` table as one line per playbook, its non-zero counts only (for a
    terminal too narrow for the table)."""
    lines = []
    for name, c in sorted(result.plan.counts.items()):
        parts = []
        for position, (attribute, _, words) in enumerate(_TICK_COUNTS):
            if position == _PLANNED_AT and c.planned:
                parts.append(f"planned {_planned(c)}")
            if n := getattr(c, attribute):
                parts.append(f"{words} {n:,}")
        if c.cost:
            parts.append(f"cost {c.cost:,.2f}\u00a0{currency}")  # no break before the unit
        lines.append(f"{name}: {', '.join(parts) or 'nothing this tick'}")
    return lines


def run_summary(result: Any, currency: str, *, on: Console | None = None) -> RenderableType:
    """What ``livebase run`` and the demo print: the table, or its lines when the terminal
    (``on``, default the CLI's console) is too narrow for it."""
    return table_or_lines(run_table(result, currency), run_lines(result, currency), on=on)


def batch_job(ws: Any, *, command: str, now: datetime) -> Any:
    """The workspace job (lock, both stores, the operational state bridged in)."""
    from livebase.jobs import batch_job as job

    return job(ws, command=command, now=now)


def register(app: typer.Typer) -> None:
    playbook_app = typer.Typer(
        help="Playbooks: check, preview, explain one customer, replay on history, overlap.",
        no_args_is_help=True,
    )
    app.add_typer(playbook_app, name="playbook")

    @app.command("run")
    def run(as_of: AsOf = None, output: Format = "table") -> None:
        """One tick: enter, advance, apply policy, write the outbox (idempotent per moment).

        Example: livebase run --as-of "2026-06-30 10:00"
        """
        from livebase.orchestrate.workflows import run_workspace

        ws = workspace()
        now = datetime.now(UTC)
        from livebase.report.snapshot import refresh_snapshot

        moment = _moment(as_of, ws.config.timezone)
        with batch_job(ws, command="livebase run", now=now) as job:
            result = run_workspace(ws, job.store, job.ops, moment, now=now)
            refresh_snapshot(ws, job.store, moment)  # what the dashboards read
        if output == "json":
            print_json(
                {
                    "as_of": result.plan.as_of,
                    "playbooks": {n: vars(c) for n, c in sorted(result.plan.counts.items())},
                    "written": vars(result.written),
                }
            )
            return
        console.print(run_summary(result, ws.config.currency))
        w = result.written
        console.print(
            f"written: {w.outbox:,} outbox rows, {w.ledger:,} ledger events, "
            f"{w.journeys:,} journeys, {w.assignments:,} assignments"
            + (" (nothing new: this moment was planned already)" if w.ledger == 0 else "")
        )

    @playbook_app.command("check")
    def check() -> None:
        """Validate every playbook in playbooks/ and the policy; errors name file, line, key.

        Example: livebase playbook check
        """
        from livebase.orchestrate.workflows import check_workspace

        ws = workspace()
        loaded = check_workspace(ws)
        table = Table(title=f"{len(loaded)} playbooks OK")
        for column in ("playbook", "trigger", "steps"):
            table.add_column(column, overflow="fold")  # a name folds, never cut to "champions-…"
        for column in ("priority", "holdout"):
            table.add_column(column, justify="right", no_wrap=True)
        for item in loaded:
            pb = item.playbook
            table.add_row(
                pb.name,
                pb.trigger.kind,
                " → ".join(s.channel for s in pb.steps),
                str(pb.priority),
                f"{pb.holdout:.0%}",
            )
        console.print(table)
        p = ws.config.policy
        console.print(
            f"policy: {len(p.caps)} caps, quiet hours "
            + (
                f"{p.quiet_hours.start:%H:%M}–{p.quiet_hours.end:%H:%M}"
                if p.quiet_hours
                else "none"
            )
            + f", {len(p.stop_rules)} stop rules, global holdout {p.global_holdout:.0%}, "
            f"consent {'required' if p.require_consent else 'not required'}"
        )

    @playbook_app.command("preview")
    def preview_cmd(
        name: Annotated[str, typer.Argument(help="Playbook name.")],
        as_of: AsOf = None,
        output: Format = "table",
    ) -> None:
        """Who enters at --as-of, and for everyone else the first reason why not.

        Example: livebase playbook preview winback-60 --as-of 2026-06-15
        """
        from livebase.orchestrate.workflows import preview_workspace

        ws = workspace()
        with batch_job(ws, command="livebase playbook preview", now=datetime.now(UTC)) as job:
            got = preview_workspace(
                ws, job.store, job.ops, name, _moment(as_of, ws.config.timezone)
            )
        if output == "json":
            print_json(vars(got))
            return
        table = Table(title=f"{got.playbook} as of {got.as_of:%Y-%m-%d %H:%M}")
        table.add_column("reason", overflow="fold")
        table.add_column("customers", justify="right", no_wrap=True)
        table.add_column("for example", overflow="fold")
        for reason, n in got.reasons.items():
            table.add_row(reason, f"{n:,}", ", ".join(got.examples.get(reason, [])))
        console.print(table)
        if got.arms:
            console.print(
                "entrants by arm: " + ", ".join(f"{a} {n:,}" for a, n in got.arms.items())
            )

    @playbook_app.command("explain")
    def explain_cmd(
        name: Annotated[str, typer.Argument(help="Playbook name.")],
        customer: Annotated[str, typer.Argument(help="Customer id.")],
        as_of: AsOf = None,
    ) -> None:
        """One customer's path: eligible? held out? consent, contact, caps, quiet hours, history.

        Example: livebase playbook explain winback-60 90001
        """
        from livebase.orchestrate.workflows import explain_workspace

        ws = workspace()
        with batch_job(ws, command="livebase playbook explain", now=datetime.now(UTC)) as job:
            got = explain_workspace(
                ws, job.store, job.ops, name, customer, _moment(as_of, ws.config.timezone)
            )
        table = Table(
            title=f"{got.playbook} × customer {got.customer_id}, {got.as_of:%Y-%m-%d %H:%M}"
        )
        for column in ("check", "verdict", "detail"):
            table.add_column(column, overflow="fold")
        for check_row in got.checks:
            table.add_row(*[Text(cell) for cell in check_row])
        console.print(table)
        for title, rows in (("journeys", got.journeys), ("ledger", got.ledger)):
            if not rows:
                console.print(f"{title}: none")
                continue
            t = Table(title=title)
            for column in rows[0]:
                t.add_column(column, overflow="fold")
            for row in rows:
                t.add_row(*[Text("" if v is None else str(v)) for v in row.values()])
            console.print(t)

    @playbook_app.command("replay")
    def replay_cmd(
        start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")],
        end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")],
        name: Annotated[str | None, typer.Argument(help="Playbook (or --all).")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Report every playbook.")] = False,
        at: Annotated[str, typer.Option(help="Local hour of the daily tick.")] = "10:00",
        output: Format = "table",
        chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    ) -> None:
        """What the playbooks would have done on our own history; writes nothing real.

        Example: livebase playbook replay winback-60 --from 2026-04-01 --to 2026-06-30
        """
        from rich.progress import Progress

        from livebase.errors import PlaybookError
        from livebase.orchestrate.workflows import replay_workspace

        if (name is None) == (not all_):
            raise PlaybookError("give a playbook name or --all (not both)")
        try:
            at_time = time.fromisoformat(at)
        except ValueError:
            raise PlaybookError(f"--at: '{at}' is not a time of day (write 10:00)") from None
        ws = workspace()
        first: date = start.date()
        last: date = end.date()
        with (
            batch_job(ws, command="livebase playbook replay", now=datetime.now(UTC)) as job,
            Progress(console=console, transient=True) as bar,
        ):
            task = bar.add_task("replaying", total=(last - first).days + 1)
            result = replay_workspace(
                ws,
                job.store,
                job.ops,
                None if all_ else [str(name)],
                first,
                last,
                at=at_time,
                on_day=lambda _d: bar.advance(task),
            )
        if chart is not None:
            from livebase.orchestrate.charts import replay_chart_png

            chart.write_bytes(replay_chart_png(result))
        if output == "json":
            print_json(
                {k: getattr(result, k) for k in _REPLAY_KEYS}
                | {"assumptions": result.assumptions()}
            )
            return
        _print_replay(result, ws.config.currency)
        if chart is not None:
            console.print(f"chart: {chart}")

    @playbook_app.command("overlap")
    def overlap_cmd(as_of: AsOf = None, output: Format = "table") -> None:
        """How many customers several playbooks compete for (cannibalisation).

        Example: livebase playbook overlap --as-of 2026-06-30
        """
        from livebase.orchestrate.workflows import overlap_workspace

        ws = workspace()
        with batch_job(ws, command="livebase playbook overlap", now=datetime.now(UTC)) as job:
            rows = overlap_workspace(ws, job.store, job.ops, _moment(as_of, ws.config.timezone))
        if output == "json":
            print_json(rows)
            return
        own = {r["playbook"]: r["customers"] for r in rows if r["playbook"] == r["other"]}
        table = Table(title="Customers wanted by two playbooks (diagonal: by one)")
        table.add_column("playbook", overflow="fold")
        table.add_column("other", justify="right", overflow="fold")
        for column in ("customers", "share of\nplaybook", "contested"):
            table.add_column(column, justify="right", no_wrap=True)
        for r in rows:
            share = r["customers"] / own[r["playbook"]] if own.get(r["playbook"]) else 0.0
            contested = f"{r['contested']:,}" if r["playbook"] == r["other"] else ""
            table.add_row(
                r["playbook"], r["other"], f"{r['customers']:,}", f"{share:.0%}", contested
            )
        console.print(table)
        console.print(
            "contested: customers of the playbook that another playbook wants too "
            "(arbitration: higher priority, then earlier entry)"
        )


def _print_replay(result: Any, currency: str) -> None:
    console.print(f"[bold]Replay[/] {result.start} – {result.end} of {', '.join(result.playbooks)}")
    weekly = Table(title="Entries and messages per week")
    weekly.add_column("week", no_wrap=True)
    weekly.add_column("playbook", overflow="fold")
    for column in ("entered", "held\nout", "messages", f"cost,\n{currency}"):
        weekly.add_column(column, justify="right", no_wrap=True)
    for r in result.weekly:
        weekly.add_row(
            str(r["week"]), r["playbook"], f"{int(r['entered']):,}", f"{int(r['held_out']):,}",
            f"{int(r['messages']):,}", f"{float(r['cost']):,.2f}",
        )  # fmt: skip
    console.print(weekly)
    messages = Table(title="Messages per channel")
    messages.add_column("playbook", overflow="fold")
    messages.add_column("channel", no_wrap=True)
    for column in ("messages", f"cost, {currency}"):
        messages.add_column(column, justify="right", no_wrap=True)
    for r in result.messages:
        messages.add_row(
            r["playbook"], r["channel"], f"{r['messages']:,}", f"{float(r['cost']):,.2f}"
        )
    console.print(messages)
    pc = result.per_customer
    console.print(
        f"messages per customer: {int(pc['customers']):,} customers, mean {pc['mean']:.2f}, "
        f"median {pc['median']:.0f}, p90 {pc['p90']:.0f}, max {pc['max']:.0f}"
    )
    hits = Table(title="Policy hits")
    hits.add_column("playbook", overflow="fold")
    for column in ("capped", "quiet\nhours", "suppressed", "no\nconsent", "no\ncontact",
                   "converted"):  # fmt: skip
        hits.add_column(column, justify="right", no_wrap=True)
    for r in result.hits:
        hits.add_row(*[str(v) for v in r.values()])
    console.print(hits)
    if result.overlaps:
        over = Table(title="Overlaps: customers also in another playbook")
        for column in ("playbook", "other"):
            over.add_column(column, overflow="fold")
        over.add_column("customers", justify="right", no_wrap=True)
        for r in result.overlaps:
            over.add_row(r["playbook"], r["other"], f"{r['customers']:,}")
        console.print(over)
    console.print("[bold]Assumptions[/]")
    for line in result.assumptions():
        console.print(f"  - {line}", highlight=False)
