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

import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
    "email_bytes",
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


@functools.lru_cache(maxsize=64)  # one sender per channel: parsed once, not per message
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


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _address(display: str, mailbox: str, encode: Callable[[str], str]) -> str:
    if not display:
        return mailbox
    return formataddr((display, mailbox)) if display.isascii() else f"{encode(display)} <{mailbox}>"


@functools.lru_cache(maxsize=64)  # one sender per channel: parsed and encoded once
def _from_header(sender: str, encode: Callable[[str], str]) -> str:
    return _address(*parseaddr(_one_line(sender)), encode)


def _headers(
    message: OutgoingMessage,
    *,
    sender: str,
    reply_to: str | None,
    unsubscribe_mailto: str | None,
    encode: Callable[[str], str],
) -> list[tuple[str, str]]:
    """The message's own headers, in order (the MIME headers come from the body). Line breaks
    in values become spaces: a header cannot be smuggled in through a name or a subject."""
    headers = [
        ("From", _from_header(sender, encode)),
        ("To", _address(_one_line(message.name or ""), _one_line(message.address), encode)),
        ("Subject", encode(_one_line(message.subject or ""))),
    ]
    if message.date is not None:
        headers.append(("Date", _date_header(message.date)))
    headers.append(("Message-ID", message_id(message.key, sender)))
    if reply_to:
        headers.append(("Reply-To", _one_line(reply_to)))
    if message.purpose == "marketing" or message.unsubscribe_url:
        targets: list[str] = []
        if message.unsubscribe_url:
            targets.append(f"<{message.unsubscribe_url}>")
        if unsubscribe_mailto:
            subject = quote(f"unsubscribe {message.token}")
            targets.append(f"<mailto:{unsubscribe_mailto}?subject={subject}>")
        if targets:
            headers.append(("List-Unsubscribe", ",\r\n ".join(targets)))
        if message.unsubscribe_url:
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return headers


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
        email.set_boundary(_boundary(message))  # derived from the key, not random
    else:
        email = text_part
    for name, value in _headers(
        message,
        sender=sender,
        reply_to=reply_to,
        unsubscribe_mailto=unsubscribe_mailto,
        encode=_header,
    ):
        email[name] = " ".join(value.split()) if name == "List-Unsubscribe" else value
    return email


def _boundary(message: OutgoingMessage) -> str:
    return f"==lb-{message.token}=="


def _encoded_words(value: str) -> str:
    """An unstructured header value as RFC 2047 encoded words (base64, at most 75 characters
    each, folded onto continuation lines), or as is when ASCII.

    >>> _encoded_words("Мы скучаем")
    '=?utf-8?b?0JzRiyDRgdC60YPRh9Cw0LXQvA==?='
    """
    if value.isascii():
        return value
    data = value.encode("utf-8")
    words: list[bytes] = []
    start = 0
    while start < len(data):  # 45 bytes: 60 base64 characters, a 72-wide word
        end = min(start + 45, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never split a character
            end -= 1
        words.append(data[start:end])
        start = end
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


@functools.lru_cache(maxsize=16)  # a batch of messages shares its date
def _date_header(date: datetime) -> str:
    return format_datetime(date)


def _part(subtype: str, text: str) -> bytes:
    body = base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode("ascii") + body


def email_bytes(
    message: OutgoingMessage,
    *,
    sender: str,
    reply_to: str | None = None,
    unsubscribe_mailto: str | None = None,
    dkim_key: DkimKey | None = None,
) -> bytes:
    """The e-mail of :func:`build_email`, written straight to the bytes sent on the wire (CRLF
    line ends, DKIM-signed when a key is given): the same headers and parts, several times
    faster than generating them through :mod:`email`.

    >>> from datetime import UTC, datetime
    >>> from email import message_from_bytes
    >>> m = OutgoingMessage(key="1|w|1|email", customer_id="1", channel="email",
    ...     purpose="marketing", address="anna@example.ru", subject="Hi", text="Привет",
    ...     unsubscribe_url="https://lb.example/u/abc/sig")
    >>> parsed = message_from_bytes(email_bytes(m, sender="hello@school.ru"))
    >>> parsed["Subject"], parsed.get_payload(decode=True).decode()
    ('Hi', 'Привет')
    """
    headers = _headers(
        message,
        sender=sender,
        reply_to=reply_to,
        unsubscribe_mailto=unsubscribe_mailto,
        encode=_encoded_words,
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8")
    if message.html:
        boundary = _boundary(message).encode("ascii")
        raw = b"".join(
            (
                b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n',
                b"MIME-Version: 1.0\r\n",
                head,
                b"\r\n--" + boundary + b"\r\n",
                _part("plain", message.text),
                b"\r\n--" + boundary + b"\r\n",
                _part("html", message.html),
                b"\r\n--" + boundary + b"--\r\n",
            )
        )
    else:
        part = _part("plain", message.text)
        mime, _, body = part.partition(b"\r\n\r\n")
        raw = mime + b"\r\n" + head + b"\r\n" + body
    return sign_dkim(raw, dkim_key) if dkim_key is not None else raw


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
