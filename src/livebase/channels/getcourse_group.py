"""GetCourse groups as a channel (``type: getcourse_group``): a playbook step adds the customer
to a group of the school's GetCourse account, so its own mailings and processes can use it.

One message = one user import (``action=add`` by e-mail, ``group_name``, ``refresh_if_exists``)
through an injected importer (the GetCourse API client of :mod:`livebase.connectors.getcourse`,
which registers the opener of this channel). The group is the message's ``data["group"]``, else
``lb: PLAYBOOK``; with ``dated`` the customer also joins ``GROUP YYYY-MM-DD`` of the send date
(GetCourse's API cannot remove a user from a group: the dated group of the latest run is the
segment that day — see the README, "Connect GetCourse").

Outcomes: accepted → ``sent`` (provider id = GetCourse's user id); an address GetCourse
refuses → ``suppress`` (as a bounce); wrong key or no API access → ``failed``; the quota, a
network error or HTTP 5xx → ``retry``; a timeout → ``uncertain`` (the import may have run).

>>> import asyncio
>>> from datetime import datetime
>>> from livebase.channels.base import OutgoingMessage
>>> class Importer:
...     def __init__(self): self.calls = []
...     def add_user(self, user, *, groups, refresh_if_exists=True):
...         self.calls.append((user["email"], tuple(groups)))
...         return type("R", (), {"ok": True, "user_id": "77", "error_message": ""})()
...     def close(self): pass
>>> importer = Importer()
>>> channel = GetCourseGroupChannel("gc", importer)
>>> m = OutgoingMessage(key="501|winback|1|gc", customer_id="501", channel="gc",
...     purpose="marketing", address="anna@example.ru", text="", playbook="winback",
...     date=datetime(2026, 11, 30, 10, 0))
>>> asyncio.run(channel.send(m)).provider_id, importer.calls
('77', [('anna@example.ru', ('lb: winback', 'lb: winback 2026-11-30'))])
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from livebase.channels.base import OutgoingMessage, SendOutcome
from livebase.errors import SyncError

__all__ = ["GetCourseGroupChannel", "GroupImporter", "ImportAnswer"]


class ImportAnswer(Protocol):
    """GetCourse's answer about one imported user."""

    @property
    def ok(self) -> bool: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def error_message(self) -> str: ...


class GroupImporter(Protocol):
    """What the channel needs of a GetCourse API client."""

    def add_user(
        self, user: Mapping[str, Any], *, groups: Sequence[str], refresh_if_exists: bool = True
    ) -> ImportAnswer: ...

    def close(self) -> None: ...


_RETRY = ("quota", "network", "http", "busy", "malformed", "api")


class GetCourseGroupChannel:
    """Add each message's customer to a GetCourse group (see the module docstring)."""

    def __init__(
        self,
        name: str,
        importer: GroupImporter,
        *,
        dated: bool = True,
        rate_per_second: float | None = None,
    ) -> None:
        self.name = name
        self._importer = importer
        self._dated = dated
        self._pause = 0.0 if not rate_per_second else 1.0 / rate_per_second
        self._last = 0.0
        self._lock = asyncio.Lock()

    def groups(self, message: OutgoingMessage) -> tuple[str, ...]:
        """The group (and dated group) ``message`` adds its customer to."""
        group = str(message.data.get("group") or f"lb: {message.playbook or self.name}")
        if not self._dated or message.date is None:
            return (group,)
        return (group, f"{group} {message.date.date().isoformat()}")

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        email = message.address if "@" in message.address else str(message.data.get("email") or "")
        if "@" not in email:
            return SendOutcome.suppress("no e-mail address for a GetCourse user", reason="bounce")
        user: dict[str, Any] = {"email": email}
        if message.name:
            user["first_name"] = message.name
        groups = self.groups(message)
        async with self._lock:  # one import at a time, at most rate_per_second
            wait = self._last + self._pause - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last = time.monotonic()
            try:
                answer = await asyncio.to_thread(
                    self._importer.add_user, user, groups=groups, refresh_if_exists=True
                )
            except SyncError as exc:
                if exc.reason == "timeout":
                    return SendOutcome.uncertain(str(exc))
                if exc.reason in _RETRY:
                    return SendOutcome.retry(str(exc))
                return SendOutcome.failed(str(exc))
        if answer.ok:
            return SendOutcome.sent(answer.user_id, detail=f"in {' + '.join(groups)}")
        return SendOutcome.suppress(
            f"GetCourse refused the address: {answer.error_message or 'no message'}",
            reason="bounce",
        )

    async def close(self) -> None:
        await asyncio.to_thread(self._importer.close)
