"""Prepared statements store exactly what Core stores, on both engines, and fail as Core fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from livebase.ops import OpsStore
from livebase.ops.prepared import Prepared
from livebase.ops.tables import OUTBOX, SEND_LEDGER

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
MSK = timezone(timedelta(hours=3))


def _ledger(event: str, ts: datetime) -> dict[str, object]:
    return {
        "event_id": event,
        "message_key": "7|w|1|email",
        "customer_id": "7",
        "playbook": "w",
        "occurrence": 1,
        "step": "email",
        "channel": "email",
        "type": "sent",
        "reason": None,
        "cost": 0.05,
        "ts": ts,
        "detail": {"attempt": 1, "answer": "250 OK", "ru": "Привет"},
    }


def test_insert_stores_what_core_stores(ops_store: OpsStore) -> None:
    columns = list(_ledger("x", NOW))
    prepared = Prepared(sa.insert(SEND_LEDGER), columns)
    with ops_store.begin() as con:
        con.execute(sa.insert(SEND_LEDGER), [_ledger("core", NOW.astimezone(MSK))])
        assert prepared.execute(con, [_ledger("prepared", NOW.astimezone(MSK))]) in (1, -1)
        # None in a JSON column: stored as Core stores it (JSON null unless none_as_null)
        con.execute(sa.insert(SEND_LEDGER), [{**_ledger("core-null", NOW), "detail": None}])
        prepared.execute(con, [{**_ledger("prepared-null", NOW), "detail": None}])
    with ops_store.read() as con:
        rows = {
            r["event_id"]: dict(r)
            for r in con.execute(sa.select(SEND_LEDGER).order_by(SEND_LEDGER.c.event_id)).mappings()
        }
        sql_null = dict(
            con.execute(sa.select(SEND_LEDGER.c.event_id, SEND_LEDGER.c.detail.is_(None))).all()
        )
    assert sql_null["prepared-null"] == sql_null["core-null"]
    core, ours = rows.pop("core"), rows.pop("prepared")
    assert rows.pop("prepared-null")["detail"] is rows.pop("core-null")["detail"] is None
    assert ours["ts"] == core["ts"] == NOW
    assert ours["detail"] == core["detail"] == _ledger("x", NOW)["detail"]
    assert ours["cost"] == core["cost"] == 0.05
    assert ours["recorded_at"].tzinfo is not None  # the Python default, evaluated
    assert abs(ours["recorded_at"] - core["recorded_at"]) < timedelta(minutes=5)


def _outbox_row(key: str) -> dict[str, object]:
    return {
        "key": key,
        "customer_id": "7",
        "playbook": "w",
        "occurrence": 1,
        "step": "email",
        "channel": "email",
        "due_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_update_and_returning(ops_store: OpsStore) -> None:
    with ops_store.begin() as con:
        con.execute(sa.insert(OUTBOX), [_outbox_row("a"), _outbox_row("b"), _outbox_row("c")])
    close = Prepared(
        OUTBOX.update()
        .where(OUTBOX.c.key == sa.bindparam("b_key"))
        .values(status="sent", lease_owner=None, sent_at=sa.bindparam("b_now")),
        ["b_key", "b_now"],
    )
    pick = Prepared(
        OUTBOX.update()
        .where(
            OUTBOX.c.key.in_([sa.bindparam("k0"), sa.bindparam("k1")]), OUTBOX.c.status == "sent"
        )
        .values(lease_owner="me")
        .returning(OUTBOX.c.key),
        ["k0", "k1"],
    )
    later = NOW + timedelta(hours=1)
    with ops_store.begin() as con:
        assert close.execute(con, [{"b_key": "a", "b_now": later}, {"b_key": "b", "b_now": later}])
        assert sorted(pick.fetch(con, {"k0": "a", "k1": "c"})) == [("a",)]
    with ops_store.read() as con:
        rows = {r["key"]: r for r in con.execute(sa.select(OUTBOX)).mappings()}
    assert [rows[k]["status"] for k in "abc"] == ["sent", "sent", "queued"]
    assert rows["a"]["sent_at"] == later and rows["c"]["sent_at"] is None
    assert rows["a"]["lease_owner"] == "me" and rows["b"]["lease_owner"] is None


def test_driver_errors_are_core_errors(ops_store: OpsStore) -> None:
    prepared = Prepared(sa.insert(OUTBOX), list(_outbox_row("a")))
    with pytest.raises(sa.exc.IntegrityError), ops_store.begin() as con:
        prepared.execute(con, [_outbox_row("a"), _outbox_row("a")])
    with ops_store.read() as con:  # the transaction rolled back
        assert con.execute(sa.select(sa.func.count()).select_from(OUTBOX)).scalar() == 0


def test_refuses_what_it_cannot_prepare(ops_store: OpsStore) -> None:
    if ops_store.dialect != "sqlite":
        pytest.skip("other engines execute through Core")
    missing = Prepared(OUTBOX.update().values(status=sa.bindparam("b_status")), [])
    expanding = Prepared(
        OUTBOX.delete().where(OUTBOX.c.key.in_(sa.bindparam("keys", expanding=True))), ["keys"]
    )
    with ops_store.begin() as con:
        with pytest.raises(ValueError, match="no value for the parameter b_status"):
            missing.execute(con, [{}])
        with pytest.raises(ValueError, match="expanding"):
            expanding.execute(con, [{"keys": ["a"]}])


def test_shared_values_convert_once_and_store_as_core(ops_store: OpsStore) -> None:
    """A batch's ``now`` shared by every row (and runs of ``None``) is converted once per run;
    rows with their own, equal or different, values still get their own conversion."""
    shared, other = NOW.astimezone(MSK), NOW + timedelta(seconds=1)
    rows = [
        {**_outbox_row(key), "due_at": due, "sent_at": sent}
        for key, due, sent in [
            ("a", shared, None),
            ("b", shared, None),
            ("c", other, shared),
            ("d", shared, None),
            ("e", NOW + timedelta(seconds=1), other),
        ]
    ]
    prepared = Prepared(sa.insert(OUTBOX), list(rows[0]))
    with ops_store.begin() as con:
        prepared.execute(con, rows)
        con.execute(sa.insert(OUTBOX), [{**r, "key": f"core-{r['key']}"} for r in rows])
    with ops_store.read() as con:
        stored = {
            r["key"]: (r["due_at"], r["sent_at"]) for r in con.execute(sa.select(OUTBOX)).mappings()
        }
        raw = dict(
            con.execute(
                sa.text(
                    "SELECT key, due_at || '|' || coalesce(CAST(sent_at AS TEXT), '-') FROM outbox"
                )
            ).all()
        )
    for row in rows:
        key = str(row["key"])
        assert stored[key] == stored[f"core-{key}"] == (row["due_at"], row["sent_at"])
        assert raw[key] == raw[f"core-{key}"]  # the very text (or value) Core stores
