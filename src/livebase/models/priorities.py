"""Which scenario to build first: rank segment × scenario pairs by the money at stake.

Expected incremental value, the way a CRM lead weighs a backlog:

    value = customers × mean CLV × uplift × (trigger_strength / 5) / effort

``customers`` and ``mean CLV`` describe the scenario's target segment (or rule audience);
``uplift`` is the expected relative lift in value from the scenario (0.05 = +5 %), replaced by
the measured uplift of its experiment when a readout exists; ``trigger_strength`` (1-5) says
how strongly the trigger signal predicts the need; ``effort`` (1-5) is the cost to build and run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from livebase.errors import ModelError

__all__ = [
    "PRIORITY_COLUMNS",
    "PRIORITY_FORMULA",
    "Scenario",
    "prioritise",
    "segment_value",
]

PRIORITY_FORMULA = "customers × mean_clv × uplift × (trigger_strength / 5) / effort"
PRIORITY_COLUMNS = (
    "rank",
    "scenario",
    "target",
    "customers",
    "mean_clv",
    "uplift",
    "uplift_source",
    "trigger_strength",
    "effort",
    "expected_incremental_value",
)


@dataclass(frozen=True)
class Scenario:
    """One scenario of the backlog (``scenarios`` in livebase.yaml).

    ``target`` names the segment (or rule audience) whose size and value the caller supplies.
    """

    name: str
    target: str
    expected_uplift: float
    trigger_strength: int
    effort: int

    def __post_init__(self) -> None:
        for field, value in (("trigger_strength", self.trigger_strength), ("effort", self.effort)):
            if not 1 <= value <= 5:
                raise ModelError(f"scenario {self.name!r}: {field} must be 1..5, got {value}")
        if not -1.0 < self.expected_uplift <= 10.0:
            raise ModelError(
                f"scenario {self.name!r}: expected_uplift is a relative lift such as 0.05 for "
                f"+5 %, got {self.expected_uplift}"
            )


def segment_value(
    predictions: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    clv_column: str = "clv_365d",
    segment_col: str = "segment",
) -> pd.DataFrame:
    """Per segment: ``customers``, ``mean_clv``, ``total_clv`` (joins on customer_id).

    Customers of a segment missing from the predictions count with CLV 0 (no history to
    predict from).

    >>> p = pd.DataFrame({"customer_id": [1, 2, 3], "clv_365d": [10.0, 30.0, 5.0]})
    >>> s = pd.DataFrame({"customer_id": [1, 2, 3, 4], "segment": ["a", "a", "b", "b"]})
    >>> segment_value(p, s).values.tolist()
    [['a', 2, 20.0, 40.0], ['b', 2, 2.5, 5.0]]
    """
    for frame, column, what in (
        (predictions, clv_column, "predictions"),
        (predictions, "customer_id", "predictions"),
        (segments, segment_col, "segments"),
        (segments, "customer_id", "segments"),
    ):
        if column not in frame.columns:
            raise ModelError(f"the {what} table has no column {column!r}")
    joined = segments[["customer_id", segment_col]].merge(
        predictions[["customer_id", clv_column]], on="customer_id", how="left"
    )
    joined[clv_column] = joined[clv_column].fillna(0.0)
    grouped = joined.groupby(segment_col, sort=True)[clv_column].agg(["size", "mean", "sum"])
    return pd.DataFrame(
        {
            "segment": grouped.index.to_numpy(),
            "customers": grouped["size"].to_numpy(dtype=np.int64),
            "mean_clv": grouped["mean"].to_numpy(dtype=np.float64),
            "total_clv": grouped["sum"].to_numpy(dtype=np.float64),
        }
    )


def prioritise(
    scenarios: Sequence[Scenario],
    targets: pd.DataFrame,
    *,
    measured_uplift: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Rank scenarios by expected incremental value (``PRIORITY_FORMULA``), best first.

    ``targets`` has one row per target: ``segment`` (the name scenarios refer to as ``target``),
    ``customers`` and ``mean_clv`` (``segment_value`` output fits). ``measured_uplift`` maps a
    scenario name to its experiment's measured relative uplift, which replaces the guess
    (``uplift_source`` says which one was used). Columns: ``PRIORITY_COLUMNS``.

    >>> t = pd.DataFrame({"segment": ["at_risk", "new"], "customers": [1000, 4000],
    ...                   "mean_clv": [120.0, 40.0]})
    >>> sc = [Scenario("winback", "at_risk", 0.10, 4, 2), Scenario("welcome", "new", 0.05, 5, 1)]
    >>> r = prioritise(sc, t, measured_uplift={"winback": 0.02})
    >>> r[["rank", "scenario", "uplift_source", "expected_incremental_value"]].values.tolist()
    [[1, 'welcome', 'guess', 8000.0], [2, 'winback', 'measured', 960.0]]
    """
    for column in ("segment", "customers", "mean_clv"):
        if column not in targets.columns:
            raise ModelError(f"the targets table has no column {column!r}")
    measured = dict(measured_uplift or {})
    unknown = sorted(set(measured) - {s.name for s in scenarios})
    if unknown:
        raise ModelError(f"measured uplift given for unknown scenario(s): {', '.join(unknown)}")
    by_target = targets.set_index("segment")
    rows = []
    for s in scenarios:
        if s.target not in by_target.index:
            raise ModelError(
                f"scenario {s.name!r} targets {s.target!r}, which has no customers or CLV: "
                f"known targets are {', '.join(map(str, by_target.index))}"
            )
        customers = int(by_target.loc[s.target, "customers"])  # type: ignore[arg-type]
        mean_clv = float(by_target.loc[s.target, "mean_clv"])  # type: ignore[arg-type]
        uplift = measured.get(s.name, s.expected_uplift)
        value = customers * mean_clv * uplift * (s.trigger_strength / 5) / s.effort
        rows.append(
            {
                "scenario": s.name,
                "target": s.target,
                "customers": customers,
                "mean_clv": mean_clv,
                "uplift": float(uplift),
                "uplift_source": "measured" if s.name in measured else "guess",
                "trigger_strength": s.trigger_strength,
                "effort": s.effort,
                "expected_incremental_value": float(value),
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in PRIORITY_COLUMNS if c != "rank"])
    frame = frame.sort_values(
        ["expected_incremental_value", "scenario"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame
