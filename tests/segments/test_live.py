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
