"""The ``scenarios:`` section of livebase.yaml, and ranking them by the money at stake.

A scenario is a piece of CRM work the team could build next (a win-back cascade, a welcome
series, a renewal reminder), aimed at an audience: a segment of a scheme, or a SQL condition
over the customer features as of a date. ``livebase priorities`` sizes each audience, joins the
CLV predictions, and ranks the scenarios by expected incremental value
(``livebase.models.priorities.PRIORITY_FORMULA``)::

    scenarios:
      - name: Win back At Risk
        target: {segment: "named:At Risk"}
        expected_uplift: 0.05     # +5 % of the audience's value, a guess until measured
        trigger_strength: 4       # 1-5: how surely the trigger signals the need
        effort: 2                 # 1-5: cost to build and run
        experiment: winback_q1    # optional: its measured lift replaces the guess

The pure part lives here: the settings, and :func:`rank_scenarios`, which takes the audiences
(customer_id, target) and the predictions as tables. Reading the store (segment history,
features, experiment readouts) is the CLI's job.

>>> s = ScenarioSettings.model_validate({"name": "Win back", "target": {"segment": "At Risk"},
...     "expected_uplift": 0.05, "trigger_strength": 4, "effort": 2})
>>> s.target.kind, s.target_label("named")
('segment', 'named:At Risk')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from livebase.errors import ModelError
from livebase.models.priorities import PRIORITY_COLUMNS, Scenario, prioritise, segment_value
from livebase.models.settings import (
    ScenarioList,
    ScenarioSettings,
    ScenarioTarget,
    TargetKind,
    split_segment_target,
    unique_scenario_names,
)

__all__ = [
    "RANKING_COLUMNS",
    "MeasuredUplift",
    "ScenarioList",
    "ScenarioSettings",
    "ScenarioTarget",
    "TargetKind",
    "rank_scenarios",
    "split_segment_target",
]

RANKING_COLUMNS: tuple[str, ...] = (
    *PRIORITY_COLUMNS,
    "target_kind",
    "uplift_ci_low",
    "uplift_ci_high",
    "experiment",
    "experiment_arm",
    "experiment_outcome",
    "experiment_significant",
)
"""The columns of :func:`rank_scenarios`: ``PRIORITY_COLUMNS`` and what the uplift rests on."""


@dataclass(frozen=True)
class MeasuredUplift:
    """The relative lift an experiment measured for a scenario (treatment vs control).

    ``relative_lift`` is (treatment mean − control mean) / control mean of ``outcome``, with
    its confidence interval, from the readout (``livebase.measure``).
    """

    experiment: str
    arm: str
    outcome: str
    relative_lift: float
    ci_low: float
    ci_high: float
    significant: bool

    def __post_init__(self) -> None:
        if not math.isfinite(self.relative_lift):
            raise ModelError(
                f"experiment {self.experiment!r}: the measured lift of {self.outcome!r} is not "
                "a number, so it cannot replace the guess"
            )


def rank_scenarios(
    scenarios: Sequence[ScenarioSettings],
    audiences: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    clv_column: str,
    default_scheme: str = "named",
    measured: Mapping[str, MeasuredUplift] | None = None,
    targets: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Rank ``scenarios`` by expected incremental value, best first (``RANKING_COLUMNS``).

    ``audiences`` has one row per (``target``, ``customer_id``), where ``target`` is the
    scenario's :meth:`ScenarioSettings.target_label`; an audience without rows has 0
    customers and is worth 0. Customers without a prediction count with CLV 0 (as in
    :func:`~livebase.models.priorities.segment_value`). ``measured`` maps scenario names to
    their experiment's lift, which replaces ``expected_uplift``. ``targets`` maps scenario
    names to the audience label to use instead of ``target_label`` (the CLI passes the stored
    segment name a label or another letter case resolved to).

    >>> sc = [ScenarioSettings(name="winback", target=ScenarioTarget(segment="At Risk"),
    ...                        expected_uplift=0.1, trigger_strength=5, effort=2)]
    >>> aud = pd.DataFrame({"target": ["named:At Risk"] * 2, "customer_id": ["a", "b"]})
    >>> pred = pd.DataFrame({"customer_id": ["a", "b"], "clv_365d": [100.0, 300.0]})
    >>> r = rank_scenarios(sc, aud, pred, clv_column="clv_365d")
    >>> r[["scenario", "customers", "mean_clv", "expected_incremental_value"]].values.tolist()
    [['winback', 2, 200.0, 20.0]]
    """
    if not scenarios:
        raise ModelError("no scenarios to rank: add a 'scenarios:' list to livebase.yaml")
    unique_scenario_names(list(scenarios))
    for column in ("target", "customer_id"):
        if column not in audiences.columns:
            raise ModelError(f"the audiences table has no column {column!r}")
    measured = dict(measured or {})
    labels = {s.name: s.target_label(default_scheme) for s in scenarios}
    labels.update(targets or {})
    for column in ("customer_id", clv_column):
        if column not in predictions.columns:
            raise ModelError(f"the predictions table has no column {column!r}")
    # ids as text on both sides: an empty table or numeric ids must still join
    members = pd.DataFrame(
        {
            "customer_id": audiences["customer_id"].astype(str).to_numpy(dtype=object),
            "target": audiences["target"].astype(str).to_numpy(dtype=object),
        }
    ).drop_duplicates()
    values = pd.DataFrame(
        {
            "customer_id": predictions["customer_id"].astype(str).to_numpy(dtype=object),
            clv_column: predictions[clv_column].to_numpy(dtype=np.float64),
        }
    )
    sized = segment_value(values, members, clv_column=clv_column, segment_col="target")
    missing = sorted(set(labels.values()) - set(sized["segment"]))
    if missing:
        empty = pd.DataFrame(
            {
                "segment": missing,
                "customers": np.zeros(len(missing), dtype=np.int64),
                "mean_clv": np.zeros(len(missing)),
                "total_clv": np.zeros(len(missing)),
            }
        )
        sized = pd.concat([sized, empty], ignore_index=True) if len(sized) else empty
    ranked = prioritise(
        [
            Scenario(s.name, labels[s.name], s.expected_uplift, s.trigger_strength, s.effort)
            for s in scenarios
        ],
        sized,
        measured_uplift={name: m.relative_lift for name, m in measured.items()},
    )
    by_name = {s.name: s for s in scenarios}
    nan = float("nan")
    extra: dict[str, list[object]] = {
        "target_kind": [by_name[n].target.kind for n in ranked["scenario"]],
        "uplift_ci_low": [measured[n].ci_low if n in measured else nan for n in ranked["scenario"]],
        "uplift_ci_high": [
            measured[n].ci_high if n in measured else nan for n in ranked["scenario"]
        ],
        "experiment": [by_name[n].experiment for n in ranked["scenario"]],
        "experiment_arm": [measured[n].arm if n in measured else None for n in ranked["scenario"]],
        "experiment_outcome": [
            measured[n].outcome if n in measured else None for n in ranked["scenario"]
        ],
        "experiment_significant": [
            measured[n].significant if n in measured else None for n in ranked["scenario"]
        ],
    }
    ranked = ranked.assign(
        **{
            column: pd.Series(cells, dtype="float64" if column.startswith("uplift_ci") else object)
            for column, cells in extra.items()
        }
    )
    return ranked[list(RANKING_COLUMNS)]
