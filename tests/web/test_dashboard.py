"""The dashboard over HTTP: sign-in, roles, CSRF, pause/resume, both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from livebase.ops.tables import PLAYBOOK_CONTROLS

from ._dashboard_app import PASSWORD, make_app, make_workspace


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    ws = make_workspace(tmp_path_factory.mktemp("dash") / "school")
    with TestClient(make_app(ws), base_url="http://127.0.0.1") as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def login(client: TestClient, user: str, password: str = PASSWORD) -> str:
    client.cookies.clear()
    form = client.get("/dashboard/login")
    r = client.post(
        "/dashboard/login",
        data={"username": user, "password": password, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return str(r.headers["location"])


def test_pages_need_a_sign_in(client: TestClient) -> None:
    client.cookies.clear()
    for page in ("owner", "marketer", "analyst", "users"):
        r = client.get(f"/dashboard/{page}", follow_redirects=False)
        assert r.status_code == 303 and "/dashboard/login" in r.headers["location"]


def test_wrong_password_and_missing_csrf_do_not_sign_in(client: TestClient) -> None:
    assert login(client, "owner", "wrong password!") == "/dashboard/login?error=password"
    client.cookies.clear()
    r = client.post(
        "/dashboard/login",
        data={"username": "owner", "password": PASSWORD, "csrf": "forged"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/dashboard/login?error=csrf"


@pytest.mark.parametrize(
    ("role", "text"),
    [
        ("owner", "What the programme added"),
        ("marketer", "Escalation: paid steps against their own holdout"),
        ("analyst", "Data freshness"),
    ],
)
def test_each_role_lands_on_its_page(client: TestClient, role: str, text: str) -> None:
    assert login(client, role) == f"/dashboard/{role}"
    page = client.get(f"/dashboard/{role}")
    assert page.status_code == 200 and text in page.text
    assert 'data-chart="' in page.text
    cookie = page.request.headers.get("cookie", "")
    assert "lb_session=" in cookie


def test_a_role_sees_only_its_pages(client: TestClient) -> None:
    login(client, "marketer")
    assert client.get("/dashboard/owner").status_code == 403
    assert client.get("/dashboard/users").status_code == 403
    r = client.post(
        "/dashboard/users", data={"username": "x", "password": "y" * 12, "role": "owner"}
    )
    assert r.status_code == 403
    login(client, "analyst")
    assert client.get("/dashboard/marketer").status_code == 403
    r = client.post("/dashboard/marketer/playbooks/winback/pause", data={"csrf": "x"})
    assert r.status_code == 403


def test_pause_and_resume_need_the_session_csrf(client: TestClient) -> None:
    login(client, "marketer")
    page = client.get("/dashboard/marketer").text
    token = _csrf(page)
    assert (
        client.post(
            "/dashboard/marketer/playbooks/winback/pause", data={"csrf": "forged"}
        ).status_code
        == 403
    )
    r = client.post("/dashboard/marketer/playbooks/winback/pause", data={"csrf": token})
    assert r.status_code == 200 and ">paused<" in r.text
    ops = client.app.state.livebase.ops  # type: ignore[attr-defined]
    with ops.engine.connect() as con:
        row = con.execute(sa.select(PLAYBOOK_CONTROLS)).one()
    assert row.paused and row.updated_by == "marketer"
    r = client.post("/dashboard/marketer/playbooks/winback/resume", data={"csrf": token})
    assert ">active<" in r.text


def test_russian_and_english(client: TestClient) -> None:
    login(client, "owner")
    token = _csrf(client.get("/dashboard/owner").text)
    r = client.post("/dashboard/language", data={"lang": "ru", "csrf": token})
    assert "Что добавила программа" in r.text and 'lang="ru"' in r.text


def test_the_owner_adds_a_user(client: TestClient) -> None:
    login(client, "owner")
    token = _csrf(client.get("/dashboard/users").text)
    r = client.post(
        "/dashboard/users",
        data={"username": "maria", "password": "short", "role": "analyst", "csrf": token},
    )
    assert "too short" in r.text
    r = client.post(
        "/dashboard/users",
        data={"username": "maria", "password": "long enough pw", "role": "analyst", "csrf": token},
    )
    assert "maria" in r.text
    assert login(client, "maria", "long enough pw") == "/dashboard/analyst"


def test_static_files_are_shipped(client: TestClient) -> None:
    js = client.get("/dashboard/static/chart.umd.min.js")
    assert js.status_code == 200 and b"Chart.js" in js.content[:200]
    assert client.get("/dashboard/static/..%2fpasswd").status_code == 404


def test_cookie_flags(client: TestClient, tmp_path: Path) -> None:
    client.cookies.clear()
    form = client.get("/dashboard/login")
    r = client.post(
        "/dashboard/login",
        data={"username": "owner", "password": PASSWORD, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
