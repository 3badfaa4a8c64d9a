"""Playbook readouts of a workspace: what ``livebase playbook readout``, ``livebase programme``
and the dashboard's publishing step run (the CLI only parses and prints).

A playbook file (``playbooks/*.yaml``) gives the readout its holdout plan, conversion window
and goal, and which cascade steps hold out non-responders; the stored assignments carry the
plan actually used (SRM is checked against them).

>>> spec_from_mapping({"name": "winback", "holdout": 0.1,
...     "conversion": {"event": "purchase", "window_days": 14},
...     "steps": [{"id": "email", "channel": "email"},
...               {"id": "sms", "channel": "sms", "holdout": 0.2}]}).step_holdouts
{'sms': 0.2}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.charts import lift_chart_png
from livebase.measure.playbook_readout import PlaybookReadout
from livebase.measure.playbook_store import (
    GlobalHoldoutReadout,
    PlaybookSpec,
    read_global_holdout,
    read_playbook,
)
from livebase.measure.settings import LearnSettings
from livebase.store import Store

__all__ = [
    "end_of_day",
    "load_specs",
    "programme_readout",
    "readout_chart_png",
    "spec_from_mapping",
    "workspace_readout",
]


def end_of_day(day: date) -> datetime:
    """The first moment after ``day`` (readouts as of a day include all of it)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


def spec_from_mapping(d: Mapping[str, Any]) -> PlaybookSpec:
    """What a readout needs of a parsed playbook file."""
    steps = [s for s in d.get("steps") or [] if isinstance(s, Mapping) and "id" in s]
    conversion = d.get("conversion") or {}
    return PlaybookSpec(
        name=str(d["name"]),
        holdout=float(d.get("holdout") or 0.0),
        window_days=int(conversion.get("window_days", 14)),
        conversion_event=str(conversion.get("event", "purchase")),
        steps=tuple(str(s["id"]) for s in steps),
        step_channels={str(s["id"]): str(s.get("channel", "")) for s in steps},
        step_holdouts={
            str(s["id"]): float(s["holdout"]) for s in steps if float(s.get("holdout") or 0) > 0
        },
    )


def load_specs(root: Path) -> tuple[list[PlaybookSpec], dict[str, str]]:
    """The playbooks of a workspace folder (``playbooks/*.yaml``) and their titles."""
    from ruamel.yaml import YAML

    folder = root / "playbooks"
    specs: list[PlaybookSpec] = []
    titles: dict[str, str] = {}
    if not folder.is_dir():
        return specs, titles
    yaml = YAML(typ="safe")
    for path in sorted(folder.glob("*.y*ml")):
        data = yaml.load(path.read_text(encoding="utf-8"))
        if not isinstance(data, Mapping) or "name" not in data:
            continue
        spec = spec_from_mapping(data)
        specs.append(spec)
        titles[spec.name] = str(data.get("title") or spec.name)
    return specs, titles


def workspace_readout(
    store: Store,
    root: Path,
    name: str,
    *,
    as_of: datetime,
    settings: LearnSettings | None = None,
) -> PlaybookReadout:
    """Read the workspace's playbook ``name`` out as of ``as_of``."""
    specs, _ = load_specs(root)
    by_name = {s.name: s for s in specs}
    if name not in by_name:
        known = sorted(by_name)
        raise ExperimentError(
            f"no playbook '{name}' in {root / 'playbooks'}{did_you_mean(name, known)}; "
            f"playbooks: {', '.join(known) or 'none'}"
        )
    return read_playbook(store, by_name[name], as_of=as_of, settings=settings)


def programme_readout(
    store: Store, *, as_of: datetime, share: float, settings: LearnSettings | None = None
) -> GlobalHoldoutReadout:
    """The whole programme against the global holdout, per month."""
    return read_global_holdout(store, as_of=as_of, share=share, settings=settings)


def readout_chart_png(readout: PlaybookReadout) -> bytes:
    """Lifts of the playbook (and of each step with its own holdout) with their intervals."""
    if readout.readout is None:
        raise ExperimentError(
            f"playbook '{readout.playbook}' cannot be charted yet: {readout.message}"
        )
    return lift_chart_png(readout.readout)
