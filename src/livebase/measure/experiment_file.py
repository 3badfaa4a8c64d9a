"""An experiment imported from a file: one row per customer with arm, outcomes and features.

``livebase experiment import hillstrom.csv --name hillstrom --arm-column segment
--control "No E-Mail" --outcomes visit,conversion,spend`` reads the file with
:func:`read_experiment_csv`, which validates it (missing columns, empty arms, non-numeric
outcomes — by row number as a spreadsheet shows it) and returns the rows of the
``experiment_units`` table of migration 004 (:meth:`ExperimentFile.unit_rows`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from livebase.errors import ExperimentError, InputValidationError, RowProblem, did_you_mean

__all__ = ["ExperimentFile", "read_experiment_csv", "validate_experiment_frame"]


@dataclass(frozen=True, eq=False)
class ExperimentFile:
    """A validated experiment: ``units`` has columns customer_id, arm, [segment], the outcomes
    (float) and the covariates (pre-treatment columns, as read)."""

    name: str
    control: str
    outcomes: tuple[str, ...]
    covariates: tuple[str, ...]
    units: pd.DataFrame
    observed_shares: dict[str, float]

    def unit_rows(self) -> pd.DataFrame:
        """Rows for the ``experiment_units`` table (covariates and outcomes as JSON text)."""
        u = self.units
        cov_records = u[list(self.covariates)].to_dict("records") if self.covariates else None
        out_records = u[list(self.outcomes)].to_dict("records")
        return pd.DataFrame(
            {
                "experiment": self.name,
                "customer_id": u["customer_id"].astype(str),
                "arm": u["arm"].astype(str),
                "segment": u["segment"] if "segment" in u.columns else None,
                "covariates": [json.dumps(_plain(r)) for r in cov_records]
                if cov_records is not None
                else None,
                "outcomes": [json.dumps(_plain(r)) for r in out_records],
            }
        )

    def experiment_row(self, salt: str = "", source: str = "") -> dict[str, Any]:
        """The ``experiments`` table row, without a plan (``{}``): a file says what happened,
        not what was planned."""
        return {
            "name": self.name,
            "control_arm": self.control,
            "planned_shares": "{}",
            "salt": salt,
            "source": source,
            "outcomes": json.dumps(list(self.outcomes)),
        }


def _plain(record: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[str(k)] = v
    return out


def validate_experiment_frame(
    frame: pd.DataFrame,
    *,
    name: str,
    arm_column: str,
    control: str,
    outcomes: Sequence[str],
    customer_id_column: str | None = None,
    segment_column: str | None = None,
    covariates: Sequence[str] | None = None,
    file: str = "<data>",
) -> ExperimentFile:
    """Validate a raw experiment table and normalise it (see :class:`ExperimentFile`).

    Without ``customer_id_column`` customers are numbered by their data row (1, 2, …).
    ``covariates`` defaults to every column that is not the id, arm, segment or an outcome.

    >>> raw = pd.DataFrame({"grp": ["a", "b", "b"], "buy": ["1", "0", "x"]})
    >>> validate_experiment_frame(raw, name="e", arm_column="grp", control="b", outcomes=["buy"])
    Traceback (most recent call last):
    ...
    livebase.errors.InputValidationError: <data>: 1 bad row, first at row 4, column 'buy': 'x' — not a number
    Nothing was loaded: fix the file, then import it again.
    """
    hint = "fix the file, then import it again"
    needed = [arm_column, *outcomes]
    needed += [c for c in (customer_id_column, segment_column) if c is not None]
    for col in needed:
        if col not in frame.columns:
            raise ExperimentError(
                f"{file}: column '{col}' not found{did_you_mean(col, map(str, frame.columns))}; "
                f"columns are: {', '.join(map(str, frame.columns))}"
            )
    if not outcomes:
        raise ExperimentError(f"{file}: name at least one outcome column (e.g. conversion)")
    problems: list[RowProblem] = []
    arms = frame[arm_column]
    for i in np.flatnonzero(arms.isna().to_numpy() | (arms.astype(str).str.strip() == "")):
        problems.append(RowProblem(int(i) + 2, arm_column, None, "the arm is empty"))
    clean: dict[str, pd.Series] = {}
    for col in outcomes:
        raw = frame[col]
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = num.isna().to_numpy() | ~np.isfinite(num.to_numpy())
        for i in np.flatnonzero(bad):
            value = raw.iloc[i]
            shown = None if pd.isna(value) else str(value)
            problems.append(RowProblem(int(i) + 2, col, shown, "not a number"))
        clean[col] = num
    ids: pd.Series
    if customer_id_column is not None:
        ids = frame[customer_id_column].astype(str)
        dup = ids.duplicated(keep="first").to_numpy()
        for i in np.flatnonzero(dup):
            problems.append(
                RowProblem(int(i) + 2, customer_id_column, ids.iloc[i], "customer appears twice")
            )
        for i in np.flatnonzero(frame[customer_id_column].isna().to_numpy()):
            problems.append(RowProblem(int(i) + 2, customer_id_column, None, "no customer id"))
    else:
        ids = pd.Series([str(i + 1) for i in range(len(frame))], index=frame.index)
    if problems:
        problems.sort(key=lambda p: (p.row, p.column))
        raise InputValidationError(file, problems[:50], total=len(problems), hint=hint)
    arm_values = arms.astype(str).str.strip()
    present = sorted(set(arm_values))
    if control not in present:
        raise ExperimentError(
            f"{file}: control arm '{control}' does not appear in column '{arm_column}'"
            f"{did_you_mean(control, present)}; arms are: {', '.join(present)}"
        )
    if len(present) < 2:
        raise ExperimentError(f"{file}: only the control arm '{control}' is present")
    used = {arm_column, *outcomes, customer_id_column, segment_column}
    covs = (
        tuple(covariates)
        if covariates is not None
        else tuple(str(c) for c in frame.columns if c not in used)
    )
    for col in covs:
        if col not in frame.columns:
            raise ExperimentError(f"{file}: covariate column '{col}' not found")
    units = pd.DataFrame({"customer_id": ids.to_numpy(), "arm": arm_values.to_numpy()})
    if segment_column is not None:
        units["segment"] = frame[segment_column].astype(str).to_numpy()
    for col in outcomes:
        units[col] = clean[col].to_numpy()
    for col in covs:
        units[col] = frame[col].to_numpy()
    counts = units["arm"].value_counts()
    shares = {str(a): float(counts[a] / len(units)) for a in present}
    return ExperimentFile(name, control, tuple(outcomes), covs, units, shares)


def read_experiment_csv(
    path: Path,
    *,
    name: str,
    arm_column: str,
    control: str,
    outcomes: Sequence[str],
    customer_id_column: str | None = None,
    segment_column: str | None = None,
    covariates: Sequence[str] | None = None,
) -> ExperimentFile:
    """Read and validate an experiment CSV (UTF-8, header row); see
    :func:`validate_experiment_frame`."""
    if not path.exists():
        raise ExperimentError(f"{path}: file not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    for col in frame.columns:
        if col not in (arm_column, customer_id_column, segment_column, *outcomes):
            converted = pd.to_numeric(frame[col], errors="coerce")
            if converted.notna().sum() == frame[col].notna().sum():
                frame[col] = converted
    return validate_experiment_frame(
        frame,
        name=name,
        arm_column=arm_column,
        control=control,
        outcomes=outcomes,
        customer_id_column=customer_id_column,
        segment_column=segment_column,
        covariates=covariates,
        file=str(path),
    )
