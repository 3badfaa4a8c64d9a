"""The dashboard in a real browser: Playwright driving the Debian Chromium.

Every page loads for its role with no console errors and every chart draws (a canvas with
painted pixels); sign-in is required; a marketer cannot open the owner's actions; pause and
resume work by clicking. Screenshots of each page go under the test's temp folder.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._dashboard_app import PASSWORD, make_app, make_workspace

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (make system-deps)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    ws = make_workspace(tmp_path_factory.mktemp("browser") / "school")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(make_app(ws), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _page(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def _sign_in(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


PAINTED = """(c) => {
  const ctx = c.getContext('2d');
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; }
  return c.width > 0 && c.height > 0 ? n : 0;
}"""


@pytest.mark.parametrize(("role", "charts"), [("owner", 4), ("marketer", 2), ("analyst", 1)])
def test_each_page_loads_and_draws_its_charts(
    server: str, browser: Any, role: str, charts: int, tmp_path: Path
) -> None:
    context, page, errors = _page(browser)
    _sign_in(page, server, role)
    assert page.url.endswith(f"/dashboard/{role}")
    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() >= charts
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.drawn)"
    )
    page.wait_for_timeout(200)
    for i in range(canvases.count()):
        assert canvases.nth(i).evaluate(PAINTED) > 100, f"chart {i} of {role} is empty"
    shot = tmp_path / f"{role}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []
    context.close()


def test_sign_in_is_required(server: str, browser: Any) -> None:
    context, page, errors = _page(browser)
    for p in ("owner", "marketer", "analyst", "users"):
        page.goto(f"{server}/dashboard/{p}")
        assert "/dashboard/login" in page.url
    assert page.locator("input[name=password]").count() == 1
    assert errors == []
    context.close()


def test_a_marketer_cannot_open_owner_actions(server: str, browser: Any, tmp_path: Path) -> None:
    context, page, _ = _page(browser)
    _sign_in(page, server, "marketer")
    assert page.locator("nav a").all_inner_texts() == ["Marketer"]
    response = page.goto(f"{server}/dashboard/users")
    assert response is not None and response.status == 403
    response = page.goto(f"{server}/dashboard/owner")
    assert response is not None and response.status == 403
    page.screenshot(path=str(tmp_path / "marketer-denied.png"))
    context.close()


def test_pause_and_resume_by_clicking(server: str, browser: Any, tmp_path: Path) -> None:
    context, page, errors = _page(browser)
    _sign_in(page, server, "marketer")
    row = page.locator("tr[data-playbook=winback]")
    assert row.locator("td.state").inner_text() == "active"
    row.locator("button.pause").click()
    page.wait_for_load_state("networkidle")
    row = page.locator("tr[data-playbook=winback]")
    assert row.locator("td.state").inner_text() == "paused"
    page.screenshot(path=str(tmp_path / "paused.png"))
    row.locator("button.resume").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("tr[data-playbook=winback] td.state").inner_text() == "active"
    assert errors == []
    context.close()


def test_russian_owner_page(server: str, browser: Any, tmp_path: Path) -> None:
    context, page, errors = _page(browser)
    _sign_in(page, server, "owner")
    page.click("button[name=lang][value=ru]")
    page.wait_for_load_state("networkidle")
    assert "Что добавила программа" in page.content()
    page.screenshot(path=str(tmp_path / "owner-ru.png"), full_page=True)
    assert errors == []
    context.close()
