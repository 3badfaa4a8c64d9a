"""The getcourse_group channel, opened from channels: settings and sent through the replay."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from livebase.channels.base import OutgoingMessage
from livebase.channels.registry import open_channel
from livebase.channels.settings import ChannelSettings
from livebase.connectors.getcourse.channel import register
from livebase.connectors.getcourse.replay import ReplayServer
from livebase.errors import ChannelError
from livebase.secrets import Secrets

from ._data import KEY


def _message(address: str, **data: str) -> OutgoingMessage:
    return OutgoingMessage(
        key=f"501|winback|1|gc:{address}",
        customer_id="501",
        channel="gc",
        purpose="marketing",
        address=address,
        text="",
        name="Анна",
        playbook="winback",
        date=datetime(2026, 11, 30, 10, 0),
        data=data,
    )


def _open(tmp_path: Path, url: str, key: str = KEY, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    register()
    settings = ChannelSettings.model_validate(
        {"type": "getcourse_group", "base_url": url, "api_key_env": "GC_KEY",
         "rate_per_second": 50, "timeout_seconds": timeout}
    )  # fmt: skip
    secrets = Secrets(tmp_path / "livebase.secrets", {"GC_KEY": key})
    return open_channel("gc", settings, secrets=secrets, root=tmp_path)


def test_a_step_adds_the_customer_to_the_playbook_group(tmp_path: Path) -> None:
    with ReplayServer(api_key=KEY) as server:
        channel = _open(tmp_path, server.url)

        async def run() -> list[str]:
            outcomes = [
                await channel.send(_message("anna@example.ru")),
                await channel.send(_message("vera@example.ru", group="lb: VIP")),
                await channel.send(_message("not-an-address")),
                await channel.send(_message("broken@")),
            ]
            await channel.close()
            return [o.status for o in outcomes]

        assert asyncio.run(run()) == ["sent", "sent", "suppress", "suppress"]
    assert server.state.groups == {
        "lb: winback": {"anna@example.ru"},
        "lb: winback 2026-11-30": {"anna@example.ru"},
        "lb: VIP": {"vera@example.ru"},
        "lb: VIP 2026-11-30": {"vera@example.ru"},
    }
    assert len(server.state.imported) == 3  # no call for an address that is not an e-mail


@pytest.mark.parametrize(
    ("how", "status"), [("key", "failed"), ("slow", "uncertain"), ("access", "failed")]
)
def test_refusals_become_outcomes_not_exceptions(tmp_path: Path, how: str, status: str) -> None:
    with ReplayServer(api_key=KEY) as server:
        if how == "slow":
            server.state.delay_seconds = 1.0
        if how == "access":
            server.state.api_access = False
        channel = _open(tmp_path, server.url, key="wrong" if how == "key" else KEY, timeout=0.3)
        outcome = asyncio.run(channel.send(_message("anna@example.ru")))
        asyncio.run(channel.close())
    assert outcome.status == status
    assert KEY not in outcome.detail


def test_a_channel_without_account_or_key_name_says_which_key(tmp_path: Path) -> None:
    register()
    settings = ChannelSettings.model_validate({"type": "getcourse_group", "api_key_env": "GC_KEY"})
    with pytest.raises(ChannelError, match=r"channels\.gc\.account"):
        open_channel("gc", settings, secrets=Secrets(tmp_path / "s", {}), root=tmp_path)
