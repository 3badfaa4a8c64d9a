"""``livebase runs`` and ``livebase runs delete DATE``: the segmentation runs, and undoing one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from livebase.cli._common import OutputFormat, console, err_console, print_json, workspace

__all__ = ["register"]

_FMT_OPT = typer.Option("--format", "-f", help="table or json")


def register(app: typer.Typer) -> None:
    """Add ``runs`` and ``runs delete`` to ``app``."""
    runs_app = typer.Typer(
        help="List the segmentation runs, or delete one.", invoke_without_command=True
    )
    app.add_typer(runs_app, name="runs")

    @runs_app.callback(invoke_without_command=True)
    def runs(
        ctx: typer.Context,
        scheme: Annotated[str | None, typer.Option(help="One scheme only.")] = None,
        format: Annotated[OutputFormat, _FMT_OPT] = "table",
    ) -> None:
        """The segmentation runs, latest first: date, scheme, customers, when it ran.

        Example: livebase runs --scheme named
        """
        if ctx.invoked_subcommand is not None:
            return
        from rich import box
        from rich.table import Table

        from livebase.segments.runs import list_runs

        ws = workspace()
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            frame = list_runs(store.con, scheme)
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        if format == "json":
            print_json(records)
            return
        if not records:
            console.print("No segmentation runs yet: run 'livebase segment'.")
            return
        table = Table(box=box.SIMPLE_HEAD, title="segmentation runs", title_justify="left")
        for head in ("as of", "scheme", "customers", "ran at"):
            table.add_column(head, justify="right" if head == "customers" else "left")
        for r in records:
            table.add_row(
                str(r["as_of"])[:10],
                str(r["scheme"]),
                f"{int(r['customers']):,}".replace(",", "\u00a0"),
                str(r["ran_at"])[:16],
            )
        console.print(table)
        console.print("[dim]undo one: livebase runs delete DATE [--scheme NAME][/]")

    @runs_app.command("delete")
    def delete(
        as_of: Annotated[
            datetime,
            typer.Argument(
                formats=["%Y-%m-%d", "%d.%m.%Y"],
                metavar="DATE",
                help="The run's date: YYYY-MM-DD or DD.MM.YYYY.",
            ),
        ],
        scheme: Annotated[
            list[str] | None, typer.Option(help="Only this scheme's run (repeat for several).")
        ] = None,
    ) -> None:
        """Delete the runs of a date: the history becomes as if they never ran.

        Example: livebase runs delete 2030-01-01
        """
        from livebase.segments.runs import delete_run

        ws = workspace()
        with ws.open_store() as store:
            deleted = delete_run(store.con, as_of.date(), scheme or None)
        err_console.print(
            f"deleted the run of {as_of.date()} for {', '.join(deleted)}; the history is "
            "rebuilt from the other runs",
            highlight=False,
        )
