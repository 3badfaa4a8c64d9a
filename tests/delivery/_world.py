"""Building the worker's world in a test: customers, consents, outbox rows, templates, and a
worker over real channels (on whichever operational store the test got)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from livebase.channels.settings import ChannelSettings
from livebase.delivery.outbox import DeliverySettings, Tally
from livebase.delivery.run import build_worker
from livebase.delivery.worker import Worker
from livebase.ops import CONSENTS, CUSTOMER_STATUS, OUTBOX, SEND_LEDGER, OpsStore, outbox_key
from livebase.orchestrate.settings import PolicySettings
from livebase.secrets import ensure_secrets, load_secrets

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
BASE_URL = "https://lb.school.test"

EMAIL_TEMPLATE = """{% block subject %}{{ customer.first_name }}, мы скучаем{% endblock %}
{% block text %}Здравствуйте, {{ customer.first_name }}!
Вернитесь со скидкой {{ offer.discount }}%: https://school.test/back?utm=lb
Отписаться: {{ unsubscribe_url }}{% endblock %}
{% block html %}<html><body><p>Здравствуйте, {{ customer.first_name }}!</p>
<p><a href="https://school.test/back?utm=lb">Вернуться</a> · <a href="https://school.test/catalog">Каталог</a></p>
<p><a href="{{ unsubscribe_url }}">Отписаться</a></p></body></html>{% endblock %}
"""
TEXT_TEMPLATE = "{{ customer.first_name }}, скидка {{ offer.discount }}% до воскресенья"


def write_templates(root: Path) -> None:
    for name, text in (("winback_email", EMAIL_TEMPLATE), ("winback_text", TEXT_TEMPLATE)):
        folder = root / "templates" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ru.j2").write_text(text, encoding="utf-8")


def add_customers(
    ops: OpsStore, count: int, *, start: int = 1, consent: bool = True, **values: Any
) -> list[str]:
    ids = [str(90000 + n) for n in range(start, start + count)]
    rows = [
        {
            "customer_id": cid,
            "email": f"c{cid}@example.ru",
            "phone": f"+7912{int(cid):07d}",
            "name": "Анна Петрова",
            "timezone": "Europe/Moscow",
            "attributes": {"telegram_chat_id": f"7{cid}", "language": "ru"},
            "features": {"recency_days": 70},
            "segments": {"named": "At Risk"},
            "since": {},
            "thresholds_version": "t1",
            "as_of": NOW.date(),
            "updated_at": NOW,
            "source": "batch",
            **values,
        }
        for cid in ids
    ]
    with ops.begin() as con:
        con.execute(CUSTOMER_STATUS.insert(), rows)
        if consent:
            con.execute(
                CONSENTS.insert(),
                [
                    {
                        "customer_id": cid,
                        "channel": "any",
                        "purpose": "marketing",
                        "status": "granted",
                        "source": "test",
                        "text_version": "v1",
                        "ts": NOW - timedelta(days=30),
                    }
                    for cid in ids
                ],
            )
    return ids


def add_messages(
    ops: OpsStore,
    customers: Iterable[str],
    channel: str,
    *,
    template: str | None = "winback_email",
    purpose: str = "marketing",
    playbook: str = "winback",
    due: datetime = NOW - timedelta(minutes=5),
    step: str | None = None,
) -> list[str]:
    rows = []
    for cid in customers:
        key = outbox_key(cid, playbook, 1, step or channel)
        rows.append(
            {
                "key": key,
                "customer_id": cid,
                "playbook": playbook,
                "occurrence": 1,
                "step": step or channel,
                "channel": channel,
                "purpose": purpose,
                "template": template,
                "offer": "BACK15",
                "payload": {"offer": {"discount": 15}, "text": "Позвонить клиенту"},
                "due_at": due,
                "created_at": NOW - timedelta(hours=1),
                "updated_at": NOW - timedelta(hours=1),
            }
        )
    with ops.begin() as con:
        con.execute(OUTBOX.insert(), rows)
    return [r["key"] for r in rows]


@dataclass
class Env:
    ops: OpsStore
    root: Path
    channels: dict[str, ChannelSettings]
    policy: PolicySettings

    def run(
        self,
        now: datetime = NOW,
        *,
        settings: DeliverySettings | None = None,
        limit: int | None = None,
        owner: str = "test-worker",
        window: int = 32,
    ) -> Tally:
        worker = self.worker(now, settings=settings, owner=owner, window=window)

        async def go() -> Tally:
            try:
                return await worker.run(limit=limit)
            finally:
                await worker.close()

        return asyncio.run(go())

    def worker(
        self,
        now: datetime = NOW,
        *,
        settings: DeliverySettings | None = None,
        owner: str = "test-worker",
        window: int = 32,
    ) -> Worker:
        worker, unavailable = build_worker(
            self.ops,
            root=self.root,
            channels=self.channels,
            policy=self.policy,
            workspace_tz="Europe/Moscow",
            base_url=BASE_URL,
            secrets=load_secrets(self.root),
            clock=lambda: now,
            settings=settings,
            owner=owner,
            window=window,
            poll_seconds=0.2,
        )
        assert not unavailable, unavailable
        return worker

    def statuses(self) -> dict[str, str]:
        with self.ops.read() as con:
            return {k: s for k, s in con.execute(sa.select(OUTBOX.c.key, OUTBOX.c.status))}

    def ledger(self, kind: str | None = None) -> list[Mapping[str, Any]]:
        query = sa.select(SEND_LEDGER)
        if kind is not None:
            query = query.where(SEND_LEDGER.c.type == kind)
        with self.ops.read() as con:
            return [dict(r) for r in con.execute(query.order_by(SEND_LEDGER.c.event_id)).mappings()]


def make_env(
    ops: OpsStore,
    root: Path,
    channels: Mapping[str, Mapping[str, Any]],
    policy: Mapping[str, Any] | None = None,
) -> Env:
    write_templates(root)
    ensure_secrets(root)  # once: parallel workers only read it
    return Env(
        ops,
        root,
        {name: ChannelSettings.model_validate(values) for name, values in channels.items()},
        PolicySettings.model_validate(policy or {}),
    )
