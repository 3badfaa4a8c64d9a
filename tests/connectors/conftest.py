"""The GetCourse fixtures (replay server, workspace) for every connector test."""

from __future__ import annotations

from .getcourse.conftest import server, sleeps, workspace

__all__ = ["server", "sleeps", "workspace"]
