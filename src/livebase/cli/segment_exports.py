"""``livebase export segment`` and ``livebase history``: a segment's customers to a file,
and one customer's path through the segments.

Thin: each command parses, calls one function of ``livebase.segments``, writes or prints.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

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
from livebase.cli.segment_tables import history_table
from livebase.cli.segments import FORMAT_OPTION
from livebase.errors import SegmentError
from livebase.i18n import _l

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``export segment`` and ``history``."""
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
        from livebase.segments import EXPORT_COLUMNS, label
        from livebase.segments.export import members_of

        fmt = output_format(out, None, ("csv", "xlsx", "json", "parquet"))
        ws = workspace()
        features, _, lang = segment_settings(ws)
        style = csv_style(lang, encoding)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            segment, members = members_of(
                store.con, features, scheme, name, lang, as_of.date() if as_of else None
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
        format: Annotated[OutputFormat, FORMAT_OPTION] = "table",
    ) -> None:
        """One customer's path through the segments of every scheme.

        Example: livebase history 00042
        """
        from livebase.segments import customer_history

        ws = workspace()
        _, _, lang = segment_settings(ws)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            rows = customer_history(store.con, customer)
        if rows.empty:
            raise SegmentError(
                _l("customer '{customer}' has no segment history", customer=customer)
            )
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        if format == "json":
            print_json(records)
            return
        console.print(history_table(records, lang, title=f"customer {customer}"))
