"""Importing an experiment file: validation by row, and rows for the store."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from livebase.errors import ExperimentError, InputValidationError
from livebase.measure import read_experiment_csv, readout
from livebase.store import migrations


def test_bad_outcome_values_are_named_by_row(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("grp,buy,rev\na,1,10\nb,0,\nb,yes,0\n", encoding="utf-8")
    with pytest.raises(InputValidationError) as err:
        read_experiment_csv(f, name="e", arm_column="grp", control="b", outcomes=["buy", "rev"])
    rows = [(p.row, p.column) for p in err.value.problems]
    assert rows == [(3, "rev"), (4, "buy")]


def test_missing_column_and_unknown_control_suggest_names(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("segment,visit\nA,1\nB,0\n", encoding="utf-8")
    with pytest.raises(ExperimentError, match="did you mean 'segment'"):
        read_experiment_csv(f, name="e", arm_column="segmnt", control="A", outcomes=["visit"])
    with pytest.raises(ExperimentError, match="arms are: A, B"):
        read_experiment_csv(f, name="e", arm_column="segment", control="C", outcomes=["visit"])


def test_hillstrom_imports_into_the_experiment_tables_and_reads_out(hillstrom: Path) -> None:
    exp = read_experiment_csv(
        hillstrom, name="hillstrom", arm_column="segment", control="No E-Mail",
        outcomes=["visit", "conversion", "spend"],
    )  # fmt: skip
    assert len(exp.units) == 64_000
    assert "history" in exp.covariates and "segment" not in exp.covariates
    assert exp.observed_shares["No E-Mail"] == pytest.approx(21306 / 64000)
    con = duckdb.connect()
    for number, _, sql in migrations():
        if number in (1, 4):
            con.execute(sql)
    row = exp.experiment_row(source=f"file:{hillstrom.name}")
    con.execute(
        "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?, TIMESTAMP '2024-01-01')",
        [row["name"], row["control_arm"], row["planned_shares"], row["salt"], row["source"],
         row["outcomes"]],
    )  # fmt: skip
    units = exp.unit_rows()
    units["load_id"] = None
    con.register("u", units)
    con.execute("INSERT INTO experiment_units SELECT * FROM u")
    back = con.execute(
        "SELECT arm, CAST(outcomes->>'visit' AS DOUBLE) AS visit, "
        "CAST(outcomes->>'spend' AS DOUBLE) AS spend FROM experiment_units"
    ).df()
    r = readout(back, control="No E-Mail", outcomes=["visit", "spend"])
    direct = readout(exp.units, control="No E-Mail", outcomes=["visit", "spend"])
    assert r.table()["lift"].tolist() == pytest.approx(direct.table()["lift"].tolist())
    shares = json.loads(con.execute("SELECT planned_shares FROM experiments").fetchone()[0])  # type: ignore[index]
    assert shares == {}  # a file says what happened, not what was planned
