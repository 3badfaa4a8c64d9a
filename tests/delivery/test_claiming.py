"""Batched claims (Hypothesis): however the batch is cut, a claim never passes a cap (the
batch's own approvals count), never claims a suppressed or unconsented customer, and claims
everything the caps leave room for."""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _world import NOW, Env, add_customers, add_messages, make_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.delivery.claims import Claim, Tally
from livebase.delivery.outbox import Outbox
from livebase.ops import OUTBOX, SEND_LEDGER, SUPPRESSIONS, OpsStore, sqlite_url
from livebase.orchestrate.send_check import address_hash

CHANNELS = {
    "calls": {"type": "export", "path": "calls.csv"},
    "tasks": {"type": "export", "path": "tasks.csv"},
}


def _outbox(env: Env) -> Outbox:
    return env.worker(owner="claimer").outbox


def _claim_all(outbox: Outbox, channel: str, batch: int) -> list[Claim]:
    """Claim until nothing more is claimed (the claims stay ``sending``: in flight)."""
    claims: list[Claim] = []
    while True:
        got = outbox.claim(channel, batch, NOW, Tally())
        claims += got
        if not got and outbox.last_processed == 0:
            return claims


customer = st.fixed_dictionaries(
    {
        "suppressed": st.booleans(),
        "consent": st.booleans(),
        "calls": st.integers(min_value=0, max_value=4),
        "tasks": st.integers(min_value=0, max_value=2),
        "sent_before": st.integers(min_value=0, max_value=2),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=st.lists(customer, min_size=1, max_size=8),
    call_cap=st.integers(min_value=0, max_value=3),
    any_cap=st.integers(min_value=1, max_value=5),
    batch=st.integers(min_value=1, max_value=12),
)
def test_a_batch_never_passes_a_cap_nor_claims_a_blocked_customer(
    customers: list[dict[str, Any]], call_cap: int, any_cap: int, batch: int
) -> None:
    policy = {
        "caps": [
            {"channel": "calls", "max": call_cap, "per": "7d"},
            {"channel": "any", "max": any_cap, "per": "7d"},
        ]
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ops = OpsStore.open(sqlite_url(root / "ops.sqlite"))
        env = make_env(ops, root, CHANNELS, policy)
        blocked: set[str] = set()
        before: dict[str, int] = {}
        wanted: dict[tuple[str, str], int] = {}
        for n, spec in enumerate(customers, start=1):
            [cid] = add_customers(ops, 1, start=n, consent=spec["consent"])
            if spec["suppressed"] or not spec["consent"]:
                blocked.add(cid)
            with ops.begin() as con:
                if spec["suppressed"]:
                    con.execute(
                        SUPPRESSIONS.insert().values(
                            address_hash=address_hash(cid), channel="any", reason="manual", ts=NOW
                        )
                    )
                for k in range(spec["sent_before"]):  # earlier e-mails count against "any"
                    con.execute(
                        SEND_LEDGER.insert().values(
                            event_id=f"{cid}|old|{k}:sent",
                            message_key=f"{cid}|old|{k}",
                            customer_id=cid,
                            channel="email",
                            type="sent",
                            ts=NOW - timedelta(days=1, minutes=k),
                        )
                    )
            before[cid] = spec["sent_before"]
            for channel in ("calls", "tasks"):
                wanted[(cid, channel)] = spec[channel]
                for m in range(spec[channel]):
                    add_messages(ops, [cid], channel, template=None, step=f"{channel}{m}")
        outbox = _outbox(env)
        claims = _claim_all(outbox, "calls", batch) + _claim_all(outbox, "tasks", batch)
        outbox.close()
        with ops.read() as con:
            sending = Counter(
                str(c)
                for (c,) in con.execute(
                    sa.select(OUTBOX.c.customer_id).where(OUTBOX.c.status == "sending")
                )
            )
        ops.close()
    per_channel = Counter((c.message.customer_id, c.message.channel) for c in claims)
    per_customer = Counter(c.message.customer_id for c in claims)
    assert not set(per_customer) & blocked
    assert sending == per_customer  # what was claimed is what the store holds as sending
    for (_cid, channel), count in per_channel.items():
        if channel == "calls":
            assert count <= call_cap
    for cid, count in per_customer.items():
        assert before[cid] + count <= any_cap
    for cid in before:  # everything the caps leave room for was claimed
        if cid in blocked:
            continue
        room = max(0, any_cap - before[cid])
        calls = min(wanted[(cid, "calls")], call_cap, room)
        tasks = min(wanted[(cid, "tasks")], room - calls)
        assert per_channel[(cid, "calls")] == calls
        assert per_channel[(cid, "tasks")] == tasks


def test_one_batch_holding_several_messages_of_a_customer_stops_at_the_cap(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    """The same on both stores: five due messages of one customer in one batch, a cap of 2."""
    env = make_env(
        ops_store, tmp_path, CHANNELS, {"caps": [{"channel": "any", "max": 2, "per": "1d"}]}
    )
    [cid] = add_customers(ops_store, 1)
    keys = [
        k
        for m in range(5)
        for k in add_messages(ops_store, [cid], "calls", template=None, step=f"s{m}")
    ]
    outbox = _outbox(env)
    tally = Tally()
    claims = outbox.claim("calls", 50, NOW, tally)
    outbox.close()
    assert len(claims) == 2 and outbox.last_processed == 5
    assert tally["deferred"] == 3
    statuses = env.statuses()
    assert sorted(statuses[k] for k in keys) == ["queued"] * 3 + ["sending"] * 2
    reasons = {r["reason"] for r in env.ledger("deferred")}
    assert reasons == {"capped:any:2/1d"}


def test_a_template_edited_between_claims_is_used_from_the_next_claim(
    ops_store: OpsStore, tmp_path: Path
) -> None:
    """The renderer keeps its compiled templates from claim to claim, and forgets them as
    soon as a file under templates/ is edited or added."""
    env = make_env(ops_store, tmp_path, CHANNELS)
    keys = add_messages(ops_store, add_customers(ops_store, 3), "calls", template="hello")
    folder = tmp_path / "templates" / "hello"
    folder.mkdir(parents=True)
    (folder / "ru.j2").write_text("Привет, {{ customer.first_name }}", encoding="utf-8")
    outbox = _outbox(env)
    environment = outbox.renderer._text_env
    [first] = outbox.claim("calls", 1, NOW, Tally())
    compiled = environment.get_template("hello/ru.j2")
    [second] = outbox.claim("calls", 1, NOW, Tally())
    assert environment.get_template("hello/ru.j2") is compiled  # nothing changed: kept
    (folder / "ru.j2").write_text("Здравствуйте, {{ customer.name }}!", encoding="utf-8")
    [third] = outbox.claim("calls", 1, NOW, Tally())
    assert [c.key for c in (first, second, third)] == keys
    assert [c.message.text for c in (first, second, third)] == [
        "Привет, Анна",
        "Привет, Анна",
        "Здравствуйте, Анна Петрова!",
    ]
