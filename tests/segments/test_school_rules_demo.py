"""The `school` template's rule map and four clusters on the synthetic school, checked against
the rules applied by hand in pandas to the generator's own tables (not the store's)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from livebase.config import parse_config
from livebase.demo import generate_school, write_demo_files
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.segments import run_segmentation
from livebase.store import Store
from livebase.workspace import template_text

AS_OF = date(2026, 6, 29)  # the demo's data end on the day before its export date


def _signals(data: object) -> pd.DataFrame:
    """Every signal the school rules use, computed from the generator's tables."""
    customers = data.customers.set_index("customer_id")  # type: ignore[attr-defined]
    orders = data.orders.copy()  # type: ignore[attr-defined]
    events = data.events.copy()  # type: ignore[attr-defined]
    end = pd.Timestamp(AS_OF + timedelta(days=1))
    day = pd.Timestamp(AS_OF)
    paid = orders[
        (orders["paid_amount"] > 0) & orders["paid_at"].notna() & (orders["paid_at"] < end)
    ]
    paid = paid.assign(paid_day=paid["paid_at"].dt.normalize())
    window = lambda n: paid[paid["paid_day"] > day - pd.Timedelta(days=n)]  # noqa: E731
    subs = paid[paid["items"].str.lower().str.contains("подписк")]

    frame = pd.DataFrame(index=customers.index)
    frame["orders_total"] = paid.groupby("customer_id").size()
    frame["paid_modules_90d"] = window(90).groupby("customer_id").size()
    frame["paid_orders_180d"] = window(180).groupby("customer_id").size()
    frame["paid_orders_30d"] = window(30).groupby("customer_id").size()
    frame["subscriptions_90d"] = (
        subs[subs["paid_day"] > day - pd.Timedelta(days=90)].groupby("customer_id").size()
    )
    frame = frame.fillna(0)
    frame["days_since_subscription"] = (day - subs.groupby("customer_id")["paid_day"].max()).dt.days
    first_paid = paid.groupby("customer_id")["paid_day"].min()
    frame["days_since_first_paid"] = (day - first_paid).dt.days
    frame["recency_days"] = (day - paid.groupby("customer_id")["paid_day"].max()).dt.days
    past = events[events["ts"] < end]
    logins = past[past["name"] == "login"]
    frame["days_since_login"] = (
        day - logins.groupby("customer_id")["ts"].max().dt.normalize()
    ).dt.days
    frame["courses_finished"] = (
        past[past["name"] == "course_finished"].groupby("customer_id").size()
    )
    frame["courses_finished"] = frame["courses_finished"].fillna(0)
    first_seen = pd.concat(
        [
            customers["created_at"],
            orders.assign(placed=orders["created_at"].fillna(orders["paid_at"]))
            .groupby("customer_id")["placed"]
            .min(),
            events.groupby("customer_id")["ts"].min(),
        ],
        axis=1,
    ).min(axis=1)
    frame["tenure_days"] = (day - first_seen.dt.normalize()).dt.days
    return frame


def _school_by_hand(f: pd.DataFrame) -> pd.Series:
    login = f["days_since_login"].fillna(9999)
    rules = [
        ("Champions", (f["paid_modules_90d"] >= 2) & (f["days_since_login"] <= 7)),
        ("Loyal", f["orders_total"].between(2, 4) | (f["subscriptions_90d"] >= 1)),
        (
            "Potential Loyalists",
            (f["tenure_days"] <= 60) & (f["orders_total"] >= 1) & (f["courses_finished"] == 0),
        ),
        (
            "At Risk",
            ((login >= 14) & (f["subscriptions_90d"] >= 1)) | (f["days_since_subscription"] > 30),
        ),
        ("Hibernating", (login >= 45) & (f["orders_total"] >= 2)),
        ("Lost", (login >= 90) & (f["paid_orders_180d"] == 0)),
    ]
    return pd.Series(
        np.select(
            [c.fillna(False).to_numpy(dtype=bool) for _, c in rules],
            [n for n, _ in rules],
            default="Other",
        ),
        index=f.index,
    )


def _clusters_by_hand(f: pd.DataFrame) -> pd.Series:
    rules = [
        ("New", f["days_since_first_paid"] <= 30),
        ("Active", (f["paid_orders_30d"] > 0) | (f["days_since_login"] <= 30)),
        ("At-Risk", (f["recency_days"] <= 90) | (f["days_since_login"] <= 90)),
    ]
    return pd.Series(
        np.select(
            [c.fillna(False).to_numpy(dtype=bool) for _, c in rules],
            [n for n, _ in rules],
            default="Churned",
        ),
        index=f.index,
    )


@pytest.fixture(scope="module")
def school_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, pd.DataFrame]:
    data = generate_school(seed=21, customers=1200)
    files = write_demo_files(data, tmp_path_factory.mktemp("school"), "excel_ru")
    config = parse_config(template_text("school", "demo"))
    store = Store.in_memory()
    for path, preset in (
        (files.users, "getcourse-users"),
        (files.orders, "getcourse"),
        (files.events, "events"),
    ):
        load_file(
            store,
            str(path),
            LoadOptions(
                PRESETS[preset],
                loaded_at=datetime(2026, 7, 1),
                config=config.ingest,
                default_currency="RUB",
            ),
        )
    run = run_segmentation(
        store, config.features, config.segments, AS_OF, ran_at=datetime(2026, 7, 1)
    )
    assigned = run.assignments.pivot(index="customer_id", columns="scheme", values="segment")
    return data, assigned


def test_school_rule_map_matches_the_rules_applied_by_hand(
    school_run: tuple[object, pd.DataFrame],
) -> None:
    data, assigned = school_run
    expected = _school_by_hand(_signals(data))
    got = assigned["school"].reindex(expected.index)
    mismatched = got != expected
    assert not mismatched.any(), pd.DataFrame({"got": got, "expected": expected})[mismatched].head()
    # every rule of the map is reached by someone on a realistic school
    assert set(expected.unique()) >= {"Champions", "Loyal", "At Risk", "Lost", "Other"}


def test_four_clusters_match_the_rules_applied_by_hand(
    school_run: tuple[object, pd.DataFrame],
) -> None:
    data, assigned = school_run
    expected = _clusters_by_hand(_signals(data))
    got = assigned["clusters"].reindex(expected.index)
    assert (got == expected).all()
    assert set(expected.unique()) == {"New", "Active", "At-Risk", "Churned"}
