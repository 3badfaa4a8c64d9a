"""Consent and suppression imports, the one-click unsubscribe, and ``forget``: nothing of the
person remains in any table or file of the workspace."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from livebase.channels.base import message_token
from livebase.delivery.consent import apply_unsubscribe, import_consents, import_suppressions
from livebase.delivery.erasure import forget_customer, pseudonym
from livebase.delivery.links import record_message, resolve_message, unsubscribe_url
from livebase.errors import DeliveryError, InputValidationError
from livebase.ops import (
    CONSENTS,
    CUSTOMER_STATUS,
    ERASURES,
    METADATA,
    OUTBOX,
    SEND_LEDGER,
    SUPPRESSIONS,
    OpsStore,
    outbox_key,
)
from livebase.orchestrate.send_check import address_hash
from livebase.workspace import init_workspace

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
KEYS = [("k1", b"1" * 32)]


def test_consent_import_keeps_evidence_and_is_idempotent(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    path = tmp_path / "consents.csv"
    path.write_text(
        "customer_id;channel;purpose;status;ts;source;text_version;ip\n"
        "90001;email;marketing;granted;2026-05-01T10:00:00+03:00;landing form;v3;10.0.0.7\n"
        "90002;any;service;granted;01.05.2026 10:00;getcourse;v3;\n",
        encoding="utf-8-sig",
    )
    assert import_consents(ops_store, path, now=NOW).added == 2
    assert import_consents(ops_store, path, now=NOW).added == 0
    with ops_store.read() as con:
        rows = con.execute(sa.select(CONSENTS).order_by(CONSENTS.c.customer_id)).mappings().all()
    assert rows[0]["evidence"] == {"ip": "10.0.0.7"}
    assert rows[0]["ts"] == datetime(2026, 5, 1, 7, 0, tzinfo=UTC)
    assert (rows[1]["purpose"], rows[1]["text_version"]) == ("service", "v3")


def test_a_bad_consent_row_names_row_and_column(ops_store: OpsStore, tmp_path: Path) -> None:
    path = tmp_path / "consents.csv"
    path.write_text("customer_id,status,ts\n90001,yes,2026-05-01\n", encoding="utf-8")
    with pytest.raises(InputValidationError, match=r"row 2, column 'status'"):
        import_consents(ops_store, path, now=NOW)


def test_suppression_import_stores_only_hashes(ops_store: OpsStore, tmp_path: Path) -> None:
    path = tmp_path / "stop.csv"
    path.write_text(
        "address,channel,reason\nAnna@School.ru,email,complaint\n+7 912 000-11-22,sms,\n",
        encoding="utf-8",
    )
    assert import_suppressions(ops_store, path, now=NOW).added == 2
    assert import_suppressions(ops_store, path, now=NOW).added == 0
    with ops_store.read() as con:
        rows = dict(
            con.execute(sa.select(SUPPRESSIONS.c.address_hash, SUPPRESSIONS.c.reason)).all()
        )
    assert rows == {
        address_hash("anna@school.ru"): "complaint",
        address_hash("79120001122"): "manual",
    }


def test_one_click_unsubscribe_suppresses_and_cancels_pending(ops_store: OpsStore) -> None:
    key = outbox_key("90001", "winback", 1, "email")
    later = outbox_key("90001", "winback", 1, "email2")
    with ops_store.begin() as con:
        for k, status in ((key, "sent"), (later, "queued")):
            con.execute(
                OUTBOX.insert().values(
                    key=k,
                    customer_id="90001",
                    playbook="winback",
                    occurrence=1,
                    step=k[-6:],
                    channel="email",
                    due_at=NOW,
                    status=status,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        record_message(
            con,
            message_key=key,
            customer_id="90001",
            channel="email",
            purpose="marketing",
            address_hash=address_hash("anna@school.ru"),
            urls=[],
            now=NOW,
        )
    url = unsubscribe_url("https://lb.test", KEYS, key)
    token, sig = url.rsplit("/", 2)[1:]
    with ops_store.begin() as con:
        assert resolve_message(con, KEYS, "unsubscribe", token, sig[:-1] + "0") is None
        message = resolve_message(con, KEYS, "unsubscribe", token, sig)
        assert message is not None and message.message_key == key
        assert apply_unsubscribe(con, message, now=NOW) is True
        assert apply_unsubscribe(con, message, now=NOW) is False
    with ops_store.read() as con:
        status = dict(con.execute(sa.select(OUTBOX.c.key, OUTBOX.c.status)).all())
        kinds = con.execute(sa.select(SEND_LEDGER.c.type)).scalars().all()
        consent = con.execute(sa.select(CONSENTS.c.status)).scalars().all()
    assert status[later] == "cancelled"
    assert kinds == ["unsubscribed"] and consent == ["withdrawn"]


PERSON = {
    "customer_id": "cust-7f3a91",
    "email": "zinaida.krupskaya@example.ru",
    "phone": "+7 (905) 123-45-67",
    "name": "Зинаида Крупская",
}


def test_forget_leaves_nothing_of_the_person_anywhere(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "school", template="school")
    cid = PERSON["customer_id"]
    other = "cust-000002"
    with ws.open_store() as store:
        con = store.con
        for c, email, phone, name in (
            (cid, PERSON["email"], PERSON["phone"], PERSON["name"]),
            (other, "ivan@example.ru", "+7 900 000-00-00", "Иван Иванов"),
        ):
            con.execute(
                "INSERT INTO customers (customer_id, email, phone, name, attributes, first_load, last_load) "
                "VALUES (?, ?, ?, ?, ?, 1, 1)",
                [c, email, phone, name, f'{{"city": "Тверь", "contact": "{email}"}}'],
            )
            con.execute(
                "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
                "currency, status, items, first_load, last_load) VALUES (?, ?, ?, ?, 100, 100, 'RUB', "
                "'paid', ?, 1, 1)",
                [
                    f"o-{c}",
                    c,
                    NOW.replace(tzinfo=None),
                    NOW.replace(tzinfo=None),
                    f"Курс для {name}",
                ],
            )
            con.execute(
                "INSERT INTO events (event_id, customer_id, ts, name, properties, first_load) "
                "VALUES (?, ?, ?, 'login', ?, 1)",
                [f"e-{c}", c, NOW.replace(tzinfo=None), f'{{"phone": "{phone}"}}'],
            )
    ops = ws.open_ops()
    key = outbox_key(cid, "winback", 1, "email")
    with ops.begin() as con:
        for c, email, phone, name in (
            (cid, PERSON["email"], PERSON["phone"], PERSON["name"]),
            (other, "ivan@example.ru", "+7 900 000-00-00", "Иван Иванов"),
        ):
            con.execute(
                CUSTOMER_STATUS.insert().values(
                    customer_id=c,
                    email=email,
                    phone=phone,
                    name=name,
                    attributes={"telegram_chat_id": "777001"},
                    features={},
                    segments={},
                    since={},
                    thresholds_version="t",
                    as_of=NOW.date(),
                    updated_at=NOW,
                    source="batch",
                )
            )
        con.execute(
            CONSENTS.insert().values(
                customer_id=cid,
                channel="any",
                purpose="marketing",
                status="granted",
                source="form",
                evidence={"ip": "10.1.2.3", "email": PERSON["email"]},
                ts=NOW,
            )
        )
        con.execute(
            OUTBOX.insert().values(
                key=key,
                customer_id=cid,
                playbook="winback",
                occurrence=1,
                step="email",
                channel="email",
                due_at=NOW,
                status="sent",
                created_at=NOW,
                updated_at=NOW,
                payload={"greeting": PERSON["name"]},
            )
        )
        con.execute(
            SEND_LEDGER.insert().values(
                event_id=f"{key}:sent",
                message_key=key,
                customer_id=cid,
                channel="email",
                type="sent",
                ts=NOW,
                detail={"answer": f"250 ok {PERSON['email']}"},
            )
        )
        record_message(
            con,
            message_key=key,
            customer_id=cid,
            channel="email",
            purpose="marketing",
            address_hash=address_hash(PERSON["email"]),
            urls=[f"https://school.test/cabinet?email={PERSON['email']}"],
            now=NOW,
        )
    ops.close()
    (ws.root / "tasks").mkdir()
    (ws.root / "tasks" / "calls.csv").write_bytes(
        "\ufeffmessage;customer_id;name;phone\n"
        f"a;{cid};{PERSON['name']};{PERSON['phone']}\n"
        f"b;{other};Иван Иванов;+7 900 000-00-00\n".encode()
    )
    (ws.root / "outbox-demo").mkdir()
    (ws.root / "outbox-demo" / "1.eml").write_text(
        f"To: {PERSON['email']}\n\nHello", encoding="utf-8"
    )
    (ws.root / "outbox-demo" / "2.eml").write_text("To: ivan@example.ru\n\nHello", encoding="utf-8")

    report = forget_customer(ws, cid, requested_by="dpo@school.ru", now=NOW + timedelta(days=1))
    assert report.files_deleted == ["outbox-demo/1.eml"]
    assert report.files_changed == ["tasks/calls.csv"]

    digits = re.sub(r"\D", "", PERSON["phone"])
    needles = [PERSON["email"], PERSON["name"], cid, "10.1.2.3", digits[-10:]]
    # every table of both stores
    with ws.open_store(read_only=True) as store:
        for (table,) in store.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='main'"
        ).fetchall():
            for row in store.con.execute(f'SELECT * FROM "{table}"').fetchall():
                text = re.sub(r"[\s()-]", "", " ".join(str(v) for v in row))
                for needle in needles:
                    assert re.sub(r"[\s()-]", "", needle) not in text, (table, row)
        kept = store.con.execute(
            "SELECT count(*) FROM orders WHERE customer_id = ?", [pseudonym(cid)]
        ).fetchone()
        assert kept == (1,)  # revenue history stays, under the pseudonym
        assert store.con.execute("SELECT count(*) FROM customers").fetchone() == (2,)
    ops = ws.open_ops()
    with ops.read() as con:
        for table in METADATA.sorted_tables:
            for row in con.execute(sa.select(table)).all():
                text = " ".join(str(v) for v in row)
                for needle in needles:
                    assert needle not in text, (table.name, row)
        erasure = con.execute(sa.select(ERASURES)).mappings().one()
        suppressed = set(con.execute(sa.select(SUPPRESSIONS.c.address_hash)).scalars())
        ledger = con.execute(sa.select(SEND_LEDGER.c.event_id)).scalars().all()
    ops.close()
    assert erasure["requested_by"] == "dpo@school.ru" and "ops" in erasure["what"]
    assert address_hash(PERSON["email"]) in suppressed  # never re-imported and messaged
    assert ledger == [f"{pseudonym(cid)}|winback|1|email:sent"]
    # every file, byte for byte (the SQLite and DuckDB files included)
    for path in ws.root.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            for needle in (PERSON["email"], PERSON["name"], cid):
                assert needle.encode() not in raw, path
    assert "Иван Иванов" in (ws.root / "tasks" / "calls.csv").read_text(encoding="utf-8-sig")
    assert message_token(key) not in str(report.as_record())
    with pytest.raises(DeliveryError, match="unknown to this workspace"):
        forget_customer(ws, "nobody", requested_by="dpo", now=NOW)
