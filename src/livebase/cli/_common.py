"""What every command shares: the consoles, the workspace option, output formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer
from rich.console import Console, Group, RenderableType
from rich.text import Text

from livebase.i18n import N_

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.table import Table

    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings
    from livebase.workspace import Workspace

__all__ = [
    "DATE_FORMATS",
    "DATE_HINT",
    "OutputFormat",
    "State",
    "config_lines",
    "console",
    "date_option",
    "err_console",
    "json_default",
    "language",
    "print_json",
    "segment_settings",
    "state",
    "table_or_lines",
    "workspace",
]

console = Console()
err_console = Console(stderr=True)
OutputFormat = Literal["table", "json"]
DATE_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]
"""Dates on the command line: ISO (2026-06-30) or the Russian way (30.06.2026)."""
DATE_HINT = N_(" YYYY-MM-DD or DD.MM.YYYY.")
"""The end of a date option's help (translated apart from the help before it)."""


def date_option(name: str, help: str) -> Any:
    """A date option that reads ISO or dd.mm.yyyy dates and shows DATE as its placeholder."""
    return typer.Option(
        name,
        formats=DATE_FORMATS,
        metavar="DATE",
        help=help + DATE_HINT,
    )


@dataclass
class State:
    workspace: Path | None = None
    debug: bool = False


state = State()


def workspace() -> Workspace:
    """The workspace of this invocation (--workspace, or found from the current folder up)."""
    from livebase.workspace import find_workspace

    return find_workspace(Path.cwd(), state.workspace)


def language(ws: Workspace) -> Literal["en", "ru"]:
    """The language the workspace speaks: its segments' language, else livebase.yaml's."""
    segments = getattr(ws.config, "segments", None)
    chosen = getattr(segments, "language", None) or ws.config.language
    return "ru" if chosen == "ru" else "en"


def segment_settings(
    ws: Workspace,
) -> tuple[FeaturesSettings, SegmentsSettings, Literal["en", "ru"]]:
    """The features and segments sections of the workspace config (defaults when absent),
    and the language of segment names."""
    from livebase.features import FeaturesSettings
    from livebase.segments import SegmentsSettings

    features = getattr(ws.config, "features", None) or FeaturesSettings.model_validate({})
    segments = getattr(ws.config, "segments", None) or SegmentsSettings.model_validate({})
    return features, segments, language(ws)


def config_lines(ws: Workspace) -> dict[str, int]:
    """The line of each key of livebase.yaml, for errors that name it (empty when unreadable)."""
    from livebase.segments import yaml_lines

    try:
        return yaml_lines(ws.config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    """JSON on stdout, unformatted by Rich so that machines can read it."""
    print(json.dumps(data, default=json_default, ensure_ascii=False, indent=2))


def table_or_lines(
    table: Table, lines: Sequence[str], *, on: Console | None = None
) -> RenderableType:
    """``table`` when every cell of it fits the console's width on one line, else its title
    and ``lines`` (one per row, wrapped as prose): a narrow terminal gets readable lines, never a
    number cut to "0.…". The table's columns are ``no_wrap`` (headers may break at their
    explicit line breaks).

    >>> from rich.table import Table
    >>> t = Table(title="Tick")
    >>> for name in ("playbook", "entered"):
    ...     t.add_column(name, no_wrap=True)
    >>> t.add_row("winback-60", "53")
    >>> table_or_lines(t, ["winback-60: entered 53"], on=Console(width=80)) is t
    True
    >>> narrow = Console(width=23)
    >>> narrow.print(table_or_lines(t, ["winback-60: entered 53"], on=narrow))
    Tick
    winback-60: entered 53
    """
    shown_on = on or console
    # measured as if the console were unbounded: Rich clamps a measurement to its width
    unbounded = shown_on.options.update_width(100_000)
    if shown_on.measure(table, options=unbounded).minimum <= shown_on.width:
        return table
    title = Text(str(table.title or ""), style="bold")
    return Group(title, *(Text(line) for line in lines))
