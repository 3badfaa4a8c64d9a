"""The client's reading of answers a replay rarely gives: HTML pages, HTTP errors, odd shapes."""

from __future__ import annotations

import httpx
import pytest

from livebase.connectors.getcourse.client import GetCourseClient, classify_error
from livebase.errors import SyncError

KEY = "k-0123456789abcdef"


def _client(status: int, body: str, content_type: str = "application/json") -> GetCourseClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers={"Content-Type": content_type})

    return GetCourseClient(
        "https://school.getcourse.ru", KEY, transport=httpx.MockTransport(answer)
    )


@pytest.mark.parametrize(
    ("status", "body", "reason", "says"),
    [
        (200, "<html>Войти</html>", "malformed", "not JSON ('<html>Войти</html>'"),
        (403, "{}", "wrong_key", "refused the API key (HTTP 403)"),
        (429, "{}", "quota", "HTTP 429"),
        (502, "bad gateway", "http", "HTTP 502"),
        (200, "[1, 2]", "malformed", "not a JSON object"),
        (200, '{"success": true, "info": {}}', "malformed", "without an export_id"),
    ],
)
def test_odd_answers_are_clear_errors(status: int, body: str, reason: str, says: str) -> None:
    with _client(status, body) as client, pytest.raises(SyncError) as caught:
        client.request_export("deals", {"created_at[from]": "2026-01-01"})
    assert caught.value.reason == reason
    assert says in str(caught.value) and KEY not in str(caught.value)


def test_an_html_page_quoting_the_key_does_not_leak_it() -> None:
    with _client(200, f"<html>key={KEY}</html>") as client, pytest.raises(SyncError) as caught:
        client.fetch_export("deals", "1")
    assert KEY not in str(caught.value) and "***" in str(caught.value)


def test_a_user_import_refused_for_the_address_is_a_result_not_an_error() -> None:
    body = '{"success": true, "result": {"success": false, "error": true, "error_message": "Неверный email"}}'
    with _client(200, body) as client:
        result = client.add_user({"email": "x@"}, groups=["G"])
    assert (result.ok, result.error_message) == (False, "Неверный email")


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        ("Неверный ключ", None, "wrong_key"),
        (
            "Импорт и экспорт данных по API доступны только на платных тарифах",
            None,
            "no_api_access",
        ),
        ("Слишком много запросов", None, "quota"),
        ("В данный момент уже выполняется экспорт", None, "busy"),
        ("Файл ещё не создан", None, "not_ready"),
        ("", 909, "not_ready"),
        ("Что-то пошло не так", None, "api"),
    ],
)
def test_error_answers_get_stable_reasons(message: str, code: int | None, reason: str) -> None:
    assert classify_error(message, code) == reason
