"""Sending and privacy commands: ``channels check``, ``template preview``, ``send``, ``worker``,
``consent import``, ``suppress import``, ``forget``."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from livebase.cli._common import console, err_console, workspace

__all__ = ["register"]


def _now() -> datetime:
    return datetime.now(UTC)


def _print_tally(counts: dict[str, int], cost: float, unavailable: dict[str, str]) -> None:
    order = (
        "sent",
        "retry",
        "failed",
        "suppressed",
        "uncertain",
        "skipped",
        "deferred",
        "cancelled",
    )
    shown = ", ".join(f"{k} {counts[k]}" for k in order if counts.get(k))
    console.print(f"{shown or 'nothing was due'}; cost {cost:.2f}")
    if counts.get("uncertain"):
        console.print(
            f"[yellow]{counts['uncertain']} uncertain[/]: the channel may or may not have "
            "delivered them (marketing is not resent; transactional is resent with the same ids)"
        )
    for name, reason in unavailable.items():
        err_console.print(f"[yellow]channel {name} not opened:[/] {reason}")


def register(app: typer.Typer) -> None:
    """Add the delivery and privacy commands to ``app``."""
    channels_app = typer.Typer(help="The channels of livebase.yaml.", no_args_is_help=True)
    template_app = typer.Typer(
        help="Message templates in the workspace's templates/.", no_args_is_help=True
    )
    consent_app = typer.Typer(help="The consent ledger (with evidence).", no_args_is_help=True)
    suppress_app = typer.Typer(help="Addresses never to message.", no_args_is_help=True)
    app.add_typer(channels_app, name="channels")
    app.add_typer(template_app, name="template")
    app.add_typer(consent_app, name="consent")
    app.add_typer(suppress_app, name="suppress")

    @channels_app.command("check")
    def channels_check() -> None:
        """Each configured channel reachable, credentials valid, sender ready.

        Example: livebase channels check
        """
        from livebase.delivery.checks import check_channels

        results = check_channels(workspace())
        if not results:
            console.print("No sendable channels in livebase.yaml (channels: with a type).")
            return
        for result in results:
            mark = "[green]ok[/]" if result.ok else "[red]fail[/]"
            console.print(
                f"{mark}  {result.name} ({result.type}): {result.detail}", highlight=False
            )
        if not all(r.ok for r in results):
            raise typer.Exit(1)

    @template_app.command("preview")
    def template_preview(
        name: Annotated[str, typer.Argument(help="Template folder under templates/.")],
        customer: Annotated[str, typer.Option("--customer", help="Customer id to render for.")],
        channel: Annotated[
            str | None, typer.Option(help="Channel (default: the e-mail one).")
        ] = None,
        offer: Annotated[str | None, typer.Option(help="Offer code to show.")] = None,
        raw: Annotated[bool, typer.Option("--raw", help="Print the whole e-mail as sent.")] = False,
    ) -> None:
        """The rendered message, as the customer would get it (nothing is sent or recorded).

        Example: livebase template preview winback_email --customer 90001
        """
        from livebase.delivery.checks import preview_template

        preview = preview_template(
            workspace(), name, customer, now=_now(), channel=channel, offer=offer
        )
        if raw and preview.raw_email is not None:
            print(preview.raw_email)
            return
        console.print(
            f"[bold]to:[/] {preview.address or '—'} via {preview.channel} ({preview.rendered.file})",
            highlight=False,
        )
        if preview.rendered.subject is not None:
            console.print(f"[bold]subject:[/] {preview.rendered.subject}", highlight=False)
        console.print(preview.rendered.text, highlight=False, markup=False)
        if preview.rendered.links:
            console.print(
                f"[dim]{len(preview.rendered.links)} tracked links: {', '.join(preview.rendered.links)}[/]",
                highlight=False,
            )

    @app.command("send")
    def send(
        limit: Annotated[int | None, typer.Option(help="Send at most N messages.")] = None,
    ) -> None:
        """Send what is due now, once (SIGTERM/Ctrl-C: what is in flight finishes).

        Example: livebase send --limit 100
        """
        from livebase.delivery.run import send_due

        report = send_due(workspace(), clock=_now, limit=limit)
        _print_tally(report.tally.counts, report.tally.cost, report.unavailable)

    @app.command("worker")
    def worker(
        tick_minutes: Annotated[float, typer.Option(help="Minutes between planner ticks.")] = 5.0,
        poll_seconds: Annotated[
            float, typer.Option(help="Seconds between looks at the outbox.")
        ] = 2.0,
    ) -> None:
        """Long-running: a planner tick every few minutes, and sending; stops cleanly on SIGTERM.

        Example: livebase worker --tick-minutes 5
        """
        from livebase.delivery.run import planner_tick, run_worker

        ws = workspace()

        def ready(unavailable: dict[str, str]) -> None:
            console.print("worker running; SIGTERM or Ctrl-C stops it after the sends in flight")
            for name, reason in unavailable.items():
                err_console.print(f"[yellow]channel {name} not opened:[/] {reason}")

        report = run_worker(
            ws,
            clock=_now,
            tick=planner_tick(ws),
            tick_every=tick_minutes * 60,
            poll_seconds=poll_seconds,
            on_ready=ready,
        )
        _print_tally(report.tally.counts, report.tally.cost, {})

    @consent_app.command("import")
    def consent_import(
        file: Annotated[Path, typer.Argument(help="CSV of consents.", exists=True, dir_okay=False)],
    ) -> None:
        """Add consents with their evidence; importing the same file again adds nothing.

        Columns: customer_id, status, ts, channel, purpose, source, text_version, ….

        Example: livebase consent import consents.csv
        """
        from livebase.delivery.consent import import_consents

        ops = workspace().open_ops()
        try:
            report = import_consents(ops, file, now=_now())
        finally:
            ops.close()
        console.print(f"{report.added} consents added, {report.already} already recorded")

    @suppress_app.command("import")
    def suppress_import(
        file: Annotated[
            Path, typer.Argument(help="CSV of addresses.", exists=True, dir_okay=False)
        ],
    ) -> None:
        """Add suppressions (address and/or customer_id, channel, reason); only hashes are kept.

        Example: livebase suppress import stoplist.csv
        """
        from livebase.delivery.consent import import_suppressions

        ops = workspace().open_ops()
        try:
            report = import_suppressions(ops, file, now=_now())
        finally:
            ops.close()
        console.print(f"{report.added} suppressions added, {report.already} already recorded")

    @app.command("forget")
    def forget(
        customer: Annotated[str, typer.Argument(help="The customer id to erase.")],
        by: Annotated[str | None, typer.Option("--by", help="Who asked (recorded).")] = None,
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    ) -> None:
        """Erase a person's personal data from both stores and every file of the workspace.

        History is kept under a one-way hash; an erasure record says what, when and by whom.

        Example: livebase forget 90001 --by dpo@school.ru --yes
        """
        from livebase.delivery.erasure import forget_customer

        if not yes and not typer.confirm(f"Erase customer {customer} for good?"):
            raise typer.Exit(1)
        report = forget_customer(
            workspace(), customer, requested_by=by or getpass.getuser(), now=_now()
        )
        rows = sum(report.ops.values()) + sum(report.analytics.values())
        console.print(
            f"erased: {rows} rows changed in {len(report.ops) + len(report.analytics)} tables, "
            f"{len(report.files_changed)} files changed, {len(report.files_deleted)} deleted; "
            f"record {report.subject_hash[:12]}"
        )
