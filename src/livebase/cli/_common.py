"""What every command shares: the consoles, the workspace option, output formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from livebase.workspace import Workspace, find_workspace

__all__ = ["OutputFormat", "State", "console", "err_console", "print_json", "state", "workspace"]

console = Console()
err_console = Console(stderr=True)
OutputFormat = Literal["table", "json"]


@dataclass
class State:
    workspace: Path | None = None
    debug: bool = False


state = State()


def workspace() -> Workspace:
    """The workspace of this invocation (--workspace, or found from the current folder up)."""
    return find_workspace(Path.cwd(), state.workspace)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    """JSON on stdout, unformatted by Rich so that machines can read it."""
    print(json.dumps(data, default=_default, ensure_ascii=False, indent=2))
