"""Building the e-mail itself: multipart text + HTML, Message-ID from the outbox key, RFC 8058
one-click unsubscribe headers, and a DKIM signature over them.

>>> from datetime import UTC, datetime
>>> from livebase.channels.base import OutgoingMessage
>>> m = OutgoingMessage(key="90001|winback|1|email", customer_id="90001", channel="email",
...     purpose="marketing", address="anna@example.ru", subject="Мы скучаем", text="Привет",
...     html="<p>Привет</p>", unsubscribe_url="https://lb.example/u/abc/sig",
...     date=datetime(2026, 6, 30, 12, tzinfo=UTC))
>>> email = build_email(m, sender="Школа <hello@school.ru>", unsubscribe_mailto="unsub@school.ru")
>>> email["Message-ID"]
'<0e95d0219ba987238d30791d.lb@school.ru>'
>>> email["List-Unsubscribe"]
'<https://lb.example/u/abc/sig>, <mailto:unsub@school.ru?subject=unsubscribe%200e95d0219ba987238d30791d>'
>>> email["List-Unsubscribe-Post"]
'List-Unsubscribe=One-Click'
>>> email.get_content_type()
'multipart/alternative'
"""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

from livebase.channels.base import OutgoingMessage

SMTP_COMPAT = compat32.clone(linesep="\r\n")

__all__ = [
    "DKIM_HEADERS",
    "DkimKey",
    "build_email",
    "envelope_sender",
    "message_id",
    "sign_dkim",
    "to_bytes",
]

DKIM_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
)
"""Headers the DKIM signature covers (RFC 8058 asks for both List-Unsubscribe headers)."""


@dataclass(frozen=True)
class DkimKey:
    """A DKIM signing key: ``selector._domainkey.domain`` publishes its public half."""

    domain: str
    selector: str
    private_key_pem: bytes


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "livebase.local"


def message_id(key: str, sender: str) -> str:
    """The Message-ID of an outbox key: the same on every resend, no personal data in it.

    >>> message_id("90001|winback|1|email", "hello@school.ru")
    '<0e95d0219ba987238d30791d.lb@school.ru>'
    """
    from livebase.channels.base import message_token

    return f"<{message_token(key)}.lb@{_domain(sender)}>"


def _header(value: str) -> str:
    """An unstructured header value, RFC 2047-encoded when not ASCII."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


def _address(display: str, address: str) -> str:
    if not display:
        return address
    return (
        formataddr((_header(display), address))
        if display.isascii()
        else f"{_header(display)} <{address}>"
    )


def build_email(
    message: OutgoingMessage,
    *,
    sender: str,
    reply_to: str | None = None,
    unsubscribe_mailto: str | None = None,
) -> Message:
    """The e-mail for ``message`` (see the module docstring).

    Marketing messages always carry ``List-Unsubscribe`` (the HTTPS link, then the mailto when
    configured) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. Built with the
    compat32 MIME classes: several times cheaper than ``EmailMessage`` header parsing.
    """
    text_part = MIMEText(message.text, "plain", "utf-8")
    email: Message
    if message.html:
        email = MIMEMultipart("alternative")
        email.attach(text_part)
        email.attach(MIMEText(message.html, "html", "utf-8"))
        email.set_boundary(f"==lb-{message.token}==")  # derived from the key, not random
    else:
        email = text_part
    sender_name, sender_address = parseaddr(sender)
    email["From"] = _address(sender_name, sender_address)
    email["To"] = _address(message.name or "", message.address)
    email["Subject"] = _header(message.subject or "")
    if message.date is not None:
        email["Date"] = format_datetime(message.date)
    email["Message-ID"] = message_id(message.key, sender)
    if reply_to:
        email["Reply-To"] = reply_to
    if message.purpose == "marketing" or message.unsubscribe_url:
        targets: list[str] = []
        if message.unsubscribe_url:
            targets.append(f"<{message.unsubscribe_url}>")
        if unsubscribe_mailto:
            subject = quote(f"unsubscribe {message.token}")
            targets.append(f"<mailto:{unsubscribe_mailto}?subject={subject}>")
        if targets:
            email["List-Unsubscribe"] = ", ".join(targets)
        if message.unsubscribe_url:
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email


def sign_dkim(raw: bytes, key: DkimKey) -> bytes:
    """``raw`` with a DKIM-Signature header prepended (relaxed/simple, rsa-sha256)."""
    import dkim

    present = {
        line.split(b":", 1)[0].strip().lower()
        for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        if b":" in line
    }
    headers = [h.encode() for h in DKIM_HEADERS if h.lower().encode() in present]
    signature = dkim.sign(
        raw,
        key.selector.encode(),
        key.domain.encode(),
        key.private_key_pem,
        include_headers=headers,
    )
    return bytes(signature) + raw


def to_bytes(email: Message, dkim_key: DkimKey | None = None) -> bytes:
    """The message as sent on the wire (CRLF line ends), DKIM-signed when a key is given."""
    raw = email.as_bytes(policy=SMTP_COMPAT)
    return sign_dkim(raw, dkim_key) if dkim_key is not None else raw


def envelope_sender(sender: str) -> str:
    """The bare address of a From header (the SMTP MAIL FROM)."""
    return str(Address(addr_spec=parseaddr(sender)[1]).addr_spec)
