"""The dashboard's pages: owner, marketer, analyst (and the owner's users page), by role.

The router reads the service's state from ``request.app.state.livebase`` (``workspace``,
``ops``, ``now``): ``create_app(workspace, routers=[dashboard.router])`` is all the wiring.
Pages only render: published results come from the snapshot, live rows from the operational
store (:mod:`livebase.web.dashboard._data`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from livebase.ops.users import ROLES, UserError, add_user, authenticate, list_users
from livebase.web.dashboard import _charts, _data
from livebase.web.dashboard._auth import (
    COOKIE,
    LOGIN_COOKIE,
    MAX_AGE,
    Session,
    Sessions,
    new_token,
    same_token,
)
from livebase.web.dashboard._texts import LANGUAGES, Texts

__all__ = ["PAGES", "STATIC", "router"]

PREFIX = "/dashboard"
PAGES: dict[str, tuple[str, ...]] = {
    "owner": ("owner",),
    "marketer": ("marketer",),
    "analyst": ("analyst",),
    "users": ("owner",),
}
"""Page → the roles that may open it (a role sees only its pages and actions)."""
HOME = {"owner": "owner", "marketer": "marketer", "analyst": "analyst"}

router = APIRouter(prefix=PREFIX, include_in_schema=False)


STATIC = {
    "chart.umd.min.js": "text/javascript; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
"""The dashboard's static files: Chart.js shipped in the package (no CDN), script, style."""


@lru_cache(maxsize=8)
def _static_bytes(name: str) -> bytes:
    from importlib import resources

    return resources.files("livebase.web.dashboard").joinpath("static", name).read_bytes()


@router.get("/static/{name}")
def static(name: str) -> Response:
    """A static file of the dashboard (only the known ones: no path is taken from the URL)."""
    if name not in STATIC:
        return Response(status_code=404)
    return Response(
        _static_bytes(name),
        media_type=STATIC[name],
        headers={"Cache-Control": "public, max-age=3600"},
    )


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("livebase.web.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env


def _state(request: Request) -> Any:
    return request.app.state.livebase


def _now(request: Request) -> datetime:
    now: Callable[[], datetime] | None = getattr(_state(request), "now", None)
    return now() if now is not None else datetime.now(UTC)


def _sessions(request: Request) -> Sessions:
    cached: Sessions | None = getattr(request.app.state, "dashboard_sessions", None)
    if cached is None:
        key = _state(request).workspace.secrets().signing_keys()[0][1]
        cached = Sessions(key)
        request.app.state.dashboard_sessions = cached
    return cached


def _session(request: Request) -> Session | None:
    return _sessions(request).load(request.cookies.get(COOKIE))


def _lang(request: Request, session: Session | None) -> str:
    if session is not None:
        return session.lang
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    return str(_state(request).workspace.config.language)


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )


def _render(request: Request, template: str, session: Session | None, **ctx: Any) -> HTMLResponse:
    t = Texts(_lang(request, session))
    state = _state(request)
    html = (
        _env()
        .get_template(template)
        .render(
            t=t,
            session=session,
            prefix=PREFIX,
            pages=[p for p, roles in PAGES.items() if session and session.role in roles],
            workspace=state.workspace.config.name,
            currency=state.workspace.config.currency,
            **ctx,
        )
    )
    response = HTMLResponse(html, status_code=ctx.get("status", 200))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'"
    )
    return response


def _guard(request: Request, page: str) -> Session | Response:
    """The session when its role may open ``page``; else a redirect to sign in, or 403."""
    session = _session(request)
    if session is None:
        return RedirectResponse(f"{PREFIX}/login?next={page}", status_code=303)
    if session.role not in PAGES[page]:
        return _render(
            request, "denied.html", session, status=403, home=HOME.get(session.role, "login")
        )
    return session


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The signed-in user's page, or the sign-in form."""
    session = _session(request)
    if session is None:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    return RedirectResponse(f"{PREFIX}/{HOME.get(session.role, 'login')}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "", error: str = "") -> Response:
    token = new_token()
    response = _render(
        request, "login.html", None, csrf=token, next=next if next in PAGES else "", error=error
    )
    _set_cookie(request, response, LOGIN_COOKIE, token)
    return response


@router.post("/login")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form(""),
) -> Response:
    """Check the password (argon2) and start a session with a fresh CSRF token."""
    if not same_token(request.cookies.get(LOGIN_COOKIE), csrf):
        return RedirectResponse(f"{PREFIX}/login?error=csrf", status_code=303)
    user = authenticate(_state(request).ops, username, password)
    if user is None:
        return RedirectResponse(f"{PREFIX}/login?error=password", status_code=303)
    lang = user.language or _lang(request, None)
    session = Session(user.username, user.role, lang, new_token())
    page = next if next in PAGES and user.role in PAGES[next] else HOME[user.role]
    response = RedirectResponse(f"{PREFIX}/{page}", status_code=303)
    _set_cookie(request, response, COOKIE, _sessions(request).dump(session))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    session = _session(request)
    if session is None or not same_token(session.csrf, csrf):
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.post("/language")
def language(request: Request, lang: str = Form("en"), csrf: str = Form("")) -> Response:
    session = _session(request)
    if session is None or not same_token(session.csrf, csrf) or lang not in LANGUAGES:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    new = Session(session.username, session.role, lang, session.csrf)
    response = RedirectResponse(f"{PREFIX}/{HOME[session.role]}", status_code=303)
    _set_cookie(request, response, COOKIE, _sessions(request).dump(new))
    return response


def _snapshot(request: Request) -> dict[str, Any] | None:
    return _data.read_snapshot(_state(request).workspace.root)


@router.get("/owner", response_class=HTMLResponse)
def owner(request: Request) -> Response:
    """Revenue from the base, repeat share, segments over time, alerts, the programme's
    incremental revenue against the global holdout with its interval."""
    session = _guard(request, "owner")
    if not isinstance(session, Session):
        return session
    snap = _snapshot(request)
    t = Texts(session.lang)
    charts = {}
    if snap:
        charts = {
            "revenue": _charts.revenue_chart(snap, t),
            "programme": _charts.programme_chart(snap, t),
            "segments": _charts.segments_chart(snap, t),
            "segment_value": _charts.segments_chart(snap, t, "revenue"),
        }
    return _render(request, "owner.html", session, snap=snap, charts=charts)


@router.get("/marketer", response_class=HTMLResponse)
def marketer(request: Request) -> Response:
    """Playbooks with state, volumes, caps hit, the next 7 days of planned sends, the funnel
    per step with cost, readouts and step escalation; pause and resume."""
    session = _guard(request, "marketer")
    if not isinstance(session, Session):
        return session
    ops = _state(request).ops
    snap = _snapshot(request)
    t = Texts(session.lang)
    planned = _data.planned_next_days(ops, _now(request))
    charts: dict[str, Any] = {
        "planned": _charts.planned_chart(planned, t),
        "funnels": {
            b["name"]: _charts.funnel_chart(b, t) for b in (snap or {}).get("playbooks", [])
        },
    }
    return _render(
        request,
        "marketer.html",
        session,
        snap=snap,
        controls=_data.controls(ops),
        charts=charts,
    )


@router.post("/marketer/playbooks/{name}/pause")
def pause(request: Request, name: str, csrf: str = Form("")) -> Response:
    return _pause(request, name, csrf, paused=True)


@router.post("/marketer/playbooks/{name}/resume")
def resume(request: Request, name: str, csrf: str = Form("")) -> Response:
    return _pause(request, name, csrf, paused=False)


def _pause(request: Request, name: str, csrf: str, *, paused: bool) -> Response:
    session = _guard(request, "marketer")
    if not isinstance(session, Session):
        return session
    if not same_token(session.csrf, csrf):
        return _render(
            request, "denied.html", session, status=403, home="marketer", csrf_failed=True
        )
    _data.set_paused(_state(request).ops, name, paused, by=session.username, now=_now(request))
    return RedirectResponse(f"{PREFIX}/marketer#pb-{name}", status_code=303)


@router.get("/analyst", response_class=HTMLResponse)
def analyst(request: Request) -> Response:
    """Segments and transitions, CLV, experiments and uplift, data freshness."""
    session = _guard(request, "analyst")
    if not isinstance(session, Session):
        return session
    snap = _snapshot(request)
    charts = {"sizes": _charts.segment_sizes_chart(snap, Texts(session.lang))} if snap else {}
    return _render(
        request,
        "analyst.html",
        session,
        snap=snap,
        charts=charts,
        fresh=_data.freshness(_state(request).ops, _now(request)),
    )


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, added: str = "", error: str = "") -> Response:
    """The owner's page of dashboard users (owner only)."""
    session = _guard(request, "users")
    if not isinstance(session, Session):
        return session
    return _render(
        request,
        "users.html",
        session,
        users=list_users(_state(request).ops),
        roles=ROLES,
        added=added,
        error=error,
    )


@router.post("/users")
def users_add(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    role: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    """Add a user (owner only)."""
    session = _guard(request, "users")
    if not isinstance(session, Session):
        return session
    if not same_token(session.csrf, csrf):
        return _render(request, "denied.html", session, status=403, home="owner", csrf_failed=True)
    try:
        add_user(_state(request).ops, username, password, role, now=_now(request))
    except UserError as exc:
        return users(request, error=str(exc))
    return RedirectResponse(f"{PREFIX}/users?added={username}", status_code=303)
