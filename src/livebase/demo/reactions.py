"""Simulated customers read what landed in the demo's receivers and react through the real
paths: the open pixel and the click links of an e-mail are resolved and recorded exactly as the
service's tracking endpoints do (:func:`~livebase.delivery.links.resolve_message`,
:func:`~livebase.delivery.links.resolve_click`, :func:`~livebase.orchestrate.reactions.record_hit`);
push and SMS get the provider's delivery report
(:func:`~livebase.orchestrate.reactions.record_provider_report`). A message may also cause a
purchase: returned as a :class:`Purchase` for the simulation to submit when it happens.

What each customer does is drawn from a generator seeded by the simulation's seed and the
message's own token, so the outcome of a message does not depend on the order the receivers
saw them in.

>>> [m.token for m in parse_webhook_lines('{"message": "ab12", "idempotency_key": "k"}\\n', "push")]
['ab12']
"""

from __future__ import annotations

import binascii
import csv
import email
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.engine import Connection

from livebase.delivery.links import SigningKeys, resolve_click, resolve_message
from livebase.orchestrate.reactions import (
    MessageRef,
    ProviderReport,
    UnknownMessage,
    message_ref,
    record_hit,
    record_provider_report,
)

__all__ = [
    "CLICK_SHARE",
    "EFFECTS",
    "PRICES",
    "PRICE_P",
    "REACH",
    "SEGMENT_FACTOR",
    "Purchase",
    "Received",
    "SinkReader",
    "effect_of",
    "parse_email",
    "parse_webhook_lines",
    "react",
]

EFFECTS: dict[tuple[str, str], float] = {
    ("email", "email"): 0.09,
    ("push", "push"): 0.05,
    ("sms", "sms"): 0.0005,
    ("email", "welcome"): 0.05,
    ("email", "first-lesson"): 0.04,
    ("push", "nudge"): 0.03,
    ("tasks", "call"): 0.12,
}
"""(channel, step) → the chance a delivered message causes a purchase (before the segment
multiplier). Steps not listed add 0.03 on e-mail and 0.02 elsewhere."""
REACH = {"email": 0.35, "push": 0.60, "sms": 0.95, "tasks": 0.7}
"""Share of delivered messages opened (e-mail), tapped (push), read (SMS) or answered (call);
only those who were reached buy because of the message."""
CLICK_SHARE = 0.25
"""Share of e-mail openers who click its first link (a push tap is always a click)."""
SEGMENT_FACTOR = {"At Risk": 1.4, "Can't Lose": 1.4, "New": 1.2}
PRICES = np.array([1_990, 4_990, 9_900, 14_900, 29_900])
PRICE_P = np.array([0.25, 0.3, 0.2, 0.2, 0.05])

_OPEN = re.compile(r"/t/o/([0-9a-f]+)/([0-9a-f]+)\.gif")
_CLICK = re.compile(r"/t/c/([0-9a-f]+)/(\d+)/([0-9a-f]+)")


def effect_of(channel: str, step: str, segment: str | None) -> float:
    """The true chance that a delivered message causes a purchase.

    >>> effect_of("email", "email", "At Risk") == 0.09 * 1.4
    True
    >>> effect_of("email", "unknown-step", None)
    0.03
    """
    base = EFFECTS.get((channel, step), 0.03 if channel == "email" else 0.02)
    return base * SEGMENT_FACTOR.get(segment or "", 1.0)


@dataclass(frozen=True)
class Purchase:
    """A purchase the simulation will submit when it happens (``at``: workspace local time)."""

    customer_id: str
    at: datetime
    amount: float
    cause: str | None
    """``playbook:step`` of the message that caused it, None for the base's own purchases."""


@dataclass(frozen=True)
class Received:
    """One message as its receiver holds it."""

    sink: str
    """``email``, the webhook channel's name (``push``, ``sms``) or ``tasks``."""
    token: str
    """The opaque token of the outbox key (every channel carries it)."""
    key: str | None = None
    """The outbox key, when the message says it (webhook bodies)."""
    open_sig: str | None = None
    clicks: tuple[tuple[int, str], ...] = ()
    """(index, signature) of each tracked link."""
    customer_id: str | None = None
    playbook: str | None = None
    step: str | None = None


def _links(text: str) -> tuple[str | None, str | None, tuple[tuple[int, str], ...]]:
    opened = _OPEN.search(text)
    clicks = {(int(m.group(2)), m.group(3)): m.group(1) for m in _CLICK.finditer(text)}
    token = opened.group(1) if opened else next(iter(clicks.values()), None)
    return token, opened.group(2) if opened else None, tuple(sorted(clicks))


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_TYPE = re.compile(rb"(?im)^content-type:[ \t]*([^;\s]+)((?:.*)(?:\r?\n[ \t].*)*)")
_BOUNDARY = re.compile(rb'(?i)boundary="?([^";\r\n]+)"?')
_CHARSET = re.compile(rb'(?i)charset="?([^";\s]+)"?')
_ENCODING = re.compile(rb"(?im)^content-transfer-encoding:[ \t]*(\S+)")
_TEXT_TYPES = (b"text/html", b"text/plain")


def _split(raw: bytes) -> tuple[bytes, bytes]:
    found = _HEADER_END.search(raw)
    return (raw, b"") if found is None else (raw[: found.start()], raw[found.end() :])


def _decoded(headers: bytes, body: bytes) -> str:
    encoding = _ENCODING.search(headers)
    kind = encoding.group(1).lower() if encoding else b"7bit"
    if kind == b"base64":
        data = binascii.a2b_base64(body)
    elif kind == b"quoted-printable":
        data = binascii.a2b_qp(body)
    else:
        data = body
    charset = _CHARSET.search(headers)
    name = charset.group(1).decode("ascii", "replace") if charset else "utf-8"
    try:
        return data.decode(name, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _body_text(raw: bytes) -> str | None:
    """The HTML part (else the plain-text part) of a one-level multipart/alternative message,
    as livebase's e-mail channel writes them; None when the message is shaped otherwise."""
    headers, body = _split(raw)
    kind = _CONTENT_TYPE.search(headers)
    if kind is None:
        return None
    if not kind.group(1).lower().startswith(b"multipart/"):
        return _decoded(headers, body) if kind.group(1).lower() in _TEXT_TYPES else None
    boundary = _BOUNDARY.search(kind.group(2))
    if boundary is None:
        return None
    found: dict[bytes, str] = {}
    for chunk in body.split(b"--" + boundary.group(1))[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        part_headers, part_body = _split(chunk.lstrip(b"\r\n"))
        part_kind = _CONTENT_TYPE.search(part_headers)
        name = part_kind.group(1).lower() if part_kind else b"text/plain"
        if name.startswith(b"multipart/"):
            return None  # nested parts: left to the e-mail parser
        if name in _TEXT_TYPES and name not in found:
            found[name] = _decoded(part_headers, part_body)
    return found.get(b"text/html", found.get(b"text/plain"))


def parse_email(raw: bytes) -> Received | None:
    """The tracked links of an ``.eml`` file (None when it has none).

    Messages shaped as livebase writes them (one text part, or one level of
    multipart/alternative with base64, quoted-printable or plain parts) are read directly;
    any other shape goes through the standard e-mail parser.

    >>> raw = (b"Content-Type: text/html\\r\\n\\r\\n<a href='https://x/t/c/ab/1/cd'>go</a>"
    ...        b"<img src='https://x/t/o/ab/ef.gif'>")
    >>> parse_email(raw)
    Received(sink='email', token='ab', key=None, open_sig='ef', clicks=((1, 'cd'),), customer_id=None, playbook=None, step=None)
    """
    text = _body_text(raw)
    if text is None:
        text = _parsed_text(raw)
    token, open_sig, clicks = _links(text)
    if token is None:
        return None
    return Received("email", token, open_sig=open_sig, clicks=clicks)


def _parsed_text(raw: bytes) -> str:
    """The HTML (else plain-text) part found by the standard e-mail parser."""
    message = email.message_from_bytes(raw)  # the compat32 parser: ten times faster here
    text = ""
    for part in message.walk():
        if part.get_content_type() in ("text/html", "text/plain"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload.decode(part.get_content_charset() or "utf-8", "replace")
            if part.get_content_type() == "text/html":
                break
    return text


def parse_webhook_lines(text: str, sink: str) -> list[Received]:
    """The messages of a webhook receiver's JSON lines."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        body = json.loads(line)
        _, _, clicks = _links(str(body.get("text") or ""))
        out.append(
            Received(
                sink,
                str(body["message"]),
                key=body.get("idempotency_key"),
                clicks=clicks,
                customer_id=body.get("customer_id"),
                playbook=body.get("playbook"),
                step=body.get("step"),
            )
        )
    return out


class SinkReader:
    """What arrived in the receivers since the last :meth:`new` (files are only appended to)."""

    def __init__(self, root: Path, *, email_dir: Path, tasks: Path) -> None:
        self.root = root
        self.email_dir = email_dir
        self.tasks = tasks
        self._seen: set[str] = set()
        self._offsets: dict[Path, int] = {}

    def _tail(self, path: Path) -> str:
        if not path.exists():
            return ""
        with path.open("rb") as source:
            source.seek(self._offsets.get(path, 0))
            data = source.read()
        self._offsets[path] = self._offsets.get(path, 0) + len(data)
        return data.decode("utf-8-sig" if self._offsets[path] == len(data) else "utf-8")

    def new(self) -> list[Received]:
        """The messages received since the last call, in a stable order (by sink and token)."""
        out: list[Received] = []
        if self.email_dir.exists():
            for path in self.email_dir.glob("*.eml"):
                if path.name in self._seen:
                    continue
                self._seen.add(path.name)
                parsed = parse_email(path.read_bytes())
                if parsed is not None:
                    out.append(parsed)
        for path in sorted(self.root.glob("*.jsonl")):
            out += parse_webhook_lines(self._tail(path), path.stem)
        text = self._tail(self.tasks)
        if text:
            rows = csv.reader(io.StringIO(text), delimiter=";")
            for row in rows:
                if len(row) < 8 or row[0] == "message":
                    continue
                out.append(Received("tasks", row[0], customer_id=row[2], playbook=row[6],
                                    step=row[7]))  # fmt: skip
        return sorted(out, key=lambda m: (m.sink, m.token))


def _ref(con: Connection, keys: SigningKeys, message: Received) -> MessageRef | None:
    """The outbox row a received message is about, found the way the service finds it."""
    try:
        if message.open_sig is not None:
            tracked = resolve_message(con, keys, "open", message.token, message.open_sig)
            return None if tracked is None else message_ref(con, tracked.message_key)
        if message.key is not None:
            return message_ref(con, message.key)
    except UnknownMessage:
        return None
    if message.customer_id is None:
        return None
    return MessageRef(message.token, message.customer_id, message.playbook, None,
                      message.step, message.sink)  # fmt: skip


def _generator(seed: int, token: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{token}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def react(
    con: Connection,
    keys: SigningKeys,
    messages: list[Received],
    *,
    sent_at: datetime,
    zone: ZoneInfo,
    seed: int,
    segments: Mapping[str, str],
) -> tuple[list[Purchase], Counter[str]]:
    """Record every customer's reaction to ``messages`` (sent at ``sent_at``, aware) in the
    operational store, in the caller's transaction; returns the purchases the messages caused
    and counts of what was recorded."""
    purchases: list[Purchase] = []
    counts: Counter[str] = Counter()
    for message in messages:
        ref = _ref(con, keys, message)
        if ref is None or ref.playbook is None or ref.step is None:
            counts["unresolved"] += 1
            continue
        channel = ref.channel
        counts[f"{channel} received"] += 1
        u = _generator(seed, message.token).random(6)
        if message.key is not None:  # the provider reports delivery of a push or an SMS
            report = ProviderReport(ref.key, None, "delivered")
            record_provider_report(con, report, sent_at + timedelta(minutes=1))
        reach = REACH.get(channel, 0.5)
        if u[0] >= reach:
            continue
        seen_at = sent_at + timedelta(minutes=10 + 300 * float(u[1]))
        if message.open_sig is not None:
            record_hit(con, ref, "opened", seen_at)
            counts[f"{channel} opened"] += 1
        clicks = message.open_sig is None or u[2] < CLICK_SHARE
        if message.clicks and clicks:
            index, sig = message.clicks[0]
            target = resolve_click(con, keys, message.token, index, sig)
            if target is not None:
                record_hit(con, ref, "clicked", seen_at + timedelta(minutes=1), index=index)
                counts[f"{channel} clicked"] += 1
        chance = effect_of(channel, ref.step, segments.get(ref.customer_id)) / reach
        if u[3] < chance:
            local = sent_at.astimezone(zone).replace(tzinfo=None)
            at = local + timedelta(days=0.1 + 4.9 * float(u[4]))
            price = float(PRICES[int(np.searchsorted(np.cumsum(PRICE_P), u[5]))])
            purchases.append(Purchase(ref.customer_id, at, price, f"{ref.playbook}:{ref.step}"))
    return purchases, counts
