"""Invariants over random worlds (Hypothesis): a suppressed or unconsented customer is never
messaged, and no message is delivered twice, however the runs and failures interleave."""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from _world import NOW, add_customers, add_messages, make_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.channels.base import message_token
from livebase.ops import SUPPRESSIONS, OpsStore, sqlite_url
from livebase.orchestrate.send_check import address_hash

world = st.fixed_dictionaries(
    {
        "customers": st.lists(
            st.fixed_dictionaries(
                {
                    "suppressed": st.booleans(),
                    "consent": st.booleans(),
                    "messages": st.integers(min_value=1, max_value=3),
                }
            ),
            min_size=1,
            max_size=8,
        ),
        "runs": st.lists(st.integers(min_value=0, max_value=90), min_size=1, max_size=4),
        "limit": st.one_of(st.none(), st.integers(min_value=1, max_value=5)),
    }
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world)
def test_suppressed_never_messaged_and_each_message_at_most_once(case: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ops = OpsStore.open(sqlite_url(root / "ops.sqlite"))
        env = make_env(ops, root, {"calls": {"type": "export", "path": "calls.csv"}})
        blocked: set[str] = set()
        keys: list[str] = []
        for n, spec in enumerate(case["customers"], start=1):
            [cid] = add_customers(ops, 1, start=n, consent=spec["consent"])
            if spec["suppressed"] or not spec["consent"]:
                blocked.add(cid)
            if spec["suppressed"]:
                with ops.begin() as con:
                    con.execute(
                        SUPPRESSIONS.insert().values(
                            address_hash=address_hash(cid), channel="calls", reason="manual", ts=NOW
                        )
                    )
            for m in range(spec["messages"]):
                keys += add_messages(
                    ops,
                    [cid],
                    "calls",
                    template=None,
                    step=f"call{m}",
                    due=NOW + timedelta(minutes=30 * m),
                )
        for minutes in sorted(case["runs"]):
            env.run(NOW + timedelta(minutes=minutes), limit=case["limit"])
        env.run(NOW + timedelta(hours=2))
        path = root / "calls.csv"
        rows = []
        if path.exists():
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle, delimiter=";"))
        ops.close()
    assert not {r["customer_id"] for r in rows} & blocked
    delivered = Counter(r["message"] for r in rows)
    assert set(delivered.values()) <= {1}
    allowed = {message_token(k) for k in keys if k.split("|")[0] not in blocked}
    assert set(delivered) == allowed  # everyone else got every message, once
