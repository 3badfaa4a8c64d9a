"""Small hand-made bases for the planner tests: customers, orders, events, segments, state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from livebase.config import LivebaseConfig
from livebase.orchestrate.planner import TickPlan, plan_tick
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.replay import replay_state
from livebase.orchestrate.sink import append_plan
from livebase.store import Store

CHANNELS = {"email": {"cost": 0.05}, "push": {"cost": 0.0}, "sms": {"cost": 4.5}}


@dataclass
class Base:
    """A customer base in an in-memory store, with scratch state tables (local time)."""

    store: Store
    config: LivebaseConfig
    plans: list[TickPlan] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = replay_state(self.store)

    def tick(self, playbooks: Sequence[Playbook], as_of: datetime) -> TickPlan:
        plan = plan_tick(self.store, self.config, playbooks, as_of, state=self.state)
        append_plan(self.store.con, plan, self.state)
        self.plans.append(plan)
        return plan

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        result = self.store.con.execute(sql, list(params))
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def ledger(self, customer: str | None = None) -> list[dict[str, Any]]:
        where = "" if customer is None else f"WHERE customer_id = '{customer}'"
        return self.rows(f"SELECT * FROM lb_rp_ledger {where} ORDER BY ts, event_id")

    def journeys(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM lb_rp_journeys ORDER BY customer_id, playbook, occurrence")

    def outbox(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for plan in self.plans:
            out += plan.outbox.to_pylist()
        return out

    def consent(self, customer: str, channel: str = "any", status: str = "granted") -> None:
        n = self.store.con.execute("SELECT count(*) FROM lb_rp_consents").fetchall()[0][0]
        self.store.con.execute(
            "INSERT INTO lb_rp_consents VALUES (?, ?, ?, 'marketing', ?, TIMESTAMP '2020-01-01')",
            [int(n) + 1, customer, channel, status],
        )

    def suppress(self, customer: str, channel: str = "any", reason: str = "unsubscribe") -> None:
        self.store.con.execute(
            "INSERT INTO lb_rp_suppressions VALUES (NULL, ?, ?, ?, NULL)",
            [channel, customer, reason],
        )

    def react(self, customer: str, key_suffix: str, kind: str, ts: datetime) -> None:
        key = f"{customer}|{key_suffix}"
        self.store.con.execute(
            "INSERT INTO lb_rp_ledger VALUES (?, ?, ?, NULL, NULL, NULL, 'email', ?, NULL, 0, ?)",
            [f"{key}:{kind}", key, customer, kind, ts],
        )


def make_config(
    policy: Mapping[str, Any] | None = None,
    *,
    timezone: str = "Europe/Moscow",
    channels: Mapping[str, Any] | None = None,
) -> LivebaseConfig:
    return LivebaseConfig.model_validate(
        {
            "timezone": timezone,
            "policy": dict(policy or {}),
            "channels": dict(CHANNELS if channels is None else channels),
            "segments": {"schemes": {"rfm": {"kind": "quantile"}, "named": {"kind": "named"}}},
        }
    )


def make_base(
    customers: Iterable[Mapping[str, Any]],
    *,
    orders: Iterable[tuple[str, datetime, float]] = (),
    events: Iterable[tuple[str, datetime, str]] = (),
    segments: Iterable[tuple[str, str, str, date, date | None]] = (),
    config: LivebaseConfig | None = None,
    consent_all: bool = True,
) -> Base:
    """Customers are dicts with customer_id and optionally email, phone, timezone, attributes."""
    store = Store.in_memory()
    cust = list(customers)
    rows = [
        {
            "customer_id": c["customer_id"],
            "email": c.get("email", f"{c['customer_id']}@example.ru"),
            "phone": c.get("phone", "+7 912 000-00-00"),
            "name": None,
            "timezone": c.get("timezone"),
            "created_at": c.get("created_at", datetime(2025, 1, 1)),
            "attributes": c.get("attributes"),
            "first_load": 1,
            "last_load": 1,
        }
        for c in cust
    ]
    con = store.con
    if rows:
        con.register("lb_t_customers", pa.Table.from_pylist(rows))
        con.execute(
            "INSERT INTO customers SELECT customer_id, email, phone, name, timezone, created_at, "
            "CAST(attributes AS JSON), first_load, last_load FROM lb_t_customers"
        )
        con.unregister("lb_t_customers")
    for i, (cid, paid_at, amount) in enumerate(orders):
        con.execute(
            "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
            "currency, status, first_load, last_load) VALUES (?, ?, ?, ?, ?, ?, 'RUB', 'paid', 1, 1)",
            [f"o{i}", cid, paid_at, paid_at, amount, amount],
        )
    for i, (cid, ts, name) in enumerate(events):
        con.execute(
            "INSERT INTO events (event_id, customer_id, ts, name, first_load) VALUES (?, ?, ?, ?, 1)",
            [f"e{i}", cid, ts, name],
        )
    for cid, scheme, segment, start, end in segments:
        con.execute(
            "INSERT INTO segment_history (customer_id, scheme, segment, valid_from, valid_to) "
            "VALUES (?, ?, ?, ?, ?)",
            [cid, scheme, segment, start, end],
        )
    base = Base(store, config or make_config())
    if consent_all:
        for c in cust:
            base.consent(str(c["customer_id"]))
    return base


def playbook(**values: Any) -> Playbook:
    data: dict[str, Any] = {
        "name": "pb",
        "trigger": {"inactivity_days": 60},
        "steps": [{"id": "email", "channel": "email"}],
    }
    data.update(values)
    return Playbook.model_validate(data)
