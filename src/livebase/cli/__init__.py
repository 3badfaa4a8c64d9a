"""The ``livebase`` command: thin Typer commands over the modules below, printed with Rich.

One error handler: a LivebaseError prints its message in red on stderr and exits 1; the
traceback shows only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.main
from rich.markup import escape

from livebase.cli._common import err_console, state
from livebase.cli._language import cli_language, localize_help
from livebase.cli.admin import register as register_admin
from livebase.cli.clv import register as register_clv
from livebase.cli.delivery import register as register_delivery
from livebase.cli.demo import register as register_demo
from livebase.cli.experiment import register as register_experiment
from livebase.cli.ingest import register as register_ingest
from livebase.cli.learn import register as register_learn
from livebase.cli.playbooks import register as register_playbooks
from livebase.cli.priorities import register as register_priorities
from livebase.cli.report import register as register_report
from livebase.cli.runs import register as register_runs
from livebase.cli.segment_exports import register as register_segment_exports
from livebase.cli.segments import register as register_segments
from livebase.cli.service import register as register_service
from livebase.cli.sql import register as register_sql
from livebase.cli.sync import register as register_sync
from livebase.cli.transitions import register as register_transitions
from livebase.cli.uplift import register as register_uplift
from livebase.errors import LivebaseError
from livebase.i18n import _l, translate

__all__ = ["app", "main"]

app = typer.Typer(
    name="livebase",
    help="Turn your customer base into a living asset: ingest, segment, act, measure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _print_version() -> None:
    from importlib.metadata import version

    print(f"livebase {version('livebase')}")


def _version(value: bool) -> None:
    if value:
        _print_version()
        raise typer.Exit()


@app.callback()
def _options(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace folder (default: the nearest folder with livebase.yaml, upward).",
            envvar="LIVEBASE_WORKSPACE",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    wait_timeout: Annotated[
        float | None,
        typer.Option(
            "--wait-timeout",
            help="Seconds to wait for another livebase command on the same workspace "
            "(default 3600).",
            envvar="LIVEBASE_WAIT_TIMEOUT",
            min=0,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    state.workspace = workspace
    state.debug = debug
    if wait_timeout is not None:  # read by livebase.locks when a command opens the store
        os.environ["LIVEBASE_WAIT_TIMEOUT"] = str(wait_timeout)


register_admin(app)
register_ingest(app)
register_segments(app)
register_transitions(app)
register_segment_exports(app)
register_report(app)
register_runs(app)
register_sql(app)
register_demo(app)
register_clv(app)
register_priorities(app)
register_experiment(app)
register_uplift(app)
register_playbooks(app)
register_delivery(app)
register_service(app)
register_learn(app)  # last: adds 'readout' to the 'playbook' group
register_sync(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also the entry point of the ``livebase`` script).

    Help and errors are said in the user's language (``LIVEBASE_LANG``, livebase.yaml's
    ``language:``, or the locale; English by default).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # answered before the command tree is built: it takes longest
        _print_version()
        code = 0
        if argv is None:
            sys.exit(code)
        return code
    lang = cli_language(args)
    try:
        command = typer.main.get_command(app)
        localize_help(command, lang)
        command(args=args, prog_name="livebase")  # usage errors and --help end in SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except LivebaseError as exc:
        if state.debug:
            err_console.print_exception()
        prefix = translate(_l("error:"), lang)
        err_console.print(
            f"[bold red]{prefix}[/] {escape(exc.localized(lang))}",
            highlight=False,
            soft_wrap=True,
        )
        code = 1
    except KeyboardInterrupt:
        err_console.print(
            translate(_l("interrupted: nothing was written by the interrupted step"), lang)
        )
        code = 130
    if argv is None:
        sys.exit(code)
    return code
