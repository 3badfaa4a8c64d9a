"""``livebase demo``: a synthetic online school, exported, ingested, summarised."""

import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from livebase.cli._common import console
from livebase.cli.admin import render_summary
from livebase.errors import WorkspaceError
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import summarize
from livebase.workspace import init_workspace

__all__ = ["register"]

_MARKER = ".livebase-demo"


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
            typer.Option(
                formats=["%Y-%m-%d"], help="Day the export is taken (default 2026-06-30)."
            ),
        ] = None,
        flavour: Annotated[
            str,
            typer.Option(help="interface (UTF-8, as downloaded) or excel_ru (cp1251, re-saved)."),
        ] = "excel_ru",
    ) -> None:
        """Generate a realistic synthetic school, export it GetCourse-style, load it, summarise.

        Example: livebase demo --out demo-school --seed 7
        """
        from livebase.demo import DEFAULT_AS_OF, generate, write_demo_files

        if kind not in ("school", "shop"):
            raise WorkspaceError(f"--kind: '{kind}' is not one of: school, shop")
        if flavour not in ("interface", "excel_ru"):
            raise WorkspaceError(f"--flavour: '{flavour}' is not one of: interface, excel_ru")
        if out.exists() and any(out.iterdir()):
            if not (out / _MARKER).exists():
                raise WorkspaceError(
                    f"{out} exists and is not a livebase demo: choose another --out folder"
                )
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
        console.print(
            f"\n[bold]Demo workspace:[/] {workspace.root}  "
            f"({time.perf_counter() - started:.1f}s)\n"
            f"  exports  {files.orders.parent}\n  config   {workspace.config_path}\n"
            f"  store    {workspace.store_path}\n"
            f"Try: cd {out} && livebase status"
        )
