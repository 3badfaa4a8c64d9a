"""The replay's carried frame is the frame rebuilt from the whole log, on every day; and a
replay with it plans exactly what a replay rebuilding the frame every day plans.

The bases have what moves a frame: orders paid long before that leave the 30/90/180-day and
signal windows during the replay, refunds, partial payments, pending and free orders,
customers registering (or placing their first order) mid-replay, events in and out of their
windows, segment periods that begin and end, uplift scores, and a CLV fit that comes into
force mid-replay.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from _bases import make_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.config import LivebaseConfig
from livebase.orchestrate import replay as replay_module
from livebase.orchestrate.frame import FRAME, build_frame
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.replay import replay
from livebase.orchestrate.replay_frame import CarriedFrame, touch_sql
from livebase.store import Store

START, END = date(2026, 1, 1), date(2026, 3, 15)
SEGMENTS = ["Champions", "Loyal", "New", "At Risk", "Hibernating", "Lost"]
FEATURES: dict[str, Any] = {
    "window_days": 120,
    "signals": {
        "courses_90d": {"source": "orders", "items_like": "%course%", "window_days": 90},
        "spend_30d": {"source": "orders", "measure": "amount", "window_days": 30},
        "days_since_course": {
            "source": "orders",
            "items_like": "%course%",
            "measure": "days_since",
            "window_days": 150,
        },
        "buying_days": {"source": "orders", "measure": "distinct_days"},
        "logins_30d": {"events": ["login"], "window_days": 30},
        "days_since_login": {"events": ["login"], "measure": "days_since"},
        "logins_per_month": {"events": ["login"], "measure": "per_month", "window_days": 60},
        "missed_days_14d": {
            "events": ["lesson_missed"],
            "measure": "distinct_days",
            "window_days": 14,
        },
    },
}


def _config(policy: dict[str, Any] | None = None) -> LivebaseConfig:
    data = make_config(policy).model_dump(mode="json", exclude_unset=True)
    data["features"] = FEATURES
    return LivebaseConfig.model_validate(data)


def _seeded_store(seed: int, customers: int = 60) -> Store:
    """A base whose frame moves every day of START … END (see the module docstring)."""
    rng = random.Random(seed)
    store = Store.in_memory()
    con = store.con
    first = datetime(2025, 6, 1)
    span = (datetime.combine(END, time()) - first).days
    for i in range(customers):
        created = None if i % 9 == 0 else first + timedelta(days=rng.randrange(span + 20))
        con.execute(
            "INSERT INTO customers (customer_id, email, phone, timezone, created_at, attributes, "
            "first_load, last_load) VALUES (?, ?, ?, ?, ?, NULL, 1, 1)",
            [f"c{i}", f"c{i}@example.ru", "+7 912 000-00-00",
             rng.choice([None, "Europe/Moscow", "Asia/Novosibirsk"]), created],
        )  # fmt: skip
    for k in range(customers * 4):
        customer = f"c{rng.randrange(customers)}"
        placed = first + timedelta(days=rng.randrange(span), minutes=rng.randrange(1440))
        status = rng.choice(["paid"] * 6 + ["partially_paid", "pending", "refunded", "cancelled"])
        amount = rng.choice([0, 500, 1500, 4000, 12000])
        paid = {"paid": amount, "partially_paid": amount // 2}.get(status, 0)
        paid_at = placed + timedelta(days=rng.choice([0, 0, 3])) if paid else None
        con.execute(
            "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
            "currency, status, items, first_load, last_load) "
            "VALUES (?, ?, ?, ?, ?, ?, 'RUB', ?, ?, 1, 1)",
            [f"o{k}", customer, rng.choice([placed, None]) if paid else placed, paid_at,
             amount, paid, status, rng.choice(["python course", "book", None])],
        )  # fmt: skip
    for k in range(customers * 3):
        ts = first + timedelta(days=rng.randrange(span), minutes=rng.randrange(1440))
        con.execute(
            "INSERT INTO events (event_id, customer_id, ts, name, first_load) "
            "VALUES (?, ?, ?, ?, 1)",
            [f"e{k}", f"c{rng.randrange(customers)}", ts,
             rng.choice(["login", "session_start", "lesson_missed"])],
        )  # fmt: skip
    for i in range(customers):
        day = START - timedelta(days=40)
        while day <= END:
            length = rng.randrange(5, 40)
            ends = day + timedelta(days=length)
            con.execute(
                "INSERT INTO segment_history (customer_id, scheme, segment, valid_from, valid_to) "
                "VALUES (?, 'named', ?, ?, ?)",
                [f"c{i}", rng.choice(SEGMENTS), day, None if ends > END else ends],
            )
            day = ends
        if i % 4 == 0:
            con.execute(
                "INSERT INTO uplift_scores VALUES ('m', ?, 'email', ?, '{}', ?)",
                [f"c{i}", rng.random(), datetime.combine(START, time(8)) + timedelta(days=i)],
            )
    _clv_fit(store, "fit-1", START + timedelta(days=20), customers, rng)
    return store


def _clv_fit(store: Store, fit: str, as_of: date, customers: int, rng: random.Random) -> None:
    store.con.execute(
        "INSERT INTO clv_models (fit_id, model, version, params, log_likelihood, unit, as_of, "
        "customers, saved, fitted_at) VALUES (?, 'bgnbd', 1, '{}', 0, 'days', ?, ?, '{}', ?)",
        [fit, as_of, customers, datetime(2026, 11, 30)],
    )
    for i in range(0, customers, 2):
        for horizon in (90, 365):
            store.con.execute(
                "INSERT INTO clv_predictions VALUES (?, ?, ?, ?, ?, 3000, ?, ?, 0.01, 1)",
                [fit, f"c{i}", horizon, as_of, rng.random(), rng.random() * 3, rng.random() * 9e3],
            )


def _rows(store: Store, table: str) -> list[tuple[Any, ...]]:
    return store.con.execute(f"SELECT * FROM {table} ORDER BY customer_id").fetchall()


def _check_every_day(store: Store, config: LivebaseConfig, start: date, end: date) -> int:
    """Carry the frame from ``start`` to ``end``; compare it with a rebuild on every day."""
    carried = CarriedFrame(store, config, start, end)
    day, days = start, 0
    while day <= end:
        carried(day)
        build_frame(store, config, day, table="lb_t_rebuilt")
        columns = [r[:2] for r in store.con.execute(f"DESCRIBE {FRAME}").fetchall()]
        assert columns == [r[:2] for r in store.con.execute("DESCRIBE lb_t_rebuilt").fetchall()]
        assert _rows(store, FRAME) == _rows(store, "lb_t_rebuilt"), f"frames differ on {day}"
        day += timedelta(days=1)
        days += 1
    assert carried.rebuilt < days
    return carried.rebuilt


def test_the_carried_frame_is_the_rebuilt_frame_on_every_day() -> None:
    store = _seeded_store(7)
    config = _config()
    # the first day and the day the CLV fit comes into force are built in full; the rest carried
    assert _check_every_day(store, config, START, END) == 2
    touched = store.con.execute("SELECT count(DISTINCT day) FROM lb_rp_touch").fetchall()[0][0]
    assert touched == (END - START).days  # something moves on every day of this base


def test_a_customer_is_listed_on_the_days_an_order_leaves_each_window() -> None:
    store = Store.in_memory()
    store.con.execute(
        "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
        "currency, status, first_load, last_load) VALUES "
        "('o1', 'a', '2025-10-01 09:00', '2025-10-02 23:59', 100, 100, 'RUB', 'paid', 1, 1)"
    )
    config = _config()
    days = [
        r[0]
        for r in store.con.execute(
            touch_sql(config.features, date(2025, 9, 1), date(2026, 12, 31))
        ).fetchall()
    ]
    paid = date(2025, 10, 2)
    windows = [0, 30, 90, 120, 150, 180]  # the features', the RFM window, the signals'
    assert days == [date(2025, 10, 1), *(paid + timedelta(days=n) for n in windows)]


@st.composite
def _bases(draw: st.DrawFn) -> tuple[Store, date, date]:
    store = Store.in_memory()
    con = store.con
    start = date(2026, 3, 1)
    n = draw(st.integers(1, 5))
    for i in range(n):
        created = draw(st.one_of(st.none(), st.integers(-200, 25)))
        con.execute(
            "INSERT INTO customers (customer_id, created_at, first_load, last_load) "
            "VALUES (?, ?, 1, 1)",
            [f"c{i}", None if created is None else start + timedelta(days=created)],
        )
    orders = st.tuples(st.integers(0, n - 1), st.integers(-200, 25), st.integers(0, 23),
                       st.sampled_from(["paid", "refunded", "partially_paid", "pending"]),
                       st.booleans())  # fmt: skip
    for k, (c, day, hour, status, course) in enumerate(draw(st.lists(orders, max_size=12))):
        moment = datetime.combine(start + timedelta(days=day), time(hour))
        paid = {"paid": 1000, "partially_paid": 300}.get(status, 0)
        con.execute(
            "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
            "currency, status, items, first_load, last_load) "
            "VALUES (?, ?, ?, ?, 1000, ?, 'RUB', ?, ?, 1, 1)",
            [f"o{k}", f"c{c}", moment, moment if paid else None, paid, status,
             "course" if course else "book"],
        )  # fmt: skip
    events = st.tuples(st.integers(0, n - 1), st.integers(-100, 25),
                       st.sampled_from(["login", "session", "lesson_missed"]))  # fmt: skip
    for k, (c, day, name) in enumerate(draw(st.lists(events, max_size=8))):
        con.execute(
            "INSERT INTO events (event_id, customer_id, ts, name, first_load) "
            "VALUES (?, ?, ?, ?, 1)",
            [f"e{k}", f"c{c}", datetime.combine(start + timedelta(days=day), time(12)), name],
        )
    periods = st.tuples(st.integers(0, n - 1), st.sampled_from(SEGMENTS), st.integers(-5, 25),
                        st.one_of(st.none(), st.integers(1, 20)))  # fmt: skip
    for c, segment, begins, length in draw(st.lists(periods, max_size=4)):
        valid_from = start + timedelta(days=begins)
        con.execute(
            "INSERT INTO segment_history (customer_id, scheme, segment, valid_from, valid_to) "
            "VALUES (?, 'named', ?, ?, ?)",
            [f"c{c}", segment, valid_from,
             None if length is None else valid_from + timedelta(days=length)],
        )  # fmt: skip
    return store, start, start + timedelta(days=draw(st.integers(1, 30)))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bases())
def test_on_random_bases_the_carried_frame_equals_the_rebuilt_one(
    base: tuple[Store, date, date],
) -> None:
    store, start, end = base
    _check_every_day(store, _config(), start, end)


def _playbooks() -> list[Playbook]:
    cascade = [
        {"id": "email", "channel": "email"},
        {"id": "push", "after_days": 2, "channel": "push", "only_if": {"not_opened": "email"}},
        {"id": "sms", "after_days": 1, "channel": "sms",
         "only_if": {"no_reaction": ["email", "push"]}, "holdout": 0.3},
    ]  # fmt: skip
    specs: list[dict[str, Any]] = [
        {"name": "winback-30", "trigger": {"inactivity_days": 30},
         "audience": {"where": "monetary >= 500"}, "priority": 60, "holdout": 0.2,
         "cooldown_days": 20, "steps": cascade},
        {"name": "winback-90", "trigger": {"inactivity_days": 90},
         "audience": {"where": "paid_orders_180d >= 1 or courses_90d > 0"}, "priority": 50,
         "holdout": 0.1, "steps": cascade},
        {"name": "champions", "trigger": {"segment_entry": {"named": ["Champions", "Loyal"]},
         "within_days": 3}, "priority": 70, "holdout": 0.2,
         "steps": [{"id": "email", "channel": "email"}]},
        {"name": "sleepers", "trigger": {"segment_entry": {"named": ["Hibernating", "Lost"]}},
         "audience": {"where": "tenure_days > 60 and (logins_30d = 0 or days_since_login > 20)"},
         "priority": 40, "steps": [{"id": "push", "channel": "push"}]},
        {"name": "missed", "trigger": {"event": "lesson_missed", "within_hours": 24},
         "audience": {"where": "p_alive is null or p_alive > 0.2"}, "priority": 90,
         "steps": [{"id": "push", "channel": "push"}]},
    ]  # fmt: skip
    return [Playbook.model_validate(s) for s in specs]


def _replayed(store: Store, config: LivebaseConfig, mode: Any) -> dict[str, Any]:
    end = START + timedelta(days=41)  # six weeks: windows close, segments change, journeys end
    result = replay(store, config, _playbooks(), START, end, at=time(10), frame=mode)
    assert result.outbox is not None and result.ledger is not None
    tables = {
        name: store.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        for name, table in (("journeys", "lb_rp_journeys"), ("assignments", "lb_rp_assignments"),
                            ("counts", "lb_rp_counts"))
    }  # fmt: skip
    return {"outbox": result.outbox.to_pylist(), "ledger": result.ledger.to_pylist(),
            "weekly": result.weekly, "messages": result.messages,
            "per_customer": result.per_customer, "hits": result.hits,
            "overlaps": result.overlaps, **tables}  # fmt: skip


def test_replay_plans_the_same_with_the_carried_frame_as_with_a_rebuild_every_day() -> None:
    config = _config(
        {
            "caps": [{"channel": "email", "max": 2, "per": "7d"},
                     {"channel": "any", "max": 3, "per": "7d"},
                     {"segments": {"named": ["Hibernating", "Lost"]}, "channel": "any",
                      "max": 1, "per": "14d"}],
            "quiet_hours": {"from": "21:00", "to": "09:00"},
            "stop_rules": ["days_since_last_paid < 3", "refunded_orders > 2"],
            "global_holdout": 0.05,
            "require_consent": False,
        }
    )  # fmt: skip
    store = _seeded_store(11, customers=100)
    carried = _replayed(store, config, "carried")
    rebuilt = _replayed(store, config, "rebuilt")
    assert carried["ledger"] and carried["outbox"]
    planned = {(r["playbook"], r["type"]) for r in carried["ledger"]}
    for name in ("winback-30", "winback-90", "champions", "sleepers", "missed"):
        assert (name, "planned") in planned, f"{name} planned nothing: the test proves less"
    assert any(j[5] == "exited" for j in carried["journeys"]), "no purchase ended a journey"
    for key in carried:
        assert carried[key] == rebuilt[key], f"the replays differ in {key}"


def test_a_small_base_is_replayed_on_one_thread_and_the_store_keeps_its_setting(
    monkeypatch: Any,
) -> None:
    store = _seeded_store(5, customers=40)
    store.con.execute("SET threads = 2")
    config = _config()
    threads: list[int] = []

    def seen(day: date) -> None:
        threads.append(int(store.fetch_value("SELECT current_setting('threads')")))

    end = START + timedelta(days=3)
    replay(store, config, _playbooks(), START, end, on_day=seen)
    assert threads == [1] * 4
    assert store.fetch_value("SELECT current_setting('threads')") == 2

    def fails(day: date) -> None:
        raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError, match="stopped by the caller"):
        replay(store, config, _playbooks(), START, end, on_day=fails)
    assert store.fetch_value("SELECT current_setting('threads')") == 2

    monkeypatch.setattr(replay_module, "ONE_THREAD_CUSTOMERS", 39)  # 40 customers: larger
    threads.clear()
    replay(store, config, _playbooks(), START, end, on_day=seen)
    assert threads == [2] * 4
