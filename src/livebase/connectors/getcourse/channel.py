"""The ``getcourse_group`` channel's opener: settings + secrets → a GetCourse API client.

:func:`register` makes :func:`livebase.channels.registry.open_channel` open channels of type
``getcourse_group`` (the worker calls it once at start)::

    channels:
      getcourse: {type: getcourse_group, account: school, api_key_env: LIVEBASE_GETCOURSE_KEY,
                  rate_per_second: 2}
"""

from __future__ import annotations

from pathlib import Path

from livebase.channels.base import Channel
from livebase.channels.getcourse_group import GetCourseGroupChannel
from livebase.channels.registry import register_channel_type, secret_for
from livebase.channels.settings import ChannelSettings
from livebase.connectors.getcourse.client import GetCourseClient
from livebase.errors import ChannelError
from livebase.secrets import Secrets

__all__ = ["open_getcourse_group", "register"]


def open_getcourse_group(
    name: str, settings: ChannelSettings, secrets: Secrets, root: Path
) -> Channel:
    """A :class:`GetCourseGroupChannel` for ``channels.NAME`` (the key by ``api_key_env``)."""
    if settings.base_url is None and settings.account is None:
        raise ChannelError(
            "needs account (school of school.getcourse.ru) or base_url", channel=name, key="account"
        )
    if settings.api_key_env is None:
        raise ChannelError(
            "set api_key_env to the name of the secret holding the GetCourse API key",
            channel=name,
            key="api_key_env",
        )
    key = secret_for(secrets, name, settings, "api_key_env") or ""
    base = settings.base_url or f"https://{settings.account}.getcourse.ru"
    client = GetCourseClient(
        base, key, timeout=settings.timeout_seconds, key_name=settings.api_key_env
    )
    return GetCourseGroupChannel(name, client, rate_per_second=settings.rate_per_second or 2.0)


def register() -> None:
    """Let ``open_channel`` open ``type: getcourse_group`` channels."""
    register_channel_type("getcourse_group", open_getcourse_group)
