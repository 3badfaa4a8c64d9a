"""The FastAPI app of ``livebase serve``: one process, the operational store only.

:func:`create_app` builds the app for a workspace: routers for the API (``/v1/events``,
``/v1/customers``), webhooks (``/v1/hooks/…``), tracking and unsubscribe (``/t/…``, ``/u/…``)
and operations (``/healthz``, ``/metrics``), the middleware (limits, rate limiting, security
headers, access log) and the one error handler. More routers (the dashboard) plug in with
``routers=[...]`` or ``app.include_router`` — they reach the shared state with
:func:`livebase.web.deps.service_state`.

The wall clock is read here, at the edge (``now``), and passed to everything below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from livebase.orchestrate.live import LiveRules
from livebase.web.idempotency import IdempotencyCache
from livebase.web.metrics import ServiceMetrics
from livebase.web.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from livebase.ops.store import OpsStore
    from livebase.workspace import Workspace

__all__ = ["ServiceState", "create_app", "live_rules", "wall_clock"]


def wall_clock() -> datetime:
    """The wall clock in UTC (the only clock the service reads)."""
    return datetime.now(UTC)


@dataclass
class ServiceState:
    """What every request handler shares."""

    workspace: Workspace
    ops: OpsStore
    settings: ServiceSettings
    rules: LiveRules
    metrics: ServiceMetrics
    now: Callable[[], datetime] = wall_clock
    idempotency: IdempotencyCache = field(default_factory=IdempotencyCache)

    def signing_keys(self) -> list[tuple[str, bytes]]:
        """The link-signing keys valid now (rotated-out keys for ``old_link_days``)."""
        from livebase.ops.signing import active_signing_keys

        return active_signing_keys(
            self.workspace.secrets(), now=self.now(), old_link_days=self.settings.old_link_days
        )


def live_rules(workspace: Workspace) -> LiveRules:
    """The live-update rules of a workspace's config (exit conditions and entry hooks of
    playbooks come from the playbook planner when it provides them)."""
    config = workspace.config
    exits: dict[str, Any] = {}
    hooks: list[Any] = []
    try:  # the playbook planner's live triggers, when installed
        from livebase.orchestrate import playbook_live  # type: ignore[attr-defined,unused-ignore]

        exits = dict(playbook_live.exit_rules(workspace))
        hooks = list(playbook_live.entry_hooks(workspace))
    except ImportError:
        pass
    return LiveRules(
        segments=config.segments,
        features=config.features,
        timezone=config.timezone,
        exits=exits,
        on_entry=tuple(hooks),
    )


def create_app(
    workspace: Workspace,
    *,
    now: Callable[[], datetime] = wall_clock,
    ops: OpsStore | None = None,
    rules: LiveRules | None = None,
    routers: Sequence[Any] = (),
) -> FastAPI:
    """The service's app for ``workspace``.

    ``ops``: an open operational store (default: the workspace's); ``rules``: live-update
    rules (default: :func:`live_rules`); ``routers``: more APIRouters (the dashboard).

    >>> import tempfile, pathlib
    >>> from livebase.workspace import init_workspace
    >>> ws = init_workspace(pathlib.Path(tempfile.mkdtemp()) / "shop")
    >>> from fastapi.testclient import TestClient
    >>> with TestClient(create_app(ws)) as client:
    ...     client.get("/healthz").json()["status"]
    'ok'
    """
    from fastapi import FastAPI

    from livebase.web import api, hooks, operations, tracking
    from livebase.web.errors import install_error_handlers
    from livebase.web.middleware import RateLimiter, ServiceMiddleware

    settings = workspace.config.service
    metrics = ServiceMetrics.create()
    state = ServiceState(
        workspace=workspace,
        ops=ops if ops is not None else workspace.open_ops(),
        settings=settings,
        rules=rules if rules is not None else live_rules(workspace),
        metrics=metrics,
        now=now,
    )
    app = FastAPI(
        redirect_slashes=False,  # a trailing slash is a 404, never a redirect
        title="livebase",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.livebase = state
    install_error_handlers(app)
    for router in (api.router, hooks.router, tracking.router, operations.router, *routers):
        app.include_router(router)
    app.add_middleware(
        ServiceMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        limiter=RateLimiter(settings.rate_limit_per_minute),
        metrics=metrics,
        trust_forwarded=settings.trust_forwarded_for,
    )
    return app
