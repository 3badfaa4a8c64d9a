"""POST /v1/events: validation, atomic batches, idempotency, scopes, limits, headers."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.ops.tables import INBOX


def _inbox(service: Any) -> list[dict[str, Any]]:
    with service.ops.read() as con:
        return [dict(r._mapping) for r in con.execute(sa.select(INBOX).order_by(INBOX.c.event_id))]


def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "customer_id": "c1",
        "name": "lesson_done",
        "ts": "2026-07-01T10:00:00+03:00",
        **extra,
    }


def test_batch_is_stored_in_the_inbox(service: Any) -> None:
    r = service.client.post("/v1/events", json=[_event(1), _event(2)], headers=service.auth())
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 2
    rows = _inbox(service)
    assert [row["event_id"] for row in rows] == ["e1", "e2"]
    assert rows[0]["ts"].isoformat() == "2026-07-01T07:00:00+00:00"
    assert rows[0]["source"] == "api" and rows[0]["kind"] == "event"


def test_invalid_item_rejects_the_whole_batch_naming_index_and_field(service: Any) -> None:
    batch = [_event(1), _event(2, ts="yesterday"), {"event_id": "e3", "name": "x", "ts": 1}]
    r = service.client.post("/v1/events", json={"events": batch}, headers=service.auth())
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_batch"
    problems = {(p["index"], p["field"]) for p in error["problems"]}
    assert problems == {(1, "ts"), (2, "customer_id")}
    assert "ISO 8601" in next(p["expected"] for p in error["problems"] if p["field"] == "ts")
    assert _inbox(service) == []


def test_order_fields_are_checked_and_stored(service: Any) -> None:
    bad = _event(1, order={"order_id": "o1", "amount": "lots", "status": "maybe"})
    r = service.client.post("/v1/events", json=[bad], headers=service.auth())
    fields = {p["field"] for p in r.json()["error"]["problems"]}
    assert fields == {"order.amount", "order.status"}
    good = {
        "event_id": "p1",
        "customer_id": "c1",
        "ts": "2026-07-01T10:00:00Z",
        "order": {"order_id": "o1", "amount": 990, "currency": "RUB", "status": "Завершен"},
    }
    r = service.client.post("/v1/events", json=[good], headers=service.auth())
    assert r.status_code == 200, r.text
    [row] = _inbox(service)
    assert row["kind"] == "order" and row["name"] == "order"
    assert row["payload"]["status"] == "paid" and row["payload"]["paid_amount"] == 990.0


def test_too_many_events_is_a_422_saying_the_limit(service: Any) -> None:
    limit = service.workspace.config.service.max_batch
    batch = [_event(i) for i in range(limit + 1)]
    r = service.client.post("/v1/events", json=batch, headers=service.auth())
    assert r.status_code in (413, 422)
    if r.status_code == 422:
        assert f"at most {limit}" in r.json()["error"]["problems"][0]["expected"]


def test_oversized_body_is_413_and_nothing_stored(service: Any) -> None:
    big = service.workspace.config.service.max_body_bytes + 1
    body = json.dumps([_event(1, properties={"pad": "x" * big})])
    r = service.client.post(
        "/v1/events", content=body, headers={**service.auth(), "content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    assert _inbox(service) == []


def test_key_without_scope_or_unknown_key_is_refused(service: Any) -> None:
    r = service.client.post("/v1/events", json=[_event(1)], headers=service.auth("hooks"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = service.client.post("/v1/events", json=[_event(1)])
    assert r.status_code == 401
    forged = service.keys["events:write"][:-4] + "AAAA"
    r = service.client.post(
        "/v1/events", json=[_event(1)], headers={"Authorization": f"Bearer {forged}"}
    )
    assert r.status_code == 401
    assert _inbox(service) == []


def test_email_resolves_like_ingest_lower_cased(service: Any) -> None:
    event = {"event_id": "m1", "email": " Anna@School.RU ", "name": "login", "ts": 1_780_000_000}
    r = service.client.post("/v1/events", json=[event], headers=service.auth())
    assert r.status_code == 200, r.text
    assert _inbox(service)[0]["customer_id"] == "anna@school.ru"
    unknown_phone = {"event_id": "m2", "phone": "+7 912 000 11 22", "name": "x", "ts": 1}
    r = service.client.post("/v1/events", json=[unknown_phone], headers=service.auth())
    assert r.status_code == 422
    assert r.json()["error"]["problems"][0] == {
        "index": 0,
        "field": "phone",
        "expected": "the phone of a known customer, or customer_id or email",
    }


def test_sql_and_html_in_properties_are_stored_verbatim(service: Any) -> None:
    nasty = {"q": "'; DROP TABLE inbox; --", "html": "<script>alert(1)</script>"}
    r = service.client.post(
        "/v1/events", json=[_event(1, properties=nasty)], headers=service.auth()
    )
    assert r.status_code == 200
    assert _inbox(service)[0]["payload"] == nasty


def test_idempotency_key_replays_the_first_answer(service: Any) -> None:
    headers = {**service.auth(), "Idempotency-Key": "batch-1"}
    first = service.client.post("/v1/events", json=[_event(1)], headers=headers)
    again = service.client.post("/v1/events", json=[_event(1)], headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = service.client.post("/v1/events", json=[_event(2)], headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_security_headers_and_no_cors(service: Any) -> None:
    r = service.client.options(
        "/v1/events",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = service.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert r.json()["status"] == "ok"
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_errors_are_json_with_a_code_never_a_traceback(service: Any) -> None:
    r = service.client.post(
        "/v1/events",
        content=b"{not json",
        headers={**service.auth(), "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = service.client.get("/no/such/page")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "Traceback" not in r.text


def test_metrics_count_events(service: Any) -> None:
    service.client.post("/v1/events", json=[_event(1)], headers=service.auth())
    service.client.post("/v1/events", json=[_event(2, ts="bad")], headers=service.auth())
    text = service.client.get("/metrics").text
    assert 'livebase_events_received_total{outcome="new",source="api"} 1.0' in text
    assert 'livebase_events_rejected_total{source="api"} 1.0' in text
    assert "livebase_outbox_depth" in text and "livebase_inbox_lag_seconds" in text
    assert "livebase_status_latency_seconds_bucket" in text


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(
        st.text(
            st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20
        ).filter(lambda s: s.strip() == s and s != ""),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    repeats=st.integers(1, 3),
)
def test_resending_any_batch_stores_each_event_once(
    service: Any, ids: list[str], repeats: int
) -> None:
    with service.ops.begin() as con:
        con.execute(INBOX.delete())
    batch = [
        {"event_id": i, "customer_id": "c", "name": "x", "ts": "2026-07-01T00:00:00Z"} for i in ids
    ]
    for _ in range(repeats):
        r = service.client.post("/v1/events", json=batch, headers=service.auth())
        assert r.status_code == 200, r.text
    assert sorted(row["event_id"] for row in _inbox(service)) == sorted(ids)


def test_inbox_lag_follows_the_bridge_watermark(service: Any) -> None:
    from datetime import timedelta

    from livebase.ingest.inbox import SOURCE
    from livebase.ops.tables import WATERMARKS
    from livebase.web.metrics import INBOX_WATERMARK, store_gauges

    assert INBOX_WATERMARK == SOURCE
    service.client.post("/v1/events", json=[_event(1)], headers=service.auth())
    now = service.client.app.state.livebase.now()
    _, lag = store_gauges(service.ops, now + timedelta(seconds=30))
    assert lag == 30.0
    with service.ops.begin() as con:
        con.execute(
            WATERMARKS.insert().values(source=SOURCE, position=now.isoformat(), updated_at=now)
        )
    assert store_gauges(service.ops, now + timedelta(seconds=30))[1] == 0.0


def test_streamed_body_without_length_is_cut_at_the_limit(service: Any) -> None:
    limit = service.workspace.config.service.max_body_bytes

    def chunks() -> Any:
        yield b'[{"event_id": "s1", "customer_id": "c", "name": "x", "ts": 1, "properties": {"p": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}]'

    r = service.client.post(
        "/v1/events",
        content=chunks(),
        headers={**service.auth(), "content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert _inbox(service) == []


def test_undecodable_path_is_a_404_not_a_500(service: Any) -> None:
    r = service.client.get("/v1/customers/%80%FF", headers=service.auth("customers:read"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
