"""Run the service with uvicorn (what ``livebase serve`` calls)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livebase.workspace import Workspace

__all__ = ["serve"]


def serve(
    workspace: Workspace,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``workspace`` until interrupted (Ctrl-C stops it cleanly).

    Host and port default to ``service.host`` and ``service.port`` of livebase.yaml. Logs are
    JSON lines on stderr (the access log never contains paths, tokens or keys).
    """
    import uvicorn

    from livebase.web.app import create_app

    settings = workspace.config.service
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            '{"ts": "%(asctime)s", "logger": "%(name)s", "level": "%(levelname)s", "msg": %(message)s}'
        )
    )
    access = logging.getLogger("livebase.web.access")
    access.handlers[:] = [handler]
    access.setLevel(getattr(logging, log_level.upper(), logging.INFO))
    access.propagate = False
    errors = logging.getLogger("livebase.web")
    plain = logging.StreamHandler(sys.stderr)
    errors.addHandler(plain)
    from livebase.web.dashboard import router as dashboard

    app = create_app(workspace, routers=[dashboard])  # the role dashboards at /dashboard
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=5,
    )
