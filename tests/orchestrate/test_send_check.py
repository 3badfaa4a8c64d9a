"""Send-time eligibility on both operational stores: consent, suppression, quiet hours, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.channels.settings import ChannelSettings
from livebase.ops import (
    CONSENTS,
    CUSTOMER_STATUS,
    JOURNEYS,
    SEND_LEDGER,
    SUPPRESSIONS,
    OpsStore,
    outbox_key,
)
from livebase.orchestrate.send_check import address_hash, check_at_send, next_allowed
from livebase.orchestrate.settings import PolicySettings, QuietHours

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
CHANNELS = {
    "email": ChannelSettings.model_validate({"type": "smtp", "host": "127.0.0.1", "from": "a@b"}),
    "sms": ChannelSettings.model_validate(
        {"type": "sms", "provider": "smsru", "api_key_env": "K", "cost": 4.5}
    ),
    "planned_only": ChannelSettings.model_validate({"cost": 1}),
}


def _message(customer: str = "c1", channel: str = "email", **extra: Any) -> dict[str, Any]:
    key = outbox_key(customer, "winback", 1, extra.pop("step", channel))
    return {
        "key": key,
        "customer_id": customer,
        "playbook": "winback",
        "occurrence": 1,
        "channel": channel,
        "purpose": "marketing",
        **extra,
    }


def _customer(ops: OpsStore, customer: str = "c1", **values: Any) -> None:
    row = {
        "customer_id": customer,
        "email": "Anna@School.ru",
        "phone": "+7 912 000-11-22",
        "timezone": "Europe/Moscow",
        "features": {},
        "segments": {"named": "At Risk"},
        "since": {},
        "thresholds_version": "t1",
        "as_of": NOW.date(),
        "updated_at": NOW,
        "source": "batch",
        **values,
    }
    with ops.begin() as con:
        con.execute(CUSTOMER_STATUS.insert().values(**row))


def _consent(ops: OpsStore, status: str, ts: datetime, customer: str = "c1") -> None:
    with ops.begin() as con:
        con.execute(
            CONSENTS.insert().values(
                customer_id=customer,
                channel="any",
                purpose="marketing",
                status=status,
                source="test",
                ts=ts,
            )
        )


def _sent(ops: OpsStore, ts: datetime, channel: str = "email", n: int = 0) -> None:
    with ops.begin() as con:
        con.execute(
            SEND_LEDGER.insert().values(
                event_id=f"other|{n}:sent",
                message_key=f"other|{n}",
                customer_id="c1",
                channel=channel,
                type="sent",
                ts=ts,
            )
        )


def _check(ops: OpsStore, message: dict[str, Any], policy: PolicySettings, now: datetime = NOW):
    with ops.begin() as con:
        return check_at_send(
            con, message, policy=policy, channels=CHANNELS, workspace_tz="Europe/Moscow", now=now
        )


def test_marketing_needs_a_granted_consent_and_a_withdrawal_wins(ops_store: OpsStore) -> None:
    _customer(ops_store)
    policy = PolicySettings()
    assert _check(ops_store, _message(), policy).reason == "no_consent"
    _consent(ops_store, "granted", NOW - timedelta(days=30))
    assert _check(ops_store, _message(), policy).action == "send"
    _consent(ops_store, "withdrawn", NOW - timedelta(days=1))
    assert _check(ops_store, _message(), policy).reason == "no_consent"
    relaxed = PolicySettings(require_consent=False)
    assert _check(ops_store, _message(), relaxed).action == "send"


def test_suppression_by_address_whatever_its_case_and_pauses_end(ops_store: OpsStore) -> None:
    _customer(ops_store)
    policy = PolicySettings(require_consent=False)
    with ops_store.begin() as con:
        con.execute(
            SUPPRESSIONS.insert().values(
                address_hash=address_hash("anna@school.RU"),
                channel="email",
                reason="unsubscribe",
                ts=NOW - timedelta(days=2),
            )
        )
        con.execute(
            SUPPRESSIONS.insert().values(
                address_hash=address_hash("79120001122"),
                channel="sms",
                customer_id="c1",
                reason="pause",
                ts=NOW - timedelta(days=31),
                expires_at=NOW - timedelta(days=1),
            )
        )
    assert _check(ops_store, _message(), policy).reason == "suppressed:unsubscribe"
    transactional = _message(purpose="transactional")
    assert _check(ops_store, transactional, policy).reason == "suppressed:unsubscribe"
    assert _check(ops_store, _message(channel="sms"), policy).action == "send"


def test_no_contact_skips_and_unconfigured_channels_are_named(ops_store: OpsStore) -> None:
    _customer(ops_store, phone=None)
    policy = PolicySettings(require_consent=False)
    assert _check(ops_store, _message(channel="sms"), policy).reason == "no_contact"
    assert _check(ops_store, _message(channel="planned_only"), policy).reason == (
        "channel_not_configured:planned_only"
    )


def test_quiet_hours_defer_to_the_customers_morning(ops_store: OpsStore) -> None:
    _customer(ops_store)
    policy = PolicySettings.model_validate(
        {"require_consent": False, "quiet_hours": {"from": "21:00", "to": "09:00"}}
    )
    evening = datetime(2026, 6, 30, 19, 30, tzinfo=UTC)  # 22:30 in Moscow
    decision = _check(ops_store, _message(), policy, now=evening)
    assert decision.action == "defer" and decision.reason == "quiet_hours"
    assert decision.not_before == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    assert _check(ops_store, _message(purpose="transactional"), policy, now=evening).action == (
        "send"
    )


def test_an_exited_journey_cancels_the_pending_step(ops_store: OpsStore) -> None:
    _customer(ops_store)
    with ops_store.begin() as con:
        con.execute(
            JOURNEYS.insert().values(
                customer_id="c1",
                playbook="winback",
                occurrence=1,
                entered_at=NOW - timedelta(days=3),
                arm="treatment",
                state="exited",
                exit_reason="purchase",
                updated_at=NOW,
            )
        )
    decision = _check(ops_store, _message(), PolicySettings(require_consent=False))
    assert (decision.action, decision.reason) == ("cancel", "journey_exited:purchase")


def test_a_full_cap_defers_until_the_oldest_send_leaves_the_window(ops_store: OpsStore) -> None:
    _customer(ops_store)
    policy = PolicySettings.model_validate(
        {
            "require_consent": False,
            "caps": [
                {"channel": "email", "max": 2, "per": "7d"},
                {"channel": "any", "max": 3, "per": "7d"},
            ],
        }
    )
    _sent(ops_store, NOW - timedelta(days=8), n=1)  # outside the window
    _sent(ops_store, NOW - timedelta(days=6), n=2)
    assert _check(ops_store, _message(), policy).action == "send"
    _sent(ops_store, NOW - timedelta(days=1), n=3)
    decision = _check(ops_store, _message(), policy)
    assert decision.reason == "capped:email:2/7d"
    assert decision.not_before == NOW - timedelta(days=6) + timedelta(days=7)
    # an SMS is under its own cap but the cross-channel cap counts the e-mails too
    assert _check(ops_store, _message(channel="sms"), policy).action == "send"
    _sent(ops_store, NOW - timedelta(hours=1), channel="sms", n=4)
    assert _check(ops_store, _message(channel="sms"), policy).reason == "capped:any:3/7d"
    assert _check(ops_store, _message(purpose="transactional"), policy).action == "send"


def test_segment_caps_apply_only_inside_the_segment(ops_store: OpsStore) -> None:
    _customer(ops_store, segments={"named": "Lost"})
    _customer(ops_store, "c2", segments={"named": "Champions"})
    policy = PolicySettings.model_validate(
        {
            "require_consent": False,
            "caps": [{"segments": {"named": ["Hibernating", "Lost"]}, "max": 1, "per": "14d"}],
        }
    )
    _sent(ops_store, NOW - timedelta(days=3))
    assert _check(ops_store, _message(), policy).reason == "capped:any:1/14d"
    assert _check(ops_store, _message("c2"), policy).action == "send"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=30 * 24 * 60), min_size=1, max_size=25),
    cap=st.integers(min_value=1, max_value=4),
    days=st.integers(min_value=1, max_value=10),
)
def test_a_cap_is_never_exceeded_in_any_rolling_window(
    tmp_path_factory: pytest.TempPathFactory, offsets: list[int], cap: int, days: int
) -> None:
    """Attempts at random minutes; whatever is sent, no window of the cap's length holds more."""
    from livebase.ops import sqlite_url

    ops = OpsStore.open(sqlite_url(tmp_path_factory.mktemp("cap") / "ops.sqlite"))
    _customer(ops)
    policy = PolicySettings.model_validate(
        {"require_consent": False, "caps": [{"channel": "email", "max": cap, "per": f"{days}d"}]}
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sent: list[datetime] = []
    for i, minute in enumerate(sorted(offsets)):
        now = start + timedelta(minutes=minute)
        message = _message(step=f"s{i}")
        if _check(ops, message, policy, now=now).action == "send":
            with ops.begin() as con:
                con.execute(
                    SEND_LEDGER.insert().values(
                        event_id=f"{message['key']}:sent",
                        message_key=message["key"],
                        customer_id="c1",
                        channel="email",
                        type="sent",
                        ts=now,
                    )
                )
            sent.append(now)
    ops.close()
    window = timedelta(days=days)
    for t in sent:  # any window's worst case starts just after a send... or at one
        assert sum(1 for u in sent if t <= u < t + window) <= cap


@pytest.mark.parametrize(
    ("now", "zone", "quiet", "expected"),
    [
        # 22:30 Moscow → 09:00 next morning
        (
            datetime(2026, 6, 30, 19, 30, tzinfo=UTC),
            "Europe/Moscow",
            ("21:00", "09:00"),
            datetime(2026, 7, 1, 6, 0, tzinfo=UTC),
        ),
        # 03:00 in Moscow: already the next day → 09:00 the same day
        (
            datetime(2026, 6, 30, 0, 0, tzinfo=UTC),
            "Europe/Moscow",
            ("21:00", "09:00"),
            datetime(2026, 6, 30, 6, 0, tzinfo=UTC),
        ),
        # Berlin springs forward at 02:00 on 2026-03-29: a quiet end of 02:30 does not exist
        (
            datetime(2026, 3, 29, 0, 10, tzinfo=UTC),
            "Europe/Berlin",
            ("01:00", "02:30"),
            datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        ),
        # New York falls back on 2026-11-01: 01:30 happens twice; the first is taken
        (
            datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
            "America/New_York",
            ("23:00", "01:30"),
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        ),
    ],
)
def test_quiet_hours_move_never_drop_across_dst(
    now: datetime, zone: str, quiet: tuple[str, str], expected: datetime
) -> None:
    hours = QuietHours.model_validate({"from": quiet[0], "to": quiet[1]})
    allowed = next_allowed(now, hours, zone)
    assert allowed == expected
    assert next_allowed(allowed, hours, zone) is None
