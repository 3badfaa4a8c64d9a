"""What every command shares: the consoles, the workspace option, output formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer
from rich.console import Console

from livebase.i18n import N_

if TYPE_CHECKING:
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
