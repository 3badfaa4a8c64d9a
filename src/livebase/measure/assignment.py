"""Holdout assignment: a salted hash of the customer id, the same in Python and in SQL.

``bucket = int(first 8 hex digits of md5(salt || ':' || customer_id), 16) / 2**32`` lies in
[0, 1). Arms take consecutive slices of [0, 1) in the order their shares are given; the slice
bounds are compared as 32-bit integers (``hash32 < round(cumulative_share * 2**32)``), so every
engine with ``md5`` (DuckDB, Spark, Postgres, ClickHouse, BigQuery) draws exactly the same line
with no floating-point disagreement.

A customer enters an experiment once: :func:`new_assignments` only adds customers that have no
row yet, and never moves anyone. The global holdout (:data:`GLOBAL_HOLDOUT`) is an experiment
like any other, whose ``holdout`` arm is excluded from every playbook.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from livebase.errors import ExperimentError

__all__ = [
    "GLOBAL_HOLDOUT",
    "arm_bounds",
    "assign_arms",
    "assignment_sql",
    "bucket_of",
    "exclude_global_holdout",
    "global_holdout",
    "global_holdout_sql",
    "hash32_sql",
    "new_assignments",
    "validate_shares",
]

GLOBAL_HOLDOUT = "global_holdout"
"""Experiment name of the programme-wide holdout: its ``holdout`` arm is never messaged."""

_SCALE = 2**32
_TOLERANCE = 1e-9


def validate_shares(shares: Mapping[str, float]) -> dict[str, float]:
    """Check arm shares: at least two arms, non-negative, summing to 1. Returns a plain dict.

    >>> validate_shares({"treatment": 0.9, "holdout": 0.1})
    {'treatment': 0.9, 'holdout': 0.1}
    """
    out = {str(arm): float(share) for arm, share in shares.items()}
    if len(out) < 2:
        raise ExperimentError(
            f"an experiment needs at least two arms, got {list(out)}: "
            "give shares such as {'treatment': 0.9, 'holdout': 0.1}"
        )
    bad = {arm: s for arm, s in out.items() if not (s >= 0.0 and math.isfinite(s))}
    if bad:
        raise ExperimentError(f"arm shares must be between 0 and 1, got {bad}")
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise ExperimentError(
            f"arm shares must sum to 1, they sum to {total:g}: {out}. "
            "Adjust them, e.g. treatment 0.9 and holdout 0.1"
        )
    return out


def _thresholds(shares: Mapping[str, float]) -> list[tuple[str, int]]:
    """(arm, exclusive upper bound on the 32-bit hash) in share order; the last bound is 2**32."""
    valid = validate_shares(shares)
    bounds: list[tuple[str, int]] = []
    cumulative = 0.0
    arms = list(valid)
    for i, arm in enumerate(arms):
        cumulative += valid[arm]
        bound = _SCALE if i == len(arms) - 1 else min(_SCALE, round(cumulative * _SCALE))
        bounds.append((arm, int(bound)))
    return bounds


def _hash32(customer_id: str, salt: str) -> int:
    digest = hashlib.md5(f"{salt}:{customer_id}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big")


def _hash32_many(ids: list[str], salt: str) -> np.ndarray:
    """32-bit hashes of many ids: DuckDB's md5 on an Arrow column (same bytes as hashlib)."""
    if len(ids) < 50_000:
        return np.fromiter((_hash32(c, salt) for c in ids), dtype=np.int64, count=len(ids))
    con = duckdb.connect()
    try:
        con.register("lb_ids", pa.table({"c": pa.array(ids, type=pa.string())}))
        got = con.execute(
            "SELECT CAST(CAST('0x' || substr(md5(? || c), 1, 8) AS UBIGINT) AS BIGINT) AS h "
            "FROM lb_ids",
            [salt + ":"],
        ).fetchnumpy()
    finally:
        con.close()
    return np.asarray(got["h"], dtype=np.int64)


def bucket_of(customer_id: object, salt: str) -> float:
    """The customer's bucket in [0, 1) for a salt.

    >>> bucket_of("42", "spring-sale")
    0.31709707505069673
    >>> bucket_of(42, "spring-sale") == bucket_of("42", "spring-sale")
    True
    """
    return _hash32(str(customer_id), salt) / _SCALE


def _arms_for(hashes: np.ndarray, shares: Mapping[str, float]) -> np.ndarray:
    bounds = _thresholds(shares)
    labels = np.array([arm for arm, _ in bounds], dtype=object)
    edges = np.array([b for _, b in bounds], dtype=np.int64)
    idx = np.searchsorted(edges, hashes, side="right")
    return labels[np.minimum(idx, len(labels) - 1)]


def assign_arms(
    customer_ids: Iterable[object],
    experiment: str,
    salt: str,
    shares: Mapping[str, float],
    strata: Iterable[object] | None = None,
    stratum_shares: Mapping[str, Mapping[str, float]] | None = None,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Assign each customer to an arm; returns rows for the ``assignments`` table.

    Columns: experiment, customer_id (str), arm, salt, bucket, plus ``stratum`` when strata are
    given and ``ts`` when ``as_of`` is given. With ``strata`` (one label per customer, e.g. the
    customer's segment) each stratum uses its shares from ``stratum_shares`` (default
    ``shares``); the hash is the same, so the split inside each stratum converges to its shares.

    >>> assign_arms(["1", "2", "3"], "welcome", "s1", {"treatment": 0.5, "holdout": 0.5})
      experiment customer_id        arm salt    bucket
    0    welcome           1  treatment   s1  0.011118
    1    welcome           2    holdout   s1  0.846343
    2    welcome           3    holdout   s1  0.594669
    """
    ids = [str(c) for c in customer_ids]
    hashes = _hash32_many(ids, salt)
    if strata is None:
        arms = _arms_for(hashes, shares)
        labels: list[str] | None = None
    else:
        labels = [str(s) for s in strata]
        if len(labels) != len(ids):
            raise ExperimentError(
                f"strata has {len(labels)} labels for {len(ids)} customers: give one per customer"
            )
        arms = np.empty(len(ids), dtype=object)
        label_arr = np.array(labels, dtype=object)
        for stratum in sorted(set(labels)):
            mask = label_arr == stratum
            arms[mask] = _arms_for(hashes[mask], (stratum_shares or {}).get(stratum, shares))
    frame = pd.DataFrame(
        {
            "experiment": experiment,
            "customer_id": pd.array(ids, dtype="str"),
            "arm": pd.array(arms.tolist(), dtype="str"),
            "salt": salt,
            "bucket": hashes / _SCALE,
        }
    )
    if labels is not None:
        frame["stratum"] = pd.array(labels, dtype="str")
    if as_of is not None:
        frame["ts"] = pd.Timestamp(as_of)
    return frame


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case(hash_expr: str, shares: Mapping[str, float]) -> str:
    bounds = _thresholds(shares)
    whens = [
        f"WHEN {hash_expr} < {bound} THEN {_sql_literal(arm)}"
        for arm, bound in bounds[:-1]
        if bound > 0
    ]
    last = _sql_literal(bounds[-1][0])
    if not whens:
        return last
    return "CASE " + " ".join(whens) + f" ELSE {last} END"


def _hash_sql(customer_id_column: str, salt: str) -> str:
    key = f"{_sql_literal(salt + ':')} || CAST({customer_id_column} AS VARCHAR)"
    return f"CAST('0x' || substr(md5({key}), 1, 8) AS UBIGINT)"


def arm_bounds(shares: Mapping[str, float]) -> list[tuple[str, int]]:
    """Each arm with the exclusive upper bound of its range of the 32-bit hash, in order: a
    customer whose hash (:func:`hash32_sql`) is below the first bound gets the first arm, and
    so on; the last bound is 2**32.

    >>> arm_bounds({"treatment": 0.9, "holdout": 0.1})
    [('treatment', 3865470566), ('holdout', 4294967296)]
    """
    return _thresholds(shares)


def hash32_sql(customer_id_column: str, salt_sql: str) -> str:
    """The 32-bit hash :func:`assign_arms` cuts into arms, as SQL, the salt an SQL expression
    (a column, so that one statement can assign under many salts).

    >>> print(hash32_sql("customer_id", "salt"))
    CAST('0x' || substr(md5(salt || ':' || CAST(customer_id AS VARCHAR)), 1, 8) AS UBIGINT)
    """
    key = f"{salt_sql} || ':' || CAST({customer_id_column} AS VARCHAR)"
    return f"CAST('0x' || substr(md5({key}), 1, 8) AS UBIGINT)"


def assignment_sql(
    customer_id_column: str,
    salt: str,
    shares: Mapping[str, float],
    stratum_column: str | None = None,
    stratum_shares: Mapping[str, Mapping[str, float]] | None = None,
) -> str:
    """A DuckDB-dialect SQL expression giving the same arm as :func:`assign_arms`.

    ``customer_id_column`` is an SQL expression (a column name). Transpile with sqlglot for
    other engines; the only functions used are ``md5``, ``substr`` and a hex cast.

    >>> print(assignment_sql("customer_id", "s1", {"treatment": 0.9, "holdout": 0.1}))
    CASE WHEN CAST('0x' || substr(md5('s1:' || CAST(customer_id AS VARCHAR)), 1, 8) AS UBIGINT) < 3865470566 THEN 'treatment' ELSE 'holdout' END
    """
    hash_expr = _hash_sql(customer_id_column, salt)
    if stratum_column is None or not stratum_shares:
        return _case(hash_expr, shares)
    parts = [
        f"WHEN CAST({stratum_column} AS VARCHAR) = {_sql_literal(str(s))} THEN "
        f"{_case(hash_expr, sh)}"
        for s, sh in sorted(stratum_shares.items())
    ]
    return "CASE " + " ".join(parts) + f" ELSE {_case(hash_expr, shares)} END"


def new_assignments(
    existing: pd.DataFrame,
    customer_ids: Iterable[object],
    experiment: str,
    salt: str,
    shares: Mapping[str, float],
    strata: Iterable[object] | None = None,
    stratum_shares: Mapping[str, Mapping[str, float]] | None = None,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Rows for customers not yet in ``experiment``; already assigned customers never move.

    ``existing`` holds at least ``experiment`` and ``customer_id`` (the ``assignments`` table).
    When the experiment already has rows, its stored salt must match ``salt``.

    >>> shares = {"treatment": 0.5, "holdout": 0.5}
    >>> first = assign_arms(["1", "2"], "welcome", "s1", shares)
    >>> new_assignments(first, ["2", "3"], "welcome", "s1", shares)["customer_id"].tolist()
    ['3']
    """
    ids = [str(c) for c in customer_ids]
    labels = None if strata is None else [str(s) for s in strata]
    mine = existing[existing["experiment"] == experiment] if len(existing) else existing
    if len(mine) and "salt" in mine.columns:
        salts = set(mine["salt"].astype(str))
        if salts != {salt}:
            raise ExperimentError(
                f"experiment '{experiment}' was assigned with salt {sorted(salts)}, not '{salt}': "
                "use the stored salt, or start a new experiment name to reshuffle"
            )
    seen = set(mine["customer_id"].astype(str)) if len(mine) else set()
    first_stratum: dict[str, str | None] = {}
    for i, c in enumerate(ids):
        if c not in seen and c not in first_stratum:
            first_stratum[c] = None if labels is None else labels[i]
    kept_ids = list(first_stratum)
    kept_strata = None if labels is None else [str(first_stratum[c]) for c in kept_ids]
    return assign_arms(kept_ids, experiment, salt, shares, kept_strata, stratum_shares, as_of)


def global_holdout(
    customer_ids: Iterable[object], salt: str, share: float, as_of: datetime | None = None
) -> pd.DataFrame:
    """Assign the programme-wide holdout: arm ``holdout`` (never messaged) or ``eligible``.

    >>> g = global_holdout([str(i) for i in range(1000)], "global-2024", 0.05)
    >>> int((g["arm"] == "holdout").sum())
    39
    """
    if not 0.0 < share < 1.0:
        raise ExperimentError(f"the global holdout share must be between 0 and 1, got {share}")
    return assign_arms(
        customer_ids, GLOBAL_HOLDOUT, salt, {"holdout": share, "eligible": 1.0 - share}, as_of=as_of
    )


def global_holdout_sql(customer_id_column: str, salt: str, share: float) -> str:
    """SQL predicate, true for customers in the global holdout (to exclude from audiences).

    >>> global_holdout_sql("c.customer_id", "g", 0.05).endswith("= 'holdout'")
    True
    """
    expr = assignment_sql(customer_id_column, salt, {"holdout": share, "eligible": 1.0 - share})
    return f"({expr}) = 'holdout'"


def exclude_global_holdout(audience: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """The audience without customers in the global holdout's ``holdout`` arm.

    ``audience`` has a ``customer_id`` column; ``assignments`` is the assignments table (any
    experiments: only rows of :data:`GLOBAL_HOLDOUT` count).

    >>> g = global_holdout(["1", "2", "3", "4"], "g", 0.5)
    >>> exclude_global_holdout(pd.DataFrame({"customer_id": ["1", "2", "3", "4"]}), g)
      customer_id
    0           1
    """
    held = assignments[
        (assignments["experiment"] == GLOBAL_HOLDOUT) & (assignments["arm"] == "holdout")
    ]["customer_id"].astype(str)
    return audience[~audience["customer_id"].astype(str).isin(set(held))]
