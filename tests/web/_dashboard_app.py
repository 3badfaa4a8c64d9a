"""A workspace with a published playbook history and one user per role, and the app that
serves its dashboard (the service's state as the router expects it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from livebase.ops.users import add_user
from livebase.report.snapshot import build_snapshot, publish_snapshot
from livebase.workspace import Workspace, init_workspace
from measure._playbook_data import START, fill
from measure.test_playbook_readout import SPEC

PASSWORD = "correct horse battery"
NOW = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
AS_OF = START + timedelta(days=120)


def make_workspace(folder: Path) -> Workspace:
    """A school workspace whose analytics store holds a seeded playbook history."""
    ws = init_workspace(folder, template="school")
    with ws.open_store() as store:
        fill(store)
        snap = build_snapshot(store, as_of=AS_OF, playbooks=[SPEC], global_holdout=0.1)
    publish_snapshot(ws.root, snap)
    ops = ws.open_ops()
    for role in ("owner", "marketer", "analyst"):
        add_user(ops, role, PASSWORD, role, now=NOW, language="en")
    ops.close()
    return ws


def make_app(ws: Workspace) -> Any:
    """The dashboard router in an app carrying the service's state."""
    from fastapi import FastAPI

    from livebase.web.dashboard import router

    app = FastAPI()
    app.state.livebase = SimpleNamespace(workspace=ws, ops=ws.open_ops(), now=lambda: NOW)
    app.include_router(router)
    return app
