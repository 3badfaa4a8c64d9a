"""FastAPI dependencies shared by the routers (and the dashboard's)."""

from __future__ import annotations

from fastapi import Request

from livebase.web.app import ServiceState

__all__ = ["service_state"]


def service_state(request: Request) -> ServiceState:
    """The app's :class:`~livebase.web.app.ServiceState`."""
    state: ServiceState = request.app.state.livebase
    return state
