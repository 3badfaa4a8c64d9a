"""Playbook assignments in the store (migration 001 ``assignments``): assigned once, never moved."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

import pandas as pd

from livebase.errors import ExperimentError, did_you_mean
from livebase.measure.assignment import new_assignments, validate_shares
from livebase.store import Store

__all__ = ["record_assignments"]


def record_assignments(
    store: Store,
    experiment: str,
    customer_ids: Iterable[object],
    *,
    salt: str,
    shares: Mapping[str, float],
    as_of: datetime,
    control: str = "holdout",
    source: str,
    strata: Iterable[object] | None = None,
    stratum_shares: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """Assign the customers of a playbook experiment not yet in it, and store them.

    Customers already assigned never move (:func:`~livebase.measure.assignment.new_assignments`);
    the ``experiments`` row is created on the first call and must keep its salt and shares
    afterwards. Returns the new ``assignments`` rows.
    """
    planned = validate_shares(shares)
    if control not in planned:
        raise ExperimentError(
            f"the control arm '{control}' is not among the arms {sorted(planned)}"
            f"{did_you_mean(control, planned)}"
        )
    row = store.con.execute(
        "SELECT control_arm, planned_shares, salt, source FROM experiments WHERE name = ?",
        [experiment],
    ).fetchone()
    if row is not None:
        if str(row[3]).startswith("file:"):
            raise ExperimentError(
                f"'{experiment}' is an experiment imported from {str(row[3])[5:]}: "
                "give the playbook's experiment another name"
            )
        stored = {str(k): float(v) for k, v in json.loads(row[1]).items()}
        if stored != planned or str(row[2]) != salt or str(row[0]) != control:
            raise ExperimentError(
                f"experiment '{experiment}' was planned with shares {stored}, control "
                f"'{row[0]}' and salt '{row[2]}'; changing them mid-experiment breaks its "
                "readout: keep them, or start a new experiment name"
            )
    existing = store.con.execute(
        "SELECT experiment, customer_id, salt FROM assignments WHERE experiment = ?",
        [experiment],
    ).df()
    rows = new_assignments(
        existing, customer_ids, experiment, salt, planned, strata, stratum_shares, as_of
    )
    with store.transaction() as con:
        if row is None:
            con.execute(
                "INSERT INTO experiments (name, control_arm, planned_shares, salt, source, "
                "outcomes, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                [experiment, control, json.dumps(planned), salt, source, as_of],
            )
        if len(rows):
            insert = pd.DataFrame(
                {
                    "experiment": experiment,
                    "customer_id": rows["customer_id"].astype(str).to_numpy(),
                    "arm": rows["arm"].astype(str).to_numpy(),
                    "salt": salt,
                }
            )
            con.register("lb_new_assignments", insert)
            try:
                con.execute(
                    "INSERT INTO assignments SELECT CAST(experiment AS VARCHAR), "
                    "CAST(customer_id AS VARCHAR), CAST(arm AS VARCHAR), CAST(salt AS VARCHAR), "
                    "? FROM lb_new_assignments",
                    [as_of],
                )
            finally:
                con.unregister("lb_new_assignments")
    return rows
