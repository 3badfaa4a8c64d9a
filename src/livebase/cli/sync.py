"""``livebase sync``: pull from a CRM (GetCourse) and push segments back as groups."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from livebase.cli._common import OutputFormat, console, print_json, workspace

if TYPE_CHECKING:
    from livebase.connectors.freshness import Freshness
    from livebase.workspace import Workspace

__all__ = ["freshness_rows", "register", "render_freshness"]


def freshness_rows(ws: Workspace) -> list[Freshness]:
    """Per synced source: last successful sync, newest source timestamp, lag (now)."""
    from datetime import UTC, datetime

    from livebase.connectors.freshness import sync_freshness

    with ws.open_ops() as ops:
        return sync_freshness(ops, datetime.now(UTC))


def render_freshness(rows: list[Freshness]) -> None:
    """Print the freshness table (nothing when no source was ever synced)."""
    if not rows:
        return
    table = Table(title="Sync", title_justify="left")
    for col in ("source", "last sync (UTC)", "newest source time", "lag"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for row in rows:
        newest = "—" if row.newest_source_ts is None else str(row.newest_source_ts)[:16]
        lag = (
            f"{row.lag_minutes:,.0f} min"
            if row.lag_minutes < 120
            else f"{row.lag_minutes / 60:,.1f} h"
        )
        table.add_row(row.source, str(row.last_sync)[:16], newest, lag)
    console.print(table)


def register(app: typer.Typer) -> None:
    sync_app = typer.Typer(
        help="Sync with a CRM: pull orders and customers, push segments back.",
        no_args_is_help=True,
    )
    app.add_typer(sync_app, name="sync")

    @sync_app.command("getcourse")
    def getcourse(
        since: Annotated[
            str | None,
            typer.Option(
                help="Re-read from this date (YYYY-MM-DD) instead of the watermark minus "
                "sync.getcourse.overlap_days."
            ),
        ] = None,
        objects: Annotated[
            str | None,
            typer.Option(help="Comma-separated: deals,users or payments,users (default: config)."),
        ] = None,
        push_segment: Annotated[
            str | None,
            typer.Option(
                "--push-segment",
                help="Push the customers now in this segment to a GetCourse group (no pull).",
            ),
        ] = None,
        group: Annotated[
            str | None,
            typer.Option(help="Group name for --push-segment (default: 'lb: SEGMENT')."),
        ] = None,
        format: Annotated[
            OutputFormat, typer.Option("--format", "-f", help="table or json")
        ] = "table",
    ) -> None:
        """Pull GetCourse deals, users and payments through the export API, or push a segment.

        Examples:
          livebase sync getcourse
          livebase sync getcourse --since 2026-01-01 --objects deals,users
          livebase sync getcourse --push-segment "At Risk" --group "lb: At Risk"
        """
        import time
        from datetime import UTC, datetime

        from livebase.connectors.getcourse.run import push_segment as push
        from livebase.connectors.getcourse.run import sync_getcourse
        from livebase.connectors.settings import GETCOURSE_OBJECTS
        from livebase.errors import ConfigError, did_you_mean

        if group is not None and push_segment is None:
            raise ConfigError("--group names the group of --push-segment: give both", key="--group")
        ws = workspace()
        now = datetime.now(UTC)
        if push_segment is not None:
            target = group or f"lb: {push_segment}"
            report = push(ws, segment=push_segment, group=target, now=now, sleep=time.sleep)
            if format == "json":
                print_json(report.as_dict())
                return
            console.print(
                f"Group [bold]{' + '.join(report.groups)}[/]: {report.pushed:,} added, "
                f"{report.already:,} already today, {report.skipped:,} without e-mail, "
                f"{len(report.failed):,} refused (of {report.members:,} in '{push_segment}')"
            )
            for customer_id, message in report.failed[:10]:
                console.print(f"  refused: customer {customer_id}: {message}", highlight=False)
            return
        chosen = None
        if objects:
            chosen = [name.strip() for name in objects.split(",") if name.strip()]
            for name in chosen:
                if name not in GETCOURSE_OBJECTS:
                    raise ConfigError(
                        f"unknown object '{name}'{did_you_mean(name, GETCOURSE_OBJECTS)} "
                        f"(valid: {', '.join(GETCOURSE_OBJECTS)})",
                        key="--objects",
                    )
        start = None
        if since is not None:
            try:
                start = date.fromisoformat(since)
            except ValueError:
                raise ConfigError(
                    f"not a date: '{since}' (use YYYY-MM-DD)", key="--since"
                ) from None
        result = sync_getcourse(
            ws,
            now=now,
            sleep=time.sleep,
            objects=chosen,  # type: ignore[arg-type]
            since=start,
        )
        if format == "json":
            print_json(
                {
                    "objects": [o.as_dict() for o in result.objects],
                    "export_requests": result.export_requests,
                    "http_requests": result.http_requests,
                    "budget_remaining": result.budget_remaining,
                }
            )
            return
        table = Table(title="GetCourse sync", title_justify="left")
        for col in ("object", "since", "export", "rows", "new", "updated", "unchanged"):
            table.add_column(col, justify="left" if col in ("object", "since") else "right")
        for o in result.objects:
            table.add_row(
                o.object,
                o.since.isoformat(),
                o.export_id,
                f"{o.rows:,}",
                f"{o.inserted:,}",
                f"{o.updated:,}",
                f"{o.unchanged:,}",
            )
        console.print(table)
        console.print(
            f"{result.export_requests} export requests, {result.http_requests} API calls; "
            f"{result.budget_remaining} export requests left in the budget window"
        )
