"""Hand-made bases: no orders, one customer, everyone identical, a refunded-only customer."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from livebase.features import FeaturesSettings
from livebase.segments import SegmentsSettings, run_segmentation
from livebase.store import Store

AS_OF = date(2026, 6, 30)


def base(customers: list[str], orders: list[tuple[str, str, float, str]]) -> Store:
    store = Store.in_memory()
    for c in customers:
        store.con.execute(
            "INSERT INTO customers (customer_id, first_load, last_load) VALUES (?, 1, 1)", [c]
        )
    for i, (c, day, amount, status) in enumerate(orders):
        paid = amount if status == "paid" else 0
        store.con.execute(
            "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount,"
            " status, first_load, last_load) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1)",
            [f"o{i}", c, day, day, amount, paid, status],
        )
    return store


def segments(store: Store) -> dict[tuple[str, str], str]:
    run = run_segmentation(
        store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
    )
    a = run.assignments
    return {(s, c): g for s, c, g in zip(a["scheme"], a["customer_id"], a["segment"], strict=True)}


def test_a_base_without_orders_is_all_prospects_with_empty_kpis() -> None:
    store = base(["a", "b"], [])
    run = run_segmentation(
        store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
    )
    assert set(run.assignments["segment"]) == {"Prospects"}
    named = run.kpis[run.kpis["scheme"] == "named"].iloc[0]
    assert named["customers"] == 2 and named["share"] == 1.0 and named["revenue"] == 0
    assert named["repeat_rate"] != named["repeat_rate"]  # NaN: nobody ever paid


def test_an_empty_store_gives_no_rows() -> None:
    run = run_segmentation(
        Store.in_memory(),
        FeaturesSettings(),
        SegmentsSettings(),
        AS_OF,
        ran_at=datetime(2026, 7, 1),
    )
    assert run.customers == 0 and run.kpis.empty


def test_one_customer_has_nobody_below_and_scores_one() -> None:
    got = segments(base(["a"], [("a", "2026-06-29", 10.0, "paid")]))
    assert got[("rfm", "a")] == "111"
    assert got[("named", "a")] == "Lost"
    assert got[("abc", "a")] == "ACA"  # bought yesterday, once, all of the revenue


def test_identical_customers_share_every_score() -> None:
    orders = [(c, "2026-05-01", 25.0, "paid") for c in "abcd"]
    got = segments(base(list("abcd"), orders))
    assert {got[("rfm", c)] for c in "abcd"} == {"111"}
    assert {got[("abc", c)] for c in "abcd"} == {"ACA"}


def test_a_customer_whose_only_order_was_refunded_has_no_purchase() -> None:
    store = base(
        ["a", "b", "c"],
        [
            ("a", "2026-06-01", 50.0, "refunded"),
            ("b", "2026-06-01", 30.0, "paid"),
            ("b", "2026-06-10", 0.0, "paid"),
        ],
    )
    run = run_segmentation(
        store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
    )
    f = run.features.set_index("customer_id")
    assert f.loc["a", "orders_total"] == 0 and f.loc["a", "refunded_orders"] == 1
    assert f.loc["b", "orders_total"] == 1  # the zero-amount order is not a purchase
    named = run.assignments[run.assignments["scheme"] == "named"].set_index("customer_id")
    assert named.loc["a", "segment"] == "Prospects"
    assert named.loc["c", "segment"] == "Prospects"


def test_orders_after_as_of_and_customers_who_appear_later_are_ignored() -> None:
    store = base(
        ["a", "late"],
        [
            ("a", "2026-06-30 23:59:59", 10.0, "paid"),
            ("a", "2026-07-01", 99.0, "paid"),
            ("late", "2026-07-02", 5.0, "paid"),
        ],
    )
    run = run_segmentation(
        store, FeaturesSettings(), SegmentsSettings(), AS_OF, ran_at=datetime(2026, 7, 1)
    )
    f = run.features.set_index("customer_id")
    assert list(f.index) == ["a"]
    assert f.loc["a", "recency_days"] == 0 and float(f.loc["a", "ltv"]) == 10.0


def test_rules_can_use_the_segment_history_of_earlier_schemes() -> None:
    store = base(["a", "b"], [("a", "2026-06-29", 10.0, "paid"), ("b", "2025-01-01", 10.0, "paid")])
    cfg = SegmentsSettings.model_validate(
        {
            "schemes": {
                "rfm": {"kind": "quantile"},
                "named": {"kind": "named"},
                "watch": {
                    "kind": "rules",
                    "rules": [
                        {
                            "name": "just moved",
                            "when": "named_segment_days = 0 and named_segment_previous is not null",
                        },
                        {"name": "steady", "when": "named_segment_days > 0"},
                    ],
                },
            }
        }
    )
    for day in (date(2026, 6, 29), AS_OF):
        run = run_segmentation(store, FeaturesSettings(), cfg, day, ran_at=datetime(2026, 7, 1))
    watch = run.assignments[run.assignments["scheme"] == "watch"].set_index("customer_id")
    named = run.assignments[run.assignments["scheme"] == "named"].set_index("customer_id")
    assert named.loc["a", "segment"] != "Prospects"
    assert set(watch["segment"]) <= {"just moved", "steady", "Other"}
    assert watch.loc["b", "segment"] == "steady"


@pytest.mark.parametrize("cells", [{"Everyone": ("[1-4].",)}, {"A": ("..",), "B": ("11",)}])
def test_a_named_map_must_cover_every_cell_once(cells: dict[str, tuple[str, ...]]) -> None:
    with pytest.raises(ValueError, match="cells"):
        SegmentsSettings.model_validate(
            {"schemes": {"rfm": {"kind": "quantile"}, "named": {"kind": "named", "cells": cells}}}
        )
