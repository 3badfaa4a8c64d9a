"""The GetCourse workflows of a workspace: open what they need, run the pull or the push.

The CLI (``livebase sync getcourse``) and the worker call these; the key comes from the
workspace's secrets (``sync.getcourse.api_key_env``), never from livebase.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx

from livebase.connectors.getcourse.client import GetCourseClient
from livebase.connectors.getcourse.pull import SyncReport, fetch, load
from livebase.connectors.getcourse.push import PushReport, push_members, segment_members
from livebase.connectors.settings import GetCourseObject, GetCourseSyncSettings
from livebase.errors import SyncError
from livebase.jobs import batch_job
from livebase.workspace import Workspace

__all__ = ["getcourse_settings", "open_client", "push_segment", "sync_getcourse"]


def getcourse_settings(ws: Workspace) -> GetCourseSyncSettings:
    """``sync.getcourse`` of the workspace, or an error saying how to add it."""
    settings = ws.config.sync.getcourse
    if settings is None:
        raise SyncError(
            f"{ws.config_path} has no sync.getcourse section: add\n"
            "  sync:\n    getcourse:\n      account: school   # school.getcourse.ru\n"
            "and put the API key in livebase.secrets as LIVEBASE_GETCOURSE_KEY",
            reason="config",
        )
    return settings


def open_client(ws: Workspace, *, transport: httpx.BaseTransport | None = None) -> GetCourseClient:
    """A client for the workspace's account, with the key from its secrets."""
    settings = getcourse_settings(ws)
    key = ws.secrets().require(settings.api_key_env, key="sync.getcourse.api_key_env")
    return GetCourseClient(settings.url, key, timeout=settings.timeout_seconds, transport=transport)


def sync_getcourse(
    ws: Workspace,
    *,
    now: datetime,
    sleep: Callable[[float], None],
    objects: Sequence[GetCourseObject] | None = None,
    since: date | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SyncReport:
    """Pull the workspace's GetCourse objects into its store (see :func:`pull`)."""
    getcourse_settings(ws)
    # GetCourse may take minutes to build the exports: the analytics store is not locked
    # while it does; the loads then run as one batch job (the workspace job lock)
    with open_client(ws, transport=transport) as client, ws.open_ops() as ops:
        fetched = fetch(ops, client, ws.config, now=now, sleep=sleep, objects=objects, since=since)
    with batch_job(ws, command="livebase sync getcourse", now=now) as job:
        return load(job.store, job.ops, fetched, ws.config, now=now)


def push_segment(
    ws: Workspace,
    *,
    segment: str,
    group: str,
    now: datetime,
    sleep: Callable[[float], None],
    transport: httpx.BaseTransport | None = None,
) -> PushReport:
    """Add the customers now in ``segment`` to the GetCourse group ``group`` (and its dated
    group); recorded in the send ledger (see :mod:`.push`)."""
    settings = getcourse_settings(ws)
    run_date = now.astimezone(ZoneInfo(ws.config.timezone)).date()
    with ws.open_ops() as ops:
        members = segment_members(ops, segment)
        with open_client(ws, transport=transport) as client:
            return push_members(
                ops,
                client,
                members,
                group=group,
                run_date=run_date,
                now=now,
                sleep=sleep,
                rate_per_second=settings.push_rate_per_second,
                batch=settings.push_batch,
                dated=settings.dated_groups,
            )
