"""Assignment: the same arm in Python and in DuckDB SQL, stable, and at the configured shares."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.errors import ExperimentError
from livebase.measure import (
    GLOBAL_HOLDOUT,
    assign_arms,
    assignment_sql,
    bucket_of,
    exclude_global_holdout,
    global_holdout,
    global_holdout_sql,
    new_assignments,
)

SHARES = {"treatment": 0.9, "holdout": 0.1}


def test_python_and_duckdb_sql_agree_on_100k_ids() -> None:
    ids = [f"cust-{i}" for i in range(50_000)] + [str(i) for i in range(50_000)]
    shares = {"a": 0.2, "b": 0.3, "holdout": 0.5}
    py = assign_arms(ids, "exp", "salt-é'1", shares)
    con = duckdb.connect()
    con.register("ids", pd.DataFrame({"customer_id": ids}))
    sql = assignment_sql("customer_id", "salt-é'1", shares)
    got = con.execute(f"SELECT customer_id, {sql} AS arm FROM ids").df()
    assert got["customer_id"].tolist() == ids
    assert got["arm"].tolist() == py["arm"].tolist()
    # and both equal the definition computed with hashlib, one id at a time
    edges = np.cumsum([0.2, 0.3])
    labels = np.array(["a", "b", "holdout"])
    by_hashlib = labels[np.searchsorted(edges, [bucket_of(c, "salt-é'1") for c in ids], "right")]
    assert py["arm"].tolist() == by_hashlib.tolist()


def test_integer_ids_in_sql_hash_like_their_text() -> None:
    con = duckdb.connect()
    sql = assignment_sql("id", "s", SHARES)
    got = con.execute(f"SELECT id, {sql} AS arm FROM range(2000) t(id) ORDER BY id").df()
    py = assign_arms(range(2000), "e", "s", SHARES)
    assert got["arm"].tolist() == py["arm"].tolist()


def test_stratified_sql_matches_python() -> None:
    ids = [str(i) for i in range(20_000)]
    strata = ["vip" if i % 4 == 0 else "rest" for i in range(20_000)]
    per = {"vip": {"treatment": 0.5, "holdout": 0.5}}
    py = assign_arms(ids, "e", "s", SHARES, strata=strata, stratum_shares=per)
    con = duckdb.connect()
    con.register("u", pd.DataFrame({"customer_id": ids, "seg": strata}))
    sql = assignment_sql("customer_id", "s", SHARES, stratum_column="seg", stratum_shares=per)
    got = con.execute(f"SELECT {sql} AS arm FROM u").df()
    assert got["arm"].tolist() == py["arm"].tolist()
    vip = py[py["stratum"] == "vip"]
    rest = py[py["stratum"] == "rest"]
    assert abs((vip["arm"] == "holdout").mean() - 0.5) < 0.03
    assert abs((rest["arm"] == "holdout").mean() - 0.1) < 0.015


def test_bucket_is_md5_prefix_over_two_to_the_32() -> None:
    import hashlib

    expected = int(hashlib.md5(b"salt:abc").hexdigest()[:8], 16) / 2**32
    assert bucket_of("abc", "salt") == expected


@settings(max_examples=30, deadline=None)
@given(
    share=st.floats(min_value=0.05, max_value=0.95),
    salt=st.text(min_size=1, max_size=8),
)
def test_shares_converge_to_configured_shares(share: float, salt: str) -> None:
    n = 20_000
    arms = assign_arms(range(n), "e", salt, {"treatment": 1 - share, "holdout": share})
    observed = (arms["arm"] == "holdout").mean()
    # 5 binomial standard errors: fails by chance about once in 3.5 million draws
    assert abs(observed - share) < 5 * np.sqrt(share * (1 - share) / n)


@settings(max_examples=50, deadline=None)
@given(customer=st.text(min_size=1, max_size=20), salt=st.text(max_size=10))
def test_same_customer_and_salt_always_get_the_same_arm(customer: str, salt: str) -> None:
    first = assign_arms([customer], "e", salt, SHARES)["arm"].iloc[0]
    again = assign_arms(["x", customer, "y"], "other", salt, SHARES)["arm"].iloc[1]
    assert first == again


@settings(max_examples=10, deadline=None)
@given(salt_a=st.text(min_size=1, max_size=6), salt_b=st.text(min_size=1, max_size=6))
def test_changing_the_salt_reshuffles(salt_a: str, salt_b: str) -> None:
    if salt_a == salt_b:
        return
    shares = {"a": 0.5, "b": 0.5}
    a = assign_arms(range(4000), "e", salt_a, shares)["arm"].to_numpy()
    b = assign_arms(range(4000), "e", salt_b, shares)["arm"].to_numpy()
    agreement = (a == b).mean()
    assert 0.4 < agreement < 0.6  # independent 50/50 draws agree half of the time


def test_a_customer_enters_an_experiment_once() -> None:
    first = assign_arms(["1", "2", "3"], "welcome", "s", SHARES)
    more = new_assignments(first, ["3", "4", "4", "5"], "welcome", "s", SHARES)
    assert more["customer_id"].tolist() == ["4", "5"]
    # rows of other experiments do not count
    other = new_assignments(first, ["1"], "another", "s", SHARES)
    assert other["customer_id"].tolist() == ["1"]


def test_new_assignments_refuse_a_different_salt() -> None:
    first = assign_arms(["1"], "welcome", "s", SHARES)
    with pytest.raises(ExperimentError, match="salt"):
        new_assignments(first, ["2"], "welcome", "other", SHARES)


def test_global_holdout_is_excluded_from_audiences() -> None:
    ids = [str(i) for i in range(10_000)]
    g = global_holdout(ids, "g", 0.05)
    assert set(g["experiment"]) == {GLOBAL_HOLDOUT}
    audience = pd.DataFrame({"customer_id": ids})
    kept = exclude_global_holdout(audience, g)
    held = set(g.loc[g["arm"] == "holdout", "customer_id"])
    assert len(kept) == len(ids) - len(held)
    assert held.isdisjoint(set(kept["customer_id"]))
    con = duckdb.connect()
    con.register("a", audience)
    pred = global_holdout_sql("customer_id", "g", 0.05)
    sql_held = set(con.execute(f"SELECT customer_id FROM a WHERE {pred}").df()["customer_id"])
    assert sql_held == held


@pytest.mark.parametrize(
    "shares",
    [{"only": 1.0}, {"a": 0.5, "b": 0.6}, {"a": -0.1, "b": 1.1}],
)
def test_invalid_shares_are_refused_with_a_message(shares: dict[str, float]) -> None:
    with pytest.raises(ExperimentError):
        assign_arms(["1"], "e", "s", shares)


def test_as_of_becomes_the_ts_column() -> None:
    from datetime import datetime

    rows = assign_arms(["1"], "e", "s", SHARES, as_of=datetime(2024, 5, 1))
    assert rows["ts"].iloc[0] == pd.Timestamp("2024-05-01")
