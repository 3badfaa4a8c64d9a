"""The request budget and the pending exports, shared through the ops store (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from livebase.connectors.getcourse import pending
from livebase.connectors.getcourse.budget import RequestBudget
from livebase.errors import QuotaError
from livebase.ops import OpsStore

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_the_budget_rolls_with_its_window(ops_store: OpsStore) -> None:
    budget = RequestBudget(limit=3, window=timedelta(hours=2))
    for minutes in (0, 10, 20):
        budget.spend(ops_store, T0 + timedelta(minutes=minutes))
    with pytest.raises(QuotaError) as caught:
        budget.spend(ops_store, T0 + timedelta(minutes=30))
    assert caught.value.retry_at == T0 + timedelta(hours=2)
    # two requests needed: free once the two oldest have left the window
    with pytest.raises(QuotaError) as caught:
        budget.require(ops_store, T0 + timedelta(hours=2, minutes=1), 2, what="a sync")
    assert caught.value.retry_at == T0 + timedelta(hours=2, minutes=10)
    budget.require(ops_store, T0 + timedelta(hours=2, minutes=11), 2, what="a sync")
    assert budget.state(ops_store, T0 + timedelta(hours=3)).spent == 0


def test_getcourse_blocking_outlasts_the_local_count(ops_store: OpsStore) -> None:
    budget = RequestBudget(limit=90, window=timedelta(hours=2))
    until = budget.block(ops_store, T0)
    state = budget.state(ops_store, T0 + timedelta(minutes=5))
    assert until == T0 + timedelta(hours=2)
    assert (state.remaining, state.next_at) == (0, until)
    assert budget.state(ops_store, until + timedelta(seconds=1)).remaining == 90


def test_a_pending_export_is_kept_per_object_and_filters(ops_store: OpsStore) -> None:
    filters = {"created_at[from]": "2026-11-16"}
    pending.remember(ops_store, "deals", filters, "41", T0)
    pending.remember(ops_store, "users", filters, "42", T0)
    hours = timedelta(hours=2)
    assert pending.resume(ops_store, "deals", filters, T0, max_age=hours) == "41"
    assert (
        pending.resume(ops_store, "deals", {"created_at[from]": "2026-11-17"}, T0, max_age=hours)
        is None
    )
    assert (
        pending.resume(ops_store, "deals", filters, T0 + timedelta(hours=3), max_age=hours) is None
    )
    pending.forget(ops_store, "deals", T0)
    assert pending.resume(ops_store, "deals", filters, T0, max_age=hours) is None
    assert pending.resume(ops_store, "users", filters, T0, max_age=hours) == "42"
