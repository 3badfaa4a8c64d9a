"""Tracking pixel, click redirect and unsubscribe (RFC 8058), on the links
:mod:`livebase.delivery.links` signs at send time.

- ``GET /t/o/{token}/{sig}.gif``: a 1×1 GIF, the open recorded;
- ``GET /t/c/{token}/{index}/{sig}``: 302 to the URL recorded for that link when the message
  was sent — a tampered, truncated or unknown link gets 404, never a redirect;
- ``GET /u/{token}/{sig}``: the preferences page (this channel, all channels, pause 30 days);
  it changes nothing (mail scanners follow GET links);
- ``POST /u/{token}/{sig}``: with ``List-Unsubscribe=One-Click`` (RFC 8058) or the page's
  form; no cookie, no login; effective when the answer is sent; repeating it is harmless.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from livebase.orchestrate.reactions import MessageRef, record_hit, unsubscribe
from livebase.web.app import ServiceState
from livebase.web.deps import service_state
from livebase.web.errors import ServiceError

__all__ = ["router"]

router = APIRouter()

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_MAX_PART = 128


def _ref(con: Any, message: Any) -> MessageRef:
    """The outbox row of a tracked message (playbook, step…), or what the link knows."""
    from dataclasses import replace

    from livebase.orchestrate.reactions import UnknownMessage, message_ref

    try:
        return replace(message_ref(con, message.message_key), address_hash=message.address_hash)
    except UnknownMessage:
        return MessageRef(
            key=message.message_key,
            customer_id=message.customer_id,
            playbook=None,
            occurrence=None,
            step=None,
            channel=message.channel,
            address_hash=message.address_hash,
        )


_HEX = frozenset("0123456789abcdef")


def _checked(*parts: str) -> None:
    """Tokens and signatures are lower-case hex: anything else is an unknown link."""
    if any(not p or len(p) > _MAX_PART or not set(p) <= _HEX for p in parts):
        raise ServiceError(404, "not_found", "unknown link")


def _open(state: ServiceState, token: str, sig: str) -> None:
    from livebase.delivery.links import resolve_message  # type: ignore[import-not-found,unused-ignore]

    _checked(token, sig)
    keys = state.signing_keys()
    with state.ops.begin() as con:
        message = resolve_message(con, keys, "open", token, sig)
        if message is None:
            raise ServiceError(404, "not_found", "unknown link")
        record_hit(con, _ref(con, message), "opened", state.now())


@router.get("/t/o/{token}/{sig}.gif")
async def open_pixel(
    token: str, sig: str, state: ServiceState = Depends(service_state)
) -> Response:
    """The open pixel."""
    await run_in_threadpool(_open, state, token, sig)
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


def _click(state: ServiceState, token: str, index: int, sig: str) -> str:
    from livebase.delivery.links import resolve_click  # type: ignore[import-not-found,unused-ignore]

    _checked(token, sig)
    keys = state.signing_keys()
    with state.ops.begin() as con:
        target = resolve_click(con, keys, token, index, sig)
        if target is None:
            raise ServiceError(404, "not_found", "unknown link")
        record_hit(con, _ref(con, target.message), "clicked", state.now(), index=index)
    return str(target.url)


@router.get("/t/c/{token}/{index}/{sig}")
async def click(
    token: str, index: str, sig: str, state: ServiceState = Depends(service_state)
) -> Response:
    """Redirect to the URL recorded at send time."""
    if not index.isdigit() or len(index) > 4:
        raise ServiceError(404, "not_found", "unknown link")
    url = await run_in_threadpool(_click, state, token, int(index), sig)
    return RedirectResponse(url, status_code=302)


def _resolve_unsubscribe(state: ServiceState, token: str, sig: str) -> Any:
    from livebase.delivery.links import resolve_message  # type: ignore[import-not-found,unused-ignore]

    _checked(token, sig)
    with state.ops.read() as con:
        message = resolve_message(con, state.signing_keys(), "unsubscribe", token, sig)
    if message is None:
        raise ServiceError(404, "not_found", "unknown link")
    return message


@router.get("/u/{token}/{sig}", response_class=HTMLResponse)
async def unsubscribe_page(
    token: str, sig: str, state: ServiceState = Depends(service_state)
) -> HTMLResponse:
    """The preferences page: shows choices, changes nothing."""
    from livebase.web.pages import render_page

    message = await run_in_threadpool(_resolve_unsubscribe, state, token, sig)
    html = render_page(
        "unsubscribe.html",
        language=state.workspace.config.language,
        channel=message.channel,
        action=f"/u/{token}/{sig}",
        done=None,
    )
    return HTMLResponse(html)


def _unsubscribe(state: ServiceState, token: str, sig: str, choice: str, one_click: bool) -> Any:
    from livebase.delivery.links import resolve_message  # type: ignore[import-not-found,unused-ignore]

    _checked(token, sig)
    now = state.now()
    with state.ops.begin() as con:
        message = resolve_message(con, state.signing_keys(), "unsubscribe", token, sig)
        if message is None:
            raise ServiceError(404, "not_found", "unknown link")
        unsubscribe(
            con,
            _ref(con, message),
            now,
            choice=choice,  # type: ignore[arg-type]
            channels=dict(state.workspace.config.channels),
            evidence={"one_click": one_click},
        )
    return message


@router.post("/u/{token}/{sig}")
async def unsubscribe_post(
    token: str, sig: str, request: Request, state: ServiceState = Depends(service_state)
) -> Response:
    """RFC 8058 one-click (``List-Unsubscribe=One-Click``) or the page's choice."""
    from livebase.web.pages import render_page

    body = (await request.body()).decode("utf-8", errors="replace")
    fields = dict(parse_qsl(body, keep_blank_values=True))
    one_click = fields.get("List-Unsubscribe") == "One-Click"
    choice = fields.get("choice", "channel")
    if choice not in ("channel", "all", "pause"):
        raise ServiceError(422, "invalid_request", "choice must be channel, all or pause")
    message = await run_in_threadpool(_unsubscribe, state, token, sig, choice, one_click)
    if one_click:
        return Response(b"unsubscribed\n", 200, media_type="text/plain")
    html = render_page(
        "unsubscribe.html",
        language=state.workspace.config.language,
        channel=message.channel,
        action=f"/u/{token}/{sig}",
        done=choice,
    )
    return HTMLResponse(html)
