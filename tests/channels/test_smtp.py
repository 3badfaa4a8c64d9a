"""E-mail over SMTP against a real aiosmtpd server on loopback: headers, TLS, login, DKIM, and
every way a server can say no."""

from __future__ import annotations

import asyncio
import email
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from _peers import SmtpSink, smtp_sink
from _servers import free_port
from livebase.channels.base import OutgoingMessage, SendOutcome
from livebase.channels.email_message import DkimKey
from livebase.channels.settings import ChannelSettings
from livebase.channels.smtp import SmtpChannel
from livebase.errors import ChannelError

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _message(
    n: int = 1, *, to: str = "anna@example.ru", purpose: str = "marketing"
) -> OutgoingMessage:
    return OutgoingMessage(
        key=f"9000{n}|winback|1|email",
        customer_id=f"9000{n}",
        channel="email",
        purpose=purpose,  # type: ignore[arg-type]
        address=to,
        subject="Мы скучаем, Анна",
        text="Привет! Вернитесь: https://lb.test/t/c/x/1/y",
        html="<p>Привет!</p>",
        name="Анна Петрова",
        unsubscribe_url="https://lb.test/u/tok/sig",
        date=NOW,
    )


def _settings(port: int, **extra: Any) -> ChannelSettings:
    return ChannelSettings.model_validate(
        {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from": "Школа <hello@school.ru>",
            "unsubscribe_mailto": "unsubscribe@school.ru",
            **extra,
        }
    )


def _send(channel: SmtpChannel, *messages: OutgoingMessage) -> list[SendOutcome]:
    async def go() -> list[SendOutcome]:
        try:
            return list(await asyncio.gather(*(channel.send(m) for m in messages)))
        finally:
            await channel.close()

    return asyncio.run(go())


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as server:
        yield server


def test_marketing_mail_has_one_click_unsubscribe_and_a_stable_message_id(sink: SmtpSink) -> None:
    outcome = _send(SmtpChannel("email", _settings(sink.port)), _message())[0]
    assert outcome.status == "sent"
    [received] = sink.parsed()
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = " ".join(received["List-Unsubscribe"].split())
    assert unsubscribe.startswith("<https://lb.test/u/tok/sig>, <mailto:unsubscribe@school.ru")
    assert received["Message-ID"] == outcome.provider_id
    assert "90001" not in received["Message-ID"]  # no customer id in headers
    assert received.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in received.walk()][1:]
    assert parts == ["text/plain", "text/html"]
    text = received.get_payload()[0].get_payload(decode=True).decode()
    assert "Привет" in text
    assert str(email.header.make_header(email.header.decode_header(received["Subject"]))) == (
        "Мы скучаем, Анна"
    )


def test_a_resend_carries_the_same_message_id(sink: SmtpSink) -> None:
    _send(SmtpChannel("email", _settings(sink.port)), _message(), _message())
    assert list(sink.message_ids().values()) == [2]


def test_pooled_connections_send_many(sink: SmtpSink) -> None:
    outcomes = _send(
        SmtpChannel("email", _settings(sink.port, pool_size=3)), *(_message(n) for n in range(40))
    )
    assert [o.status for o in outcomes] == ["sent"] * 40
    assert len(sink.message_ids()) == 40


def test_rejections_map_to_suppress_retry_failed(sink: SmtpSink) -> None:
    sink.behaviour.reject.add("gone@example.ru")
    sink.behaviour.busy.add("busy@example.ru")
    channel = SmtpChannel("email", _settings(sink.port, pool_size=1))
    gone, busy = _send(
        channel, _message(1, to="gone@example.ru"), _message(2, to="busy@example.ru")
    )
    assert (gone.status, gone.reason) == ("suppress", "bounce")
    assert "550" in gone.detail
    assert busy.status == "retry"
    sink.behaviour.reject_data = 1
    [spam] = _send(SmtpChannel("email", _settings(sink.port)), _message(3))
    assert spam.status == "failed" and "554" in spam.detail
    [fine] = _send(SmtpChannel("email", _settings(sink.port)), _message(4))
    assert fine.status == "sent"
    assert len(sink.messages) == 1


def test_addresses_beyond_a_plain_dot_atom_take_aiosmtplibs_checks(sink: SmtpSink) -> None:
    """A plain address goes on the command line as it is; others are parsed by aiosmtplib
    (which keeps only the address of a line carrying more); one it cannot put on a command
    line fails before anything is sent, and the connection stays usable (a failure, not a
    doubt)."""
    channel = SmtpChannel("email", _settings(sink.port, pool_size=1))
    plain, quoted, smuggled, spaced, after = _send(
        channel,
        _message(1, to="anna.p+news@example.ru"),
        _message(2, to='"anna petrova"@example.ru'),
        _message(3, to="x@example.ru> NOTIFY=NEVER\r\nRCPT TO:<y@example.ru"),
        _message(4, to="a b@example.ru"),
        _message(5, to="boris@example.ru"),
    )
    assert [o.status for o in (plain, quoted, smuggled, after)] == ["sent"] * 4
    assert spaced.status == "failed" and "cannot be sent" in spaced.detail
    assert [to for to, _raw in sink.messages] == [
        ["anna.p+news@example.ru"],
        ['"anna petrova"@example.ru'],
        ["x@example.ru"],
        ["boris@example.ru"],
    ]


def test_server_down_is_retry() -> None:
    [outcome] = _send(SmtpChannel("email", _settings(free_port(), timeout_seconds=2)), _message())
    assert outcome.status == "retry"


def test_slow_server_after_data_is_uncertain(sink: SmtpSink) -> None:
    sink.behaviour.delay = 2.0
    [outcome] = _send(SmtpChannel("email", _settings(sink.port, timeout_seconds=0.5)), _message())
    assert outcome.status == "uncertain"


def test_slow_server_at_rcpt_is_retry_as_aiosmtplib_reports_it(sink: SmtpSink) -> None:
    """The envelope's replies are awaited under the channel's timeout: no answer is a retry
    (nothing handed over) with aiosmtplib's own error, and the next send opens a new
    connection."""

    async def go() -> list[SendOutcome]:
        channel = SmtpChannel("email", _settings(sink.port, timeout_seconds=0.3, pool_size=1))
        try:
            sink.behaviour.rcpt_delay = 1.0
            slow = await channel.send(_message(1))
            sink.behaviour.rcpt_delay = 0.0
            return [slow, await channel.send(_message(2))]
        finally:
            await channel.close()

    slow, after = asyncio.run(go())
    assert slow.status == "retry"
    assert slow.detail == "smtp rcpt: SMTPReadTimeoutError: Timed out waiting for server response"
    assert after.status == "sent"
    assert [to for to, _raw in sink.messages] == [["anna@example.ru"]]


def test_connection_dropped_during_data_is_uncertain(sink: SmtpSink) -> None:
    sink.behaviour.drop_data = 1
    [outcome] = _send(SmtpChannel("email", _settings(sink.port)), _message())
    assert outcome.status == "uncertain"
    assert len(sink.messages) == 1  # it did arrive: exactly why it must not be resent blindly


def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server, ca_file


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == b"crm@school.ru"
        and data.password == b"s3cret"
    )
    return AuthResult(success=ok, handled=False)


def test_starttls_with_login(tmp_path: Path) -> None:
    context, ca_file = _tls(tmp_path)
    options = {
        "tls_context": context,
        "require_starttls": True,
        "authenticator": _auth,
        "auth_required": True,
        "auth_require_tls": True,
    }
    with smtp_sink(**options) as sink:
        settings = _settings(
            sink.port, security="starttls", ca_file=str(ca_file), username="crm@school.ru"
        )
        [outcome] = _send(SmtpChannel("email", settings, password="s3cret"), _message())
        assert outcome.status == "sent"
        assert len(sink.messages) == 1
        with pytest.raises(ChannelError, match=r"channels\.email\.password_env: login refused"):
            asyncio.run(SmtpChannel("email", settings, password="wrong").check())
        [refused] = _send(SmtpChannel("email", settings, password="wrong"), _message(2))
        assert refused.status == "failed"


def test_implicit_ssl(tmp_path: Path) -> None:
    context, ca_file = _tls(tmp_path)
    with smtp_sink(ssl_context=context) as sink:
        settings = _settings(sink.port, security="ssl", ca_file=str(ca_file))
        [outcome] = _send(SmtpChannel("email", settings), _message())
        assert outcome.status == "sent"


def test_check_names_the_host_key_when_unreachable() -> None:
    channel = SmtpChannel("email", _settings(free_port(), timeout_seconds=1))
    with pytest.raises(ChannelError, match=r"channels\.email\.host: cannot reach"):
        asyncio.run(channel.check())


def test_dkim_signature_covers_the_unsubscribe_headers_and_verifies(sink: SmtpSink) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    channel = SmtpChannel("email", _settings(sink.port), dkim_key=DkimKey("school.ru", "lb", pem))
    _send(channel, _message())
    [(_, raw)] = sink.messages
    received = email.message_from_bytes(raw)
    signed = received["DKIM-Signature"].replace("\r\n", "").replace(" ", "")
    assert "list-unsubscribe:list-unsubscribe-post" in signed.lower()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"lb._domainkey.school.ru."
        return record

    assert dkim.verify(raw.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"), dnsfunc=dns)
