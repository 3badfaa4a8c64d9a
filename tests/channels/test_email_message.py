"""The e-mail written straight to bytes says what the :mod:`email` package's message says:
every header and every part, for any text (Hypothesis)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message

from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.channels.base import OutgoingMessage
from livebase.channels.email_message import DKIM_HEADERS, build_email, email_bytes, to_bytes

HEADERS = [h for h in DKIM_HEADERS if h not in ("MIME-Version", "Content-Type")]
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=300)


def _seen(message: Message) -> dict[str, object]:
    """What a mail client shows: decoded headers (unfolded) and decoded parts."""
    headers = {}
    for name in HEADERS:
        value = message.get(name)
        if value is not None:
            value = " ".join(str(make_header(decode_header(str(value)))).split())
        headers[name] = value
    parts = [
        (part.get_content_type(), part.get_payload(decode=True).decode("utf-8"))
        for part in message.walk()
        if not part.is_multipart()
    ]
    return {"headers": headers, "type": message.get_content_type(), "parts": parts}


@settings(max_examples=150, deadline=None)
@given(
    subject=texts,
    name=texts,
    text=texts,
    html=st.one_of(st.none(), texts.filter(bool)),
    purpose=st.sampled_from(["marketing", "transactional"]),
    mailto=st.one_of(st.none(), st.just("unsubscribe@school.ru")),
    reply_to=st.one_of(st.none(), st.just("help@school.ru")),
)
def test_bytes_say_what_the_email_package_says(
    subject: str,
    name: str,
    text: str,
    html: str | None,
    purpose: str,
    mailto: str | None,
    reply_to: str | None,
) -> None:
    message = OutgoingMessage(
        key="90001|winback|1|email",
        customer_id="90001",
        channel="email",
        purpose=purpose,  # type: ignore[arg-type]
        address="anna@example.ru",
        subject=subject,
        text=text,
        html=html,
        name=name,
        unsubscribe_url="https://lb.test/u/tok/sig" if purpose == "marketing" else None,
        date=datetime(2026, 6, 30, 12, 0, tzinfo=UTC),
    )
    options = {
        "sender": "Школа <hello@school.ru>",
        "reply_to": reply_to,
        "unsubscribe_mailto": mailto,
    }
    fast = email_bytes(message, **options)
    slow = to_bytes(build_email(message, **options))
    assert _seen(email.message_from_bytes(fast)) == _seen(email.message_from_bytes(slow))
    assert all(len(line) <= 998 for line in fast.split(b"\r\n"))
    assert b"\n" not in fast.replace(b"\r\n", b"")  # CRLF line ends only


def test_a_line_break_in_a_name_cannot_add_a_header() -> None:
    message = OutgoingMessage(
        key="1|w|1|email",
        customer_id="1",
        channel="email",
        purpose="transactional",
        address="anna@example.ru",
        text="hi",
        name="Anna\r\nBcc: victim@example.ru",
    )
    parsed = email.message_from_bytes(email_bytes(message, sender="hello@school.ru"))
    assert parsed["Bcc"] is None
    assert "Anna" in parsed["To"]
