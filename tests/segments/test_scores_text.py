"""The scores the history stores are the text the assignments show, whichever way it is built."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from livebase.segments import SegmentationRun, segments_at
from livebase.segments.schemes import scores_json_sql, scores_sql
from livebase.segments.settings import (
    AbcScheme,
    NamedScheme,
    QuantileScheme,
    RuleSpec,
    RulesScheme,
    Scheme,
)
from livebase.store import Store

ROWS = """SELECT * FROM (VALUES
    (5, 3, 1, 'AAB', 'core', 2),
    (1, 1, 1, 'CCC', 'churn', NULL),
    (NULL, NULL, NULL, NULL, NULL, NULL)
) t(r, f, m, cell, grp, rule)"""


@pytest.mark.parametrize(
    "scheme",
    [
        QuantileScheme(),
        AbcScheme(),
        NamedScheme(),
        RulesScheme(rules=(RuleSpec(name="big", when="monetary > 100"),)),
    ],
    ids=lambda s: s.kind,
)
def test_json_scores_have_the_text_of_the_portable_scores(scheme: Scheme) -> None:
    con = duckdb.connect()
    abc = isinstance(scheme, AbcScheme)
    rows = ROWS.replace("(5, 3, 1,", "('A', 'A', 'B',") if abc else ROWS
    rows = rows.replace("(1, 1, 1,", "('C', 'C', 'C',") if abc else rows
    got = con.execute(
        f"SELECT CAST({scores_json_sql(scheme)} AS VARCHAR), {scores_sql(scheme)} FROM ({rows})"
    ).fetchall()
    assert [a for a, _ in got] == [b for _, b in got]
    assert any(a is not None for a, _ in got)


def test_history_scores_are_the_run_scores(
    cdnow_store: Store, cdnow_runs: dict[date, SegmentationRun]
) -> None:
    day = date(1998, 6, 30)
    run = cdnow_runs[day]
    for scheme in ("rfm", "abc"):  # their scores follow from the segment
        stored = segments_at(cdnow_store.con, scheme, day).set_index("customer_id")["scores"]
        shown = run.assignments[run.assignments.scheme == scheme].set_index("customer_id")
        assert len(stored) == len(shown)
        assert (stored.reindex(shown.index).fillna("-") == shown["scores"].fillna("-")).all()
