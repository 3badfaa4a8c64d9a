"""The outbox worker on SQLite and PostgreSQL against real peers: once, with the ledger,
re-checked at send time, retried with backoff, in doubt only when it must be."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from _world import BASE_URL, NOW, Env, add_customers, add_messages, make_env

from _peers import TOKEN, SmtpSink, provider_server, smtp_sink
from livebase.channels.base import message_token
from livebase.delivery.outbox import DeliverySettings
from livebase.ops import OUTBOX, SUPPRESSIONS, OpsStore
from livebase.ops.tables import MESSAGE_LINKS, MESSAGE_REFS
from livebase.orchestrate.send_check import address_hash


def _email_env(ops: OpsStore, tmp_path: Path, sink: SmtpSink, **extra: object) -> Env:
    channel = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": sink.port,
        "security": "none",
        "from": "Школа <hello@school.ru>",
        "cost": 0.05,
        "timeout_seconds": 5,
        **extra,
    }
    return make_env(ops, tmp_path, {"email": channel})


def test_due_messages_are_sent_once_with_ledger_links_and_cost(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        keys = add_messages(ops_store, add_customers(ops_store, 5), "email")
        add_messages(
            ops_store, add_customers(ops_store, 1, start=50), "email", due=NOW + timedelta(hours=1)
        )
        tally = env.run()
        assert tally["sent"] == 5 and tally.cost == pytest.approx(0.25)
        assert env.run()["sent"] == 0  # nothing due twice
        assert sorted(sink.message_ids().values()) == [1] * 5
        statuses = env.statuses()
        assert [statuses[k] for k in keys] == ["sent"] * 5
        sent = env.ledger("sent")
        assert {r["event_id"] for r in sent} == {f"{k}:sent" for k in keys}
        assert {(r["playbook"], r["step"], r["occurrence"], r["cost"]) for r in sent} == {
            ("winback", "email", 1, 0.05)
        }
        message = sink.parsed()[0]
        assert message["List-Unsubscribe"].strip().startswith(f"<{BASE_URL}/u/")
        html = message.get_payload()[1].get_payload(decode=True).decode()
        assert "https://school.test/back" not in html  # every link is a tracking link
        assert f"{BASE_URL}/t/o/" in html  # open pixel
        with ops_store.read() as con:
            links = (
                con.execute(
                    sa.select(MESSAGE_LINKS.c.url)
                    .where(MESSAGE_LINKS.c.token == message_token(keys[0]))
                    .order_by(MESSAGE_LINKS.c.idx)
                )
                .scalars()
                .all()
            )
            refs = con.execute(sa.select(sa.func.count()).select_from(MESSAGE_REFS)).scalar_one()
        assert links[:2] == ["https://school.test/back?utm=lb", "https://school.test/catalog"]
        assert refs == 5


def test_send_time_recheck_skips_suppressed_and_unconsented(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        ok, gone = add_customers(ops_store, 2)
        [silent] = add_customers(ops_store, 1, start=10, consent=False)
        with ops_store.begin() as con:
            con.execute(
                SUPPRESSIONS.insert().values(
                    address_hash=address_hash(f"c{gone}@example.ru"),
                    channel="any",
                    reason="unsubscribe",
                    ts=NOW,
                )
            )
        add_messages(ops_store, [ok, gone, silent], "email")
        tally = env.run()
        assert (tally["sent"], tally["skipped"]) == (1, 2)
        assert [rcpt for rcpt, _ in sink.messages] == [[f"c{ok}@example.ru"]]
        reasons = {r["customer_id"]: r["reason"] for r in env.ledger("skipped")}
        assert reasons == {gone: "suppressed:unsubscribe", silent: "no_consent"}


def test_quiet_hours_defer_without_sending(ops_store: OpsStore, tmp_path: Path) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        env.policy = env.policy.model_validate({"quiet_hours": {"from": "14:00", "to": "16:00"}})
        add_messages(ops_store, add_customers(ops_store, 1), "email")
        tally = env.run()
        assert (tally["deferred"], tally["sent"]) == (1, 0)
        assert sink.messages == []
        assert env.run(NOW + timedelta(hours=1, minutes=1))["sent"] == 1


def test_temporary_failures_back_off_then_fail_after_max_attempts(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink, max_attempts=3)
        [cid] = add_customers(ops_store, 1)
        sink.behaviour.busy.add(f"c{cid}@example.ru")
        [key] = add_messages(ops_store, [cid], "email")
        moment = NOW
        assert env.run(moment)["retry"] == 1
        with ops_store.read() as con:
            first = con.execute(
                sa.select(OUTBOX.c.next_attempt_at).where(OUTBOX.c.key == key)
            ).scalar_one()
        assert NOW + timedelta(seconds=30) <= first <= NOW + timedelta(minutes=1)
        assert env.run(first - timedelta(seconds=1))["retry"] == 0  # not before its time
        assert env.run(first)["retry"] == 1
        assert env.run(first + timedelta(hours=1))["failed"] == 1
        assert env.statuses()[key] == "failed"
        assert [r["event_id"] for r in env.ledger("failed")] == [
            f"{key}:failed:{n}" for n in (1, 2, 3)
        ]


def test_hard_bounce_suppresses_the_address(ops_store: OpsStore, tmp_path: Path) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        [cid] = add_customers(ops_store, 1)
        sink.behaviour.reject.add(f"c{cid}@example.ru")
        add_messages(ops_store, [cid], "email")
        assert env.run()["suppressed"] == 1
        add_messages(ops_store, [cid], "email", playbook="welcome")
        assert env.run()["skipped"] == 1  # the next message never reaches the server
        with ops_store.read() as con:
            reason = con.execute(sa.select(SUPPRESSIONS.c.reason)).scalar_one()
        assert reason == "bounce"


def test_uncertain_marketing_stays_unsent_and_transactional_is_resent_with_the_same_id(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        a, b = add_customers(ops_store, 2)
        [marketing] = add_messages(ops_store, [a], "email")
        [receipt] = add_messages(
            ops_store, [b], "email", purpose="transactional", playbook="receipt"
        )
        sink.behaviour.drop_data = 2  # both arrive, neither is acknowledged
        settings = DeliverySettings(backoff_base=timedelta(seconds=10))
        assert env.run(settings=settings)["uncertain"] == 2
        assert env.statuses() == {marketing: "uncertain", receipt: "retry"}
        assert env.run(NOW + timedelta(minutes=5), settings=settings)["sent"] == 1
        ids = sink.message_ids()
        assert sorted(ids.values()) == [1, 2]  # the receipt twice, under one Message-ID
        assert env.statuses() == {marketing: "uncertain", receipt: "sent"}


def test_an_expired_lease_is_recovered_by_another_worker(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        a, b = add_customers(ops_store, 2)
        [marketing] = add_messages(ops_store, [a], "email")
        [receipt] = add_messages(
            ops_store, [b], "email", purpose="transactional", playbook="receipt"
        )
        with ops_store.begin() as con:  # a worker claimed both and died mid-send
            con.execute(
                OUTBOX.update().values(
                    status="sending",
                    lease_owner="dead",
                    lease_until=NOW - timedelta(seconds=1),
                    attempts=1,
                )
            )
        tally = env.run()
        assert (tally["uncertain"], tally["sent"]) == (2, 1)
        assert env.statuses() == {marketing: "uncertain", receipt: "sent"}
        assert {r["message_key"] for r in env.ledger("uncertain")} == {marketing, receipt}


def test_telegram_429_waits_and_403_suppresses_the_chat(
    tmp_path: Path, ops_store: OpsStore
) -> None:
    """Deterministic: the server throttles one chat and blocks another whatever the order of
    the requests; the wait is checked on the store's clock, never on the wall clock."""
    with provider_server() as server:
        import os

        os.environ["LB_TEST_TG"] = TOKEN
        env = make_env(
            ops_store,
            tmp_path,
            {
                "telegram": {
                    "type": "telegram",
                    "token_env": "LB_TEST_TG",
                    "base_url": server.base_url,
                }
            },
        )
        fine, throttled, blocked = add_customers(ops_store, 3)
        server.behaviour.blocked_chats.add(f"7{blocked}")
        server.behaviour.throttled_chats.add(f"7{throttled}")
        server.behaviour.retry_after = 90  # longer than the first backoff (at most 60 s)
        [_, key, _] = add_messages(
            ops_store, [fine, throttled, blocked], "telegram", template="winback_text"
        )
        first = env.run()
        assert (first["sent"], first["retry"], first["suppressed"]) == (1, 1, 1)
        with ops_store.read() as con:
            wait = con.execute(
                sa.select(OUTBOX.c.next_attempt_at).where(OUTBOX.c.key == key)
            ).scalar_one()
        assert wait == NOW + timedelta(seconds=90)  # the provider's retry_after, honoured
        server.behaviour.throttled_chats.clear()
        assert env.run(NOW + timedelta(seconds=89))["sent"] == 0  # not before its time
        assert env.run(NOW + timedelta(seconds=90))["sent"] == 1
        assert Counter(m["chat_id"] for m in server.telegram) == {
            f"7{fine}": 1,
            f"7{throttled}": 1,
        }
        assert server.telegram[0]["text"].startswith("Анна, скидка 15%")
        with ops_store.read() as con:
            reason = con.execute(
                sa.select(SUPPRESSIONS.c.reason).where(SUPPRESSIONS.c.customer_id == blocked)
            ).scalar_one()
        assert reason == "blocked"


def test_rate_limit_paces_a_channel(tmp_path: Path, ops_store: OpsStore) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink, rate_per_second=10)
        add_messages(ops_store, add_customers(ops_store, 25), "email")
        started = time.monotonic()
        assert env.run()["sent"] == 25
        assert time.monotonic() - started >= 1.4  # 10 at once, then 10 per second


def test_a_broken_template_fails_the_message_not_the_run(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        a, b = add_customers(ops_store, 2)
        [bad] = add_messages(ops_store, [a], "email", template="missing_template")
        add_messages(ops_store, [b], "email")
        tally = env.run()
        assert (tally["sent"], tally["failed"]) == (1, 1)
        assert env.statuses()[bad] == "failed"
        assert "missing_template" in env.ledger("failed")[0]["reason"]


def test_parallel_workers_send_each_message_once(ops_store: OpsStore, tmp_path: Path) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink, pool_size=2)
        add_messages(ops_store, add_customers(ops_store, 120), "email")
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                env.run(owner=f"w{n}", window=8)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert len(sink.message_ids()) == 120
        assert set(sink.message_ids().values()) == {1}
        assert set(env.statuses().values()) == {"sent"}


def test_a_claim_never_handed_over_is_released_not_uncertain(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    with smtp_sink() as sink:
        env = _email_env(ops_store, tmp_path, sink)
        [key] = add_messages(ops_store, add_customers(ops_store, 1), "email")
        with ops_store.begin() as con:  # a worker claimed it and died before starting the send
            con.execute(
                OUTBOX.update().values(
                    status="sending",
                    lease_owner="dead#claimed",
                    lease_until=NOW - timedelta(seconds=1),
                    attempts=1,
                )
            )
        tally = env.run()
        assert (tally["released"], tally["sent"], tally["uncertain"]) == (1, 1, 0)
        assert env.statuses() == {key: "sent"}
        assert env.ledger("uncertain") == []
        assert len(sink.messages) == 1


def test_one_run_sends_everything_due_while_another_channel_has_nothing(
    tmp_path: Path, ops_store: OpsStore
) -> None:
    """An empty claim on one channel says nothing of another's rows: the run goes on claiming
    the busy channel until it too finds nothing due (it once stopped after the idle channel's
    empty claim, leaving e-mails due for the next run)."""
    with smtp_sink() as sink, provider_server() as server:
        import os

        os.environ["LB_TEST_TG"] = TOKEN
        email = {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": sink.port,
            "security": "none",
            "from": "Школа <hello@school.ru>",
            "timeout_seconds": 5,
        }
        telegram = {"type": "telegram", "token_env": "LB_TEST_TG", "base_url": server.base_url}
        env = make_env(ops_store, tmp_path, {"telegram": telegram, "email": email})
        keys = add_messages(ops_store, add_customers(ops_store, 120), "email")
        assert env.run(window=2)["sent"] == 120
        assert set(env.statuses().values()) == {"sent"}
        assert len(sink.message_ids()) == len(keys) and not server.telegram
