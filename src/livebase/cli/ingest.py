"""``livebase ingest orders|customers|events FILES…``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from livebase.cli._common import OutputFormat, console, err_console, print_json, workspace
from livebase.errors import IngestError, did_you_mean
from livebase.i18n import _l

if TYPE_CHECKING:
    from livebase.ingest import LoadResult
    from livebase.ingest.load import StageFn
    from livebase.ingest.source import ProgressFn

preset_opt = typer.Option("--preset", "-p", help="Source preset (default: from livebase.yaml).")
map_opt = typer.Option(
    "--map", "-m", help="Map a source column to a field: --map 'Order No=order_id' (repeat)."
)
skip_opt = typer.Option(
    "--skip-bad-rows",
    help="Load the valid rows; write the rejected ones beside the input as FILE.rejected.csv.",
)
enc_opt = typer.Option(help="Force the encoding (utf-8, cp1251); sniffed by default.")
delim_opt = typer.Option(help="Force the CSV delimiter; sniffed by default.")
fmt_opt = typer.Option("--format", "-f", help="table or json")
force_opt = typer.Option(
    "--force", help="Re-check every row of a file that is unchanged since the last load."
)
files_arg = typer.Argument(
    help="Files, folders or globs ('exports/*.csv'); '-' reads standard input."
)

__all__ = ["register"]

_BIG_FILE = 4 << 20


@contextmanager
def _progress(item: str) -> Iterator[tuple[ProgressFn | None, StageFn | None]]:
    size = Path(item).stat().st_size if item != "-" and Path(item).exists() else 0
    if size < _BIG_FILE:
        yield None, None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"reading {Path(item).name}", total=size)

        def advance(n: int) -> None:
            bar.advance(task, n)

        def stage(name: str) -> None:
            if name == "stage":
                # a UTF-8 file is still being read (checksum, blank rows) while it is staged
                bar.update(task, description=f"{name} {Path(item).name}")
            elif name != "read":
                bar.update(task, completed=size, description=f"{name} {Path(item).name}")

        yield advance, stage


def _print_result(result: LoadResult) -> None:
    if result.skipped:
        console.print(
            f"{result.file}: unchanged since load {result.skipped_since} (same checksum): "
            "skipped; --force re-checks it"
        )
        return
    parts = [
        f"{result.rows_read:,} rows read",
        f"{result.rows_inserted:,} new",
        f"{result.rows_updated:,} updated",
        f"{result.rows_unchanged:,} unchanged",
    ]
    if result.rows_duplicate:
        parts.append(f"{result.rows_duplicate:,} repeated in the file")
    if result.rows_rejected:
        parts.append(f"[red]{result.rows_rejected:,} rejected[/]")
    console.print(
        f"[green]loaded[/] {result.file} as {result.kind} ({result.preset}, "
        f"{result.encoding}): " + ", ".join(parts)
    )
    if result.rejected_file:
        console.print(f"  rejected rows and the reasons: {result.rejected_file}")
    for note in result.notes:
        console.print(f"  note: {note}")


def _ingest(
    kind: str,
    files: list[str],
    preset: str | None,
    maps: list[str],
    skip_bad_rows: bool,
    encoding: str | None,
    delimiter: str | None,
    format: OutputFormat,
    force: bool = False,
) -> None:
    from livebase.ingest import PRESETS, LoadOptions, expand_inputs, load_file
    from livebase.ingest.mapping import parse_map_option

    ws = workspace()
    cfg = ws.config
    name = preset or getattr(cfg.ingest, kind).preset
    valid = sorted(n for n, p in PRESETS.items() if p.kind == kind)
    if name not in valid:
        raise IngestError(
            _l(
                "--preset: unknown {kind} preset '{name}'{hint}; {kind} presets are: {valid}",
                kind=kind,
                name=name,
                hint=did_you_mean(name, valid),
                valid=", ".join(valid),
            )
        )
    chosen = PRESETS[name]
    column_map = parse_map_option(maps, chosen)
    items = expand_inputs(files)
    if encoding and encoding.lower().replace("_", "-") in {"windows-1251", "cp-1251"}:
        encoding = "cp1251"
    results = []
    from livebase.jobs import batch_job

    with batch_job(ws, command=f"livebase ingest {kind}", now=datetime.now(UTC)) as job:
        store = job.store
        for item in items:
            options = LoadOptions(
                preset=chosen,
                loaded_at=datetime.now(),
                config=cfg.ingest,
                column_map=column_map,
                skip_bad_rows=skip_bad_rows,
                default_currency=cfg.currency,
                encoding=encoding,
                delimiter=delimiter,
                timezone=cfg.timezone,
            )
            with _progress(item) as (advance, stage):
                result = load_file(store, item, options, progress=advance, stage=stage, force=force)
            results.append(result)
            if format == "table":
                _print_result(result)
    if format == "json":
        print_json([r.as_dict() for r in results])
    elif len(results) > 1:
        total = sum(r.rows_inserted for r in results)
        console.print(f"{len(results)} files loaded, {total:,} new rows")


def register(app: typer.Typer) -> None:
    ingest_app = typer.Typer(
        help="Load exports into the store: whole files or nothing, never twice.",
        no_args_is_help=True,
    )
    app.add_typer(ingest_app, name="ingest")

    @ingest_app.command()
    def orders(
        files: Annotated[list[str], files_arg],
        preset: Annotated[str | None, preset_opt] = None,
        map: Annotated[list[str] | None, map_opt] = None,
        skip_bad_rows: Annotated[bool, skip_opt] = False,
        encoding: Annotated[str | None, enc_opt] = None,
        delimiter: Annotated[str | None, delim_opt] = None,
        format: Annotated[OutputFormat, fmt_opt] = "table",
        force: Annotated[bool, force_opt] = False,
    ) -> None:
        """Load orders (deals, payments, purchases).

        Example: livebase ingest orders ~/Downloads/orders.csv --preset getcourse
        """
        _ingest(
            "orders", files, preset, map or [], skip_bad_rows, encoding, delimiter, format, force
        )

    @ingest_app.command()
    def customers(
        files: Annotated[list[str], files_arg],
        preset: Annotated[str | None, preset_opt] = None,
        map: Annotated[list[str] | None, map_opt] = None,
        skip_bad_rows: Annotated[bool, skip_opt] = False,
        encoding: Annotated[str | None, enc_opt] = None,
        delimiter: Annotated[str | None, delim_opt] = None,
        format: Annotated[OutputFormat, fmt_opt] = "table",
        force: Annotated[bool, force_opt] = False,
    ) -> None:
        """Load customers (users): email, phone, name, time zone, created date, attributes.

        Example: livebase ingest customers users.csv --preset getcourse-users
        """
        _ingest(
            "customers", files, preset, map or [], skip_bad_rows, encoding, delimiter, format, force
        )

    @ingest_app.command()
    def events(
        files: Annotated[list[str], files_arg],
        preset: Annotated[str | None, preset_opt] = None,
        map: Annotated[list[str] | None, map_opt] = None,
        skip_bad_rows: Annotated[bool, skip_opt] = False,
        encoding: Annotated[str | None, enc_opt] = None,
        delimiter: Annotated[str | None, delim_opt] = None,
        format: Annotated[OutputFormat, fmt_opt] = "table",
        force: Annotated[bool, force_opt] = False,
    ) -> None:
        """Load product events (logins, lessons, sessions, cart events…).

        Example: livebase ingest events events.csv
        """
        _ingest(
            "events", files, preset, map or [], skip_bad_rows, encoding, delimiter, format, force
        )

    @app.command("presets")
    def presets() -> None:
        """List the source presets and what each reads.

        Example: livebase presets
        """
        from livebase.ingest import PRESETS

        for preset in PRESETS.values():
            console.print(f"[bold]{preset.name}[/] ({preset.kind}): {preset.description}")
            if preset.example:
                console.print(f"    {preset.example}", highlight=False)
