"""Signed links: click tracking, the open pixel and one-click unsubscribe, shared by the worker
(which writes them into messages) and the service (which answers them).

A link carries the message's opaque token (:func:`~livebase.channels.base.message_token`, no
personal data), the link's index and an HMAC-SHA256 signature over the *outbox key*, the
purpose and the index, made with the workspace's newest signing key; any key of
``signing_keys`` verifies (rotation keeps old links working). The target URL is not in the link:
it is recorded at send time in ``message_links`` and looked up on click, so only URLs that were
in a sent message can be redirected to (no open redirect).

Paths the service serves (``service.base_url`` in front)::

    /t/c/<token>/<index>/<sig>   click → 302 to the recorded URL
    /t/o/<token>/<sig>.gif       open pixel
    /u/<token>/<sig>             unsubscribe: GET shows a page, POST unsubscribes (RFC 8058)

>>> keys = [("k1", b"0" * 32)]
>>> url = click_url("https://lb.school.ru", keys, "90001|winback|1|email", 2)
>>> url
'https://lb.school.ru/t/c/0e95d0219ba987238d30791d/2/49acd30a6a8f193801869e7f'
>>> token, index, sig = url.rsplit("/", 3)[1:]
>>> verify(keys, "click", "90001|winback|1|email", int(index), sig)
True
>>> verify([("k2", b"1" * 32)], "click", "90001|winback|1|email", int(index), sig)
False
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from livebase.channels.base import message_token
from livebase.ops.tables import MESSAGE_LINKS, MESSAGE_REFS
from livebase.ops.writes import insert_ignore

__all__ = [
    "CLICK_PATH",
    "OPEN_PATH",
    "UNSUBSCRIBE_PATH",
    "ClickTarget",
    "LinkPurpose",
    "SigningKeys",
    "TrackedMessage",
    "click_url",
    "open_url",
    "record_message",
    "resolve_click",
    "resolve_message",
    "sign",
    "unsubscribe_url",
    "verify",
]

SigningKeys = Sequence[tuple[str, bytes]]
LinkPurpose = Literal["click", "open", "unsubscribe"]
CLICK_PATH = "/t/c/{token}/{index}/{sig}"
OPEN_PATH = "/t/o/{token}/{sig}.gif"
UNSUBSCRIBE_PATH = "/u/{token}/{sig}"
_SIG_CHARS = 24


def sign(keys: SigningKeys, purpose: LinkPurpose, message_key: str, index: int = 0) -> str:
    """The signature of a link: HMAC-SHA256 with the newest key, hex, shortened to 96 bits."""
    if not keys:
        raise ValueError("no signing key: run 'livebase keys rotate-signing'")
    return _mac(keys[0][1], purpose, message_key, index)


def _mac(key: bytes, purpose: str, message_key: str, index: int) -> str:
    text = f"{purpose}\x00{message_key}\x00{index}".encode()
    # the one-shot C digest: the same HMAC as hmac.new(key, text, sha256), a third of the time
    return hmac.digest(key, text, "sha256").hex()[:_SIG_CHARS]


def verify(
    keys: SigningKeys, purpose: LinkPurpose, message_key: str, index: int, signature: str
) -> bool:
    """Whether ``signature`` was made by any of ``keys`` for this purpose, message and index."""
    return any(
        hmac.compare_digest(_mac(key, purpose, message_key, index), signature) for _, key in keys
    )


def click_url(base_url: str, keys: SigningKeys, message_key: str, index: int) -> str:
    """The tracking URL of link ``index`` (1-based) of a message."""
    path = CLICK_PATH.format(
        token=message_token(message_key), index=index, sig=sign(keys, "click", message_key, index)
    )
    return base_url.rstrip("/") + path


def open_url(base_url: str, keys: SigningKeys, message_key: str) -> str:
    """The URL of the open pixel of a message."""
    path = OPEN_PATH.format(token=message_token(message_key), sig=sign(keys, "open", message_key))
    return base_url.rstrip("/") + path


def unsubscribe_url(base_url: str, keys: SigningKeys, message_key: str) -> str:
    """The one-click unsubscribe URL of a message (List-Unsubscribe and the footer link)."""
    path = UNSUBSCRIBE_PATH.format(
        token=message_token(message_key), sig=sign(keys, "unsubscribe", message_key)
    )
    return base_url.rstrip("/") + path


@dataclass(frozen=True)
class TrackedMessage:
    """A sent message as the service finds it from a link's token."""

    token: str
    message_key: str
    customer_id: str
    channel: str
    purpose: str
    address_hash: str | None


@dataclass(frozen=True)
class ClickTarget:
    """Where a verified click goes, and which message it belongs to."""

    message: TrackedMessage
    index: int
    url: str


def record_message(
    con: Connection,
    *,
    message_key: str,
    customer_id: str,
    channel: str,
    purpose: str,
    address_hash: str | None,
    urls: Iterable[str],
    now: datetime,
) -> str:
    """Record a message's token and its link targets (index 1, 2, …); returns the token.

    Idempotent: a resend of the same message records nothing new.
    """
    token = message_token(message_key)
    insert_ignore(
        con,
        MESSAGE_REFS,
        [
            {
                "token": token,
                "message_key": message_key,
                "customer_id": customer_id,
                "channel": channel,
                "purpose": purpose,
                "address_hash": address_hash,
                "created_at": now,
            }
        ],
    )
    rows = [{"token": token, "idx": i, "url": url} for i, url in enumerate(urls, start=1)]
    insert_ignore(con, MESSAGE_LINKS, rows)
    return token


def _message(con: Connection, token: str) -> TrackedMessage | None:
    row = (
        con.execute(sa.select(MESSAGE_REFS).where(MESSAGE_REFS.c.token == token)).mappings().first()
    )
    if row is None:
        return None
    return TrackedMessage(
        token=row["token"],
        message_key=row["message_key"],
        customer_id=row["customer_id"],
        channel=row["channel"],
        purpose=row["purpose"],
        address_hash=row["address_hash"],
    )


def resolve_message(
    con: Connection, keys: SigningKeys, purpose: LinkPurpose, token: str, signature: str
) -> TrackedMessage | None:
    """The message of an open-pixel or unsubscribe link, or None when unknown or badly signed."""
    message = _message(con, token)
    if message is None or not verify(keys, purpose, message.message_key, 0, signature):
        return None
    return message


def resolve_click(
    con: Connection, keys: SigningKeys, token: str, index: int, signature: str
) -> ClickTarget | None:
    """The recorded target of a click link, or None when unknown or badly signed."""
    message = _message(con, token)
    if message is None or not verify(keys, "click", message.message_key, index, signature):
        return None
    url = con.execute(
        sa.select(MESSAGE_LINKS.c.url).where(
            MESSAGE_LINKS.c.token == token, MESSAGE_LINKS.c.idx == index
        )
    ).scalar_one_or_none()
    if url is None:
        return None
    return ClickTarget(message, index, str(url))
