"""Telegram, SMS.ru, SMSC and push against a local HTTP server speaking their documented
subsets: answers, throttling, blocked users, server errors, timeouts and signatures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from _peers import SMS_KEY, TOKEN, ProviderServer, provider_server
from _servers import free_port
from livebase.channels.base import Channel, OutgoingMessage, SendOutcome
from livebase.channels.settings import ChannelSettings
from livebase.channels.sms import SmsChannel
from livebase.channels.telegram import TelegramChannel
from livebase.channels.webhook import SIGNATURE_HEADER, WebhookChannel, verify_signature
from livebase.errors import ChannelError

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


def _message(address: str, n: int = 1, channel: str = "telegram") -> OutgoingMessage:
    return OutgoingMessage(
        key=f"9000{n}|winback|1|{channel}",
        customer_id=f"9000{n}",
        channel=channel,
        purpose="marketing",
        address=address,
        text="Анна, вернитесь: скидка 15%",
        subject="Скидка",
        date=NOW,
    )


def _send(channel: Channel, *messages: OutgoingMessage) -> list[SendOutcome]:
    async def go() -> list[SendOutcome]:
        try:
            return [await channel.send(m) for m in messages]
        finally:
            await channel.close()

    return asyncio.run(go())


def _settings(**values: Any) -> ChannelSettings:
    return ChannelSettings.model_validate(values)


def test_telegram_sends_and_keeps_the_message_id(server: ProviderServer) -> None:
    channel = TelegramChannel(
        "telegram", _settings(type="telegram", token_env="T", base_url=server.base_url), token=TOKEN
    )
    [outcome] = _send(channel, _message("5551"))
    assert (outcome.status, outcome.provider_id) == ("sent", "1")
    assert server.telegram[0]["chat_id"] == "5551"


def test_telegram_429_is_retry_after_and_403_suppresses(server: ProviderServer) -> None:
    server.behaviour.throttle = 1
    server.behaviour.retry_after = 7
    server.behaviour.blocked_chats.add("666")
    channel = TelegramChannel(
        "telegram", _settings(type="telegram", token_env="T", base_url=server.base_url), token=TOKEN
    )
    throttled, blocked, fine = _send(channel, _message("1"), _message("666", 2), _message("1", 3))
    assert (throttled.status, throttled.retry_after) == ("retry", 7.0)
    assert (blocked.status, blocked.reason) == ("suppress", "blocked")
    assert fine.status == "sent"
    assert len(server.telegram) == 1


def test_telegram_500_is_retry_and_the_token_never_shows(server: ProviderServer) -> None:
    server.behaviour.fail_500 = 1
    channel = TelegramChannel(
        "telegram", _settings(type="telegram", token_env="T", base_url=server.base_url), token=TOKEN
    )
    [outcome] = _send(channel, _message("1"))
    assert outcome.status == "retry"
    assert TOKEN not in outcome.detail


def test_telegram_check_names_token_env_on_a_bad_token(server: ProviderServer) -> None:
    settings = _settings(type="telegram", token_env="LIVEBASE_TG", base_url=server.base_url)
    assert asyncio.run(TelegramChannel("tg", settings, token=TOKEN).check()) == "bot @school_bot"
    with pytest.raises(ChannelError, match=r"channels\.tg\.token_env.*LIVEBASE_TG") as info:
        asyncio.run(TelegramChannel("tg", settings, token="999:WRONG").check())
    assert "999:WRONG" not in str(info.value)


def test_timeouts_are_uncertain_and_refused_connections_retry(server: ProviderServer) -> None:
    server.behaviour.delay = 1.5
    settings = _settings(
        type="telegram", token_env="T", base_url=server.base_url, timeout_seconds=0.3
    )
    [slow] = _send(TelegramChannel("telegram", settings, token=TOKEN), _message("1"))
    assert slow.status == "uncertain"
    down = _settings(type="telegram", token_env="T", base_url=f"http://127.0.0.1:{free_port()}")
    [refused] = _send(TelegramChannel("telegram", down, token=TOKEN), _message("1"))
    assert refused.status == "retry"


def test_smsru_per_number_status_and_cost(server: ProviderServer) -> None:
    server.behaviour.bad_numbers.add("79990000000")
    settings = _settings(
        type="sms", provider="smsru", api_key_env="K", base_url=server.base_url, sender="SCHOOL"
    )
    ok, bad = _send(
        SmsChannel("sms", settings, api_key=SMS_KEY),
        _message("+7 (912) 000-11-22", 1, "sms"),
        _message("8 999 000 00 00", 2, "sms"),
    )
    assert (ok.status, ok.cost, ok.provider_id) == ("sent", 4.1, "0000-1")
    assert bad.status == "suppress"
    assert server.sms[0]["to"] == "79120001122" and server.sms[0]["from"] == "SCHOOL"
    [refused] = _send(
        SmsChannel("sms", settings, api_key="wrong"), _message("79120001122", 3, "sms")
    )
    assert refused.status == "failed" and "api_key_env" in refused.detail
    assert asyncio.run(SmsChannel("sms", settings, api_key=SMS_KEY).check()).startswith("smsru")


def test_smsc_cost_and_invalid_number(server: ProviderServer) -> None:
    server.behaviour.bad_numbers.add("79990000000")
    settings = _settings(type="sms", provider="smsc", api_key_env="K", base_url=server.base_url)
    ok, bad = _send(
        SmsChannel("sms", settings, api_key=SMS_KEY),
        _message("79120001122", 1, "sms"),
        _message("79990000000", 2, "sms"),
    )
    assert (ok.status, ok.cost) == ("sent", 3.2)
    assert bad.status == "suppress"
    assert server.sms[0]["id"] == _message("x", 1, "sms").token  # SMSC drops a repeated id


def test_sms_provider_500_is_retry(server: ProviderServer) -> None:
    server.behaviour.fail_500 = 1
    settings = _settings(type="sms", provider="smsru", api_key_env="K", base_url=server.base_url)
    [outcome] = _send(
        SmsChannel("sms", settings, api_key=SMS_KEY), _message("79120001122", 1, "sms")
    )
    assert outcome.status == "retry"
    assert server.sms == []


def test_push_webhook_is_signed_and_carries_the_idempotency_key(server: ProviderServer) -> None:
    settings = _settings(type="webhook", url=f"{server.base_url}/push", secret_env="S")
    message = _message("90001", 1, "push")
    [outcome] = _send(WebhookChannel("push", settings, secret="push-secret"), message)
    assert (outcome.status, outcome.provider_id) == ("sent", "p1")
    headers = server.push_headers[0]
    assert headers["Idempotency-Key"] == message.key
    body = headers["_body"].encode()
    assert verify_signature(
        b"push-secret", body, headers[SIGNATURE_HEADER], now=int(NOW.timestamp())
    )
    assert not verify_signature(b"other", body, headers[SIGNATURE_HEADER], now=int(NOW.timestamp()))
    assert json.loads(body)["text"] == message.text


def test_push_webhook_500_then_success(server: ProviderServer) -> None:
    server.behaviour.fail_500 = 1
    settings = _settings(type="webhook", url=f"{server.base_url}/push")
    first, second = _send(
        WebhookChannel("push", settings), _message("1", 1, "push"), _message("1", 1, "push")
    )
    assert (first.status, second.status) == ("retry", "sent")
    assert server.requests == 2
