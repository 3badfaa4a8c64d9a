"""Live segments equal the batch run: same features and thresholds give the same segments,
and a payment moves a customer's features exactly as a batch run including it."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from livebase.features import FeaturesSettings
from livebase.ops import STATUS_THRESHOLDS, OpsStore, sqlite_url
from livebase.segments.live import apply_payment, assign_live
from livebase.segments.publish import publish_status
from livebase.segments.run import run_segmentation
from livebase.segments.settings import RuleSpec, RulesScheme, SegmentsSettings
from livebase.store import Store

AS_OF = date(2026, 6, 30)


def _store(seed: int = 7, customers: int = 300) -> Store:
    rng = random.Random(seed)
    store = Store.in_memory()
    n = 0
    for c in range(customers):
        store.con.execute(
            "INSERT INTO customers (customer_id, first_load, last_load) VALUES (?, 1, 1)",
            [f"c{c}"],
        )
        for _ in range(rng.choice([0, 1, 1, 2, 3, 5])):
            day = AS_OF - timedelta(days=rng.randint(0, 700))
            amount = rng.choice([490, 990, 1990, 4990, 14990])
            n += 1
            store.con.execute(
                "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, "
                "paid_amount, status, first_load, last_load) VALUES (?, ?, ?, ?, ?, ?, 'paid', 1, 1)",
                [f"o{n}", f"c{c}", day, day, amount, amount],
            )
    return store


SETTINGS = SegmentsSettings.model_validate(
    {
        "schemes": {
            "rfm": {"kind": "quantile"},
            "abc": {"kind": "abc", "output": "group"},
            "named": {"kind": "named"},
            "value": {
                "kind": "rules",
                "rules": [
                    {"name": "vip", "when": "monetary >= 10000 AND recency_days <= 180"},
                    {"name": "sleeping", "when": "recency_days > 365"},
                ],
            },
        }
    }
)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    out = json.loads(frame.to_json(orient="records", date_format="iso"))
    for row in out:
        for key, value in row.items():
            if isinstance(value, str) and key.endswith("_date"):
                row[key] = value[:10]
    return out


def test_live_assignment_equals_the_batch_run_for_every_customer(tmp_path: Path) -> None:
    """The thresholds the publish stores recompute every scheme as the batch run did."""
    store = _store()
    features = FeaturesSettings.model_validate({})
    run = run_segmentation(
        store, features, SETTINGS, AS_OF, ran_at=datetime(2026, 7, 1), collect=True
    )
    ops = OpsStore.open(sqlite_url(tmp_path / "ops.sqlite"))
    published = publish_status(
        store, ops, features, SETTINGS, run, timezone="Europe/Moscow", now=datetime(2026, 7, 1)
    )
    with ops.read() as con:
        doc = con.execute(
            sa.select(STATUS_THRESHOLDS.c.thresholds).where(
                STATUS_THRESHOLDS.c.version == published.thresholds_version
            )
        ).scalar_one()
    assert doc["schemes"]["abc"]["kind"] == "abc"
    batch = run.assignments.pivot(index="customer_id", columns="scheme", values="segment")
    mismatches = []
    for row in _records(run.features):
        live = assign_live(row, doc, SETTINGS, features_settings=features, as_of=AS_OF)
        expected = batch.loc[row["customer_id"]].to_dict()
        if live != expected:
            mismatches.append((row["customer_id"], live, expected))
    assert mismatches == []
    assert len(batch) == 300


@pytest.mark.parametrize("days_later", [0, 3])
def test_a_payment_moves_features_as_a_batch_run_including_it(days_later: int) -> None:
    store = _store(seed=11, customers=60)
    features = FeaturesSettings.model_validate({})
    before = run_segmentation(store, features, SETTINGS, AS_OF, ran_at=datetime(2026, 7, 1))
    rows = {r["customer_id"]: r for r in _records(before.features)}
    paid_day = AS_OF + timedelta(days=days_later)
    store.con.execute(
        "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
        "status, first_load, last_load) VALUES ('new', 'c3', ?, ?, 2500, 2500, 'paid', 2, 2)",
        [paid_day, paid_day],
    )
    after = run_segmentation(store, features, SETTINGS, paid_day, ran_at=datetime(2026, 7, 5))
    expected = {r["customer_id"]: r for r in _records(after.features)}["c3"]
    moved, as_of = apply_payment(
        rows["c3"], as_of=AS_OF, paid_day=paid_day, paid_amount=2500.0, new_order=True
    )
    assert as_of == paid_day
    exact = (
        "recency_days", "frequency", "monetary", "orders_total", "paid_days_total", "ltv",
        "aov", "last_paid_date", "first_paid_date", "days_since_first_paid", "tenure_days",
        "mean_interpurchase_days",
    )  # fmt: skip
    for column in exact:
        got, want = moved.get(column), expected.get(column)
        if isinstance(want, float) or isinstance(got, float):
            assert got == pytest.approx(want), column
        else:
            assert got == want, column


def test_rules_read_the_same_conditions() -> None:
    settings = SegmentsSettings(
        schemes={"r": RulesScheme(rules=(RuleSpec(name="big", when="monetary > 100"),))}
    )
    doc: dict[str, object] = {"schemes": {}}
    assert assign_live({"monetary": 150}, doc, settings) == {"r": "big"}
    assert assign_live({"monetary": 50}, doc, settings) == {"r": "Other"}


def test_a_scheme_without_published_cut_points_keeps_its_segment() -> None:
    from livebase.segments.live import LiveState

    settings = SegmentsSettings.model_validate(
        {
            "schemes": {
                "rfm": {"kind": "quantile"},
                "abc": {"kind": "abc"},
                "named": {"kind": "named"},
            }
        }
    )
    previous = {
        "rfm": LiveState("111", None, None),
        "abc": LiveState("CCC", None, None),
        "named": LiveState("Lost", None, None),
    }
    features = {"recency_days": 0, "frequency": 3, "monetary": 9000.0, "orders_total": 3}
    assert assign_live(features, {"schemes": {}}, settings, previous=previous) == {
        "rfm": "111",
        "abc": "CCC",
        "named": "Lost",
    }
    assert assign_live(features, {"schemes": {}}, settings) == {}


CONDITIONS = (
    "paid_modules_90d >= 2 and days_since_login <= 7",
    "orders_total between 2 and 4 or subscriptions_90d >= 1",
    "(coalesce(days_since_login, 9999) >= 14 and subscriptions_90d >= 1) or days_since_subscription > 30",
    "not (monetary > 1000.5) or recency_days is null",
    "monetary / frequency >= 2500 and -recency_days > -90",
    "least(recency_days, days_since_login) < 30 or greatest(monetary, 0.5) * 2 = 3.0",
    "abs(recency_days - days_since_login) <= 3 and recency_days + 1 - 1 in (5, 10, NULL)",
    "named_segment in ('Loyal', 'Champions') and named_segment_since >= DATE '2026-06-01'",
    "named_segment <> 'Lost' and frequency <> 0 and TRUE",
    "named_segment_previous is not null or named_segment_days > 10",
    "named_segment like 'Lo%'",
    "named_segment_since > '2026-06-01'",
    "frequency",
)
"""Conditions in (and out of) the compiled subset, over features and an earlier scheme's state."""


def _random_row(rng: random.Random) -> dict[str, object]:
    def maybe(value: object) -> object:
        return None if rng.random() < 0.2 else value

    return {
        "paid_modules_90d": maybe(rng.randint(0, 4)),
        "days_since_login": maybe(rng.randint(0, 120)),
        "orders_total": maybe(rng.randint(0, 6)),
        "subscriptions_90d": maybe(rng.randint(0, 2)),
        "days_since_subscription": maybe(rng.randint(0, 60)),
        "monetary": maybe(rng.choice([0.0, 0.5, 990.0, 1000.5, 2500.0, 12000.25])),
        "frequency": maybe(rng.randint(0, 5)),
        "recency_days": maybe(rng.choice([0, 5, 10, 30, 89, 90, 400])),
        "named_segment": maybe(rng.choice(["Loyal", "Lost", "Champions", "New"])),
        "named_segment_previous": maybe("Lost"),
        "named_segment_since": maybe(rng.choice(["2026-05-31", "2026-06-01", "2026-06-20"])),
        "named_segment_days": maybe(rng.randint(0, 30)),
    }


@pytest.mark.parametrize("condition", CONDITIONS)
def test_a_compiled_condition_answers_as_duckdb_does(condition: str) -> None:
    """Each condition alone, over 120 seeded rows with NULLs, equals DuckDB's evaluation;
    conditions outside the compiled subset still answer (through DuckDB)."""
    from livebase.segments.live_conditions import FirstMatch, duckdb_first_match
    from livebase.segments.rules import CheckedRule

    rules = [CheckedRule("r", condition, None)]
    matcher = FirstMatch(rules)
    rng = random.Random(condition)
    for _ in range(120):
        row = _random_row(rng)
        assert matcher.first(row) == duckdb_first_match(row, rules), (condition, row)


def test_the_school_rules_compile_and_need_no_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every condition of the school template runs in Python: the per-event status update
    opens no DuckDB connection."""
    from livebase.segments import live_conditions
    from livebase.segments.live import _matchers
    from livebase.workspace import init_workspace

    config = init_workspace(tmp_path / "school", template="school").config
    matchers = _matchers(config.features, config.segments)
    assert matchers and all(m.compiled for m in matchers.values())

    def no_duckdb(*args: object) -> None:
        raise AssertionError("a DuckDB evaluation was not expected")

    monkeypatch.setattr(live_conditions, "duckdb_first_match", no_duckdb)
    rng = random.Random(3)
    for _ in range(50):
        row = {**_random_row(rng), "paid_orders_180d": 0, "paid_orders_30d": 1,
               "tenure_days": 20, "courses_finished": 0, "lessons_completed_90d": 6,
               "days_since_first_paid": 40, "sessions_per_month_last_quarter": 1.5,
               "logins_30d": 2}  # fmt: skip
        for matcher in matchers.values():
            matcher.first(row)


def test_a_signal_the_status_row_lacks_is_null() -> None:
    """A first purchase of a customer without a status row has no signal values yet: rules
    over signals read NULL, as the batch run's table does, whichever way they are evaluated."""
    from livebase.segments.live_conditions import FirstMatch, duckdb_first_match
    from livebase.segments.rules import CheckedRule

    rules = [
        CheckedRule("champions", "paid_modules_90d >= 2 AND days_since_login <= 7", None),
        CheckedRule("lost", "coalesce(days_since_login, 9999) >= 90", None),
    ]
    row = {"orders_total": 1, "recency_days": 0}
    assert FirstMatch(rules).first(row) == 1
    assert duckdb_first_match(row, rules) == 1
