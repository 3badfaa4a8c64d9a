"""Channels: one narrow protocol, and SMTP, webhook presets (Telegram, SMS, push), export and
GetCourse groups behind it (see :mod:`livebase.channels.base`)."""

from __future__ import annotations

from livebase.channels.base import (
    Channel,
    OutcomeStatus,
    OutgoingMessage,
    SendOutcome,
    message_token,
)
from livebase.channels.registry import open_channel, register_channel_type, secret_for
from livebase.channels.settings import ChannelSettings, ChannelType

__all__ = [
    "Channel",
    "ChannelSettings",
    "ChannelType",
    "OutcomeStatus",
    "OutgoingMessage",
    "SendOutcome",
    "message_token",
    "open_channel",
    "register_channel_type",
    "secret_for",
]
