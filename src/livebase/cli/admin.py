"""Workspace commands: init, config, status."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from livebase.cli._common import OutputFormat, console, print_json, workspace
from livebase.cli.sync import freshness_rows, render_freshness

if TYPE_CHECKING:
    from livebase.store import StoreSummary

__all__ = ["register", "render_summary"]


def _money(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".replace(",", " ")


def _when(value: object) -> str:
    return "—" if value is None else str(value)[:16]


def render_summary(summary: StoreSummary) -> None:
    """Print a store summary as Rich tables."""
    t = summary.tables
    console.print(
        f"[bold]{t['customers']:,}[/] customers · [bold]{t['orders']:,}[/] orders · "
        f"[bold]{t['events']:,}[/] events · {t['loads']} loads · "
        f"{summary.paying_customers:,} paying customers"
    )
    if t["orders"]:
        console.print(
            f"orders from {_when(summary.first_order_at)} to {_when(summary.last_order_at)}; "
            f"paid from {_when(summary.first_paid_at)} to {_when(summary.last_paid_at)}"
        )
        revenue = ", ".join(
            f"{_money(r['paid_revenue'])} {r['currency']} ({r['paid_orders']:,} paid orders)"
            for r in summary.revenue_by_currency
        )
        console.print(f"paid revenue: [bold]{revenue or '0'}[/]")
        table = Table(title="Orders by status", title_justify="left")
        for col in ("status", "orders", "amount", "counts toward revenue", "awaiting return"):
            table.add_column(col, justify="left" if col == "status" else "right")
        for row in summary.orders_by_status:
            table.add_row(
                row["status"],
                f"{row['orders']:,}",
                _money(row["amount"]),
                _money(row["paid_revenue"]),
                f"{row['return_requested']:,}",
            )
        console.print(table)
    if summary.events_by_name:
        table = Table(title="Events", title_justify="left")
        for col in ("name", "events", "customers"):
            table.add_column(col, justify="left" if col == "name" else "right")
        for row in summary.events_by_name:
            table.add_row(row["name"], f"{row['events']:,}", f"{row['customers']:,}")
        console.print(table)
    if summary.loads:
        console.print("[bold]Latest loads[/]")
        for row in summary.loads:
            took = (row["finished_at"] - row["started_at"]).total_seconds()
            console.print(
                f"  #{row['load_id']} {_when(row['started_at'])} {row['kind']} · {row['preset']} · "
                f"{row['file']} (sha256 {row['checksum'][:12]}, {took:.1f}s)\n"
                f"     {row['rows_read']:,} read = {row['rows_inserted']:,} new + "
                f"{row['rows_updated']:,} updated + {row['rows_unchanged']:,} unchanged + "
                f"{row['rows_duplicate']:,} repeated + {row['rows_rejected']:,} rejected",
                highlight=False,
            )
            if row["rejected_file"]:
                console.print(f"     rejected rows: {row['rejected_file']}", highlight=False)
    elif not t["orders"]:
        console.print("The store is empty: load orders with 'livebase ingest orders FILE'.")


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Inspect and validate livebase.yaml.", no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @app.command()
    def init(
        directory: Annotated[Path, typer.Argument(help="Folder of the new workspace.")] = Path("."),
        template: Annotated[
            str, typer.Option("--template", "-t", help="One of: ecommerce, school, subscription.")
        ] = "ecommerce",
        force: Annotated[bool, typer.Option(help="Overwrite an existing livebase.yaml.")] = False,
    ) -> None:
        """Create a workspace: a commented livebase.yaml and an empty store.

        Example: livebase init myschool --template school
        """
        from livebase.workspace import init_workspace

        ws = init_workspace(directory, template=template, force=force)
        console.print(f"Created workspace [bold]{ws.root}[/] from the '{template}' template:")
        console.print(f"  config  {ws.config_path}\n  store   {ws.store_path}")
        console.print(f"Next: cd {directory} && livebase ingest orders YOUR_EXPORT.csv")

    @config_app.command("schema")
    def schema() -> None:
        """Print the JSON Schema of livebase.yaml (for editors).

        Example: livebase config schema > livebase.schema.json
        """
        from livebase.config import config_schema

        print(config_schema())

    @config_app.command("check")
    def check(
        file: Annotated[
            Path | None, typer.Argument(help="A livebase.yaml (default: the workspace's).")
        ] = None,
    ) -> None:
        """Validate livebase.yaml and say where it is wrong.

        Example: livebase config check
        """
        from livebase.config import load_config

        path = file if file is not None else workspace().config_path
        load_config(path)
        console.print(f"{path}: valid")

    @app.command()
    def status(
        format: Annotated[
            OutputFormat, typer.Option("--format", "-f", help="table or json")
        ] = "table",
        loads: Annotated[int, typer.Option(help="How many of the latest loads to list.")] = 10,
    ) -> None:
        """What the store holds, and how far behind each synced source is.

        Customers, orders by status, date range, revenue, the latest loads, and per synced
        source the last sync, the newest source time and the lag.

        Example: livebase status --format json
        """
        from livebase.store import summarize

        ws = workspace()
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            summary = summarize(store, last_loads=loads)
        sync = freshness_rows(ws)
        if format == "json":
            sync_rows = [row.as_dict() for row in sync]
            print_json({"workspace": str(ws.root), **summary.as_dict(), "sync": sync_rows})
        else:
            console.print(f"Workspace [bold]{ws.root}[/] ({ws.config.name})")
            render_summary(summary)
            render_freshness(sync)
