"""Tracking pixel, click redirect and unsubscribe on the links delivery signs at send time.

Security: tampered, truncated, replayed and unknown tokens; open-redirect attempts; GET never
unsubscribes; RFC 8058 one-click POST without cookies, effective in the request, idempotent;
old links stay valid after a key rotation for service.old_link_days only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.ops.tables import CONSENTS, OUTBOX, SEND_LEDGER, SUPPRESSIONS

links = pytest.importorskip("livebase.delivery.links")

KEY = "c1|welcome|1|email"
TARGET = "https://school.example/course?utm=1"


def _send(service: Any) -> dict[str, str]:
    """Record a sent message with one link, as the worker does; returns its tracking paths."""
    now = service.client.app.state.livebase.now()
    keys = service.client.app.state.livebase.signing_keys()
    with service.ops.begin() as con:
        con.execute(
            OUTBOX.insert().values(
                key=KEY, customer_id="c1", playbook="welcome", occurrence=1, step="email",
                channel="email", due_at=now, status="sent", created_at=now, updated_at=now,
            )
        )  # fmt: skip
        links.record_message(
            con, message_key=KEY, customer_id="c1", channel="email", purpose="marketing",
            address_hash="h" * 64, urls=[TARGET], now=now,
        )  # fmt: skip
    base = "http://testserver"
    strip = len(base)
    return {
        "click": links.click_url(base, keys, KEY, 1)[strip:],
        "open": links.open_url(base, keys, KEY)[strip:],
        "unsubscribe": links.unsubscribe_url(base, keys, KEY)[strip:],
    }


def _ledger(service: Any) -> list[tuple[str, str]]:
    with service.ops.read() as con:
        rows = con.execute(
            sa.select(SEND_LEDGER.c.event_id, SEND_LEDGER.c.type).order_by(SEND_LEDGER.c.event_id)
        ).all()
    return [(r[0], r[1]) for r in rows]


def _suppressions(service: Any) -> list[tuple[str, str]]:
    with service.ops.read() as con:
        rows = con.execute(sa.select(SUPPRESSIONS.c.channel, SUPPRESSIONS.c.reason)).all()
    return [(r[0], r[1]) for r in rows]


def test_click_redirects_only_to_the_recorded_url(service: Any) -> None:
    paths = _send(service)
    r = service.client.get(paths["click"], follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == TARGET
    r = service.client.get(paths["click"], follow_redirects=False)
    assert _ledger(service) == [
        (f"{KEY}:clicked:1:1", "clicked"),
        (f"{KEY}:clicked:1:2", "clicked"),
    ]
    head, sig = paths["click"].rsplit("/", 1)
    token_path, _index = head.rsplit("/", 1)
    attempts = [
        f"{head}/{sig[:-1]}0" if sig[-1] != "0" else f"{head}/{sig[:-1]}1",  # tampered
        f"{head}/{sig[:10]}",  # truncated
        f"{token_path}/2/{sig}",  # another index with this signature
        f"{token_path}/1/{sig}?url=https://evil.example",  # open redirect attempt
        "/t/c/" + "0" * 24 + f"/1/{sig}",  # unknown token
        f"{token_path}/-1/{sig}",
    ]
    for path in attempts:
        r = service.client.get(path, follow_redirects=False)
        if "evil" in path:
            assert r.headers.get("location") == TARGET  # the query is ignored, never followed
            continue
        assert r.status_code == 404, path
        assert "location" not in r.headers


def test_open_pixel_records_each_open(service: Any) -> None:
    paths = _send(service)
    r = service.client.get(paths["open"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    service.client.get(paths["open"])
    assert [t for _, t in _ledger(service)] == ["opened", "opened"]
    assert service.client.get(paths["open"].replace(".gif", "0.gif")).status_code == 404


def test_get_never_unsubscribes_and_one_click_post_does_once(service: Any) -> None:
    paths = _send(service)
    page = service.client.get(paths["unsubscribe"])
    assert page.status_code == 200 and "<form" in page.text and "30" in page.text
    assert _ledger(service) == [] and _suppressions(service) == []
    service.client.cookies.clear()
    r = service.client.post(
        paths["unsubscribe"],
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    assert _suppressions(service) == [("email", "unsubscribe")]  # effective in the request
    again = service.client.post(paths["unsubscribe"], content=b"List-Unsubscribe=One-Click")
    assert again.status_code == 200
    assert _ledger(service) == [(f"{KEY}:unsubscribed", "unsubscribed")]
    with service.ops.read() as con:
        consents = con.execute(sa.select(CONSENTS.c.channel, CONSENTS.c.status)).all()
    assert [tuple(c) for c in consents] == [("email", "withdrawn")]
    tampered = paths["unsubscribe"][:-2] + (
        "00" if not paths["unsubscribe"].endswith("00") else "11"
    )
    assert service.client.post(tampered, content=b"List-Unsubscribe=One-Click").status_code == 404
    assert service.client.get(tampered).status_code == 404


def test_pause_for_30_days(service: Any) -> None:
    paths = _send(service)
    r = service.client.post(paths["unsubscribe"], data={"choice": "pause"})
    assert r.status_code == 200 and "30" in r.text
    now = service.client.app.state.livebase.now()
    with service.ops.read() as con:
        row = con.execute(sa.select(SUPPRESSIONS)).mappings().one()
    assert row["reason"] == "pause" and row["expires_at"] == now + timedelta(days=30)


def test_rotated_key_keeps_old_links_for_old_link_days(service: Any) -> None:
    from livebase.ops.signing import rotate_signing

    paths = _send(service)
    state = service.client.app.state.livebase
    days = state.settings.old_link_days
    rotate_signing(state.workspace.secrets(), now=state.now(), old_link_days=days)
    assert service.client.get(paths["click"], follow_redirects=False).status_code == 302
    start = state.now()
    state.now = lambda: start + timedelta(days=days + 1)
    assert service.client.get(paths["click"], follow_redirects=False).status_code == 404


def test_html_in_stored_values_is_escaped_on_the_page(service: Any) -> None:
    now = service.client.app.state.livebase.now()
    keys = service.client.app.state.livebase.signing_keys()
    key = "c2|x|1|<script>"
    with service.ops.begin() as con:
        links.record_message(
            con, message_key=key, customer_id="c2", channel="<script>alert(1)</script>",
            purpose="marketing", address_hash=None, urls=[], now=now,
        )  # fmt: skip
    path = links.unsubscribe_url("", keys, key)
    page = service.client.get(path)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sig=st.text(alphabet="0123456789abcdefABCDEF%./-_", min_size=1, max_size=40))
def test_no_forged_signature_ever_redirects(service: Any, sig: str) -> None:
    paths = _send_once(service)
    head, real = paths["click"].rsplit("/", 1)
    if sig == real:
        return
    r = service.client.get(f"{head}/{sig}", follow_redirects=False)
    assert r.status_code in (404, 405) and "location" not in r.headers


def _send_once(service: Any) -> dict[str, str]:
    cached = getattr(service, "_paths", None)
    if cached is None:
        cached = _send(service)
        service._paths = cached
    return cached
