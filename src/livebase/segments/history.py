"""SCD type 2 history of segments: writing a run, reading a date, one customer's path.

Each customer and scheme has rows ``[valid_from, valid_to)`` (``valid_to`` NULL = current)
that never overlap and leave no gap from the customer's first run on. A row opens at a run
date where the segment changed; ``scores`` are those of the run that opened it.

Writing the results of a run as of ``D``:

- ``D`` after every earlier run of the scheme (the usual daily run and a forward backfill):
  customers whose segment changed get their current row closed at ``D`` and a new one opened.
- ``D`` on or before an earlier run (a re-run, or a backfill of the past): the scheme's
  history is rebuilt from its change points: the old ones except at ``D``, the new run at
  ``D``, and at the next run after ``D`` the segment that held there before, since that run
  found it. Consecutive equal segments merge. Re-running a date with the same data changes
  nothing; runs in any order give the history of the runs sorted by date.

The schemes of one run are written together (``write_histories``): one table of the changed
rows of every scheme, one UPDATE closing them, one INSERT; a scheme's first run (no history
yet) is inserted straight, without looking for changes. Unchanged rows are never rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import duckdb

from livebase.errors import SegmentError
from livebase.features import sql_string
from livebase.i18n import _l

if TYPE_CHECKING:  # imported by DuckDB when a result is fetched as one
    import pandas as pd

__all__ = [
    "SchemeResults",
    "customer_history",
    "rebuild_history",
    "resolve_run",
    "run_dates",
    "segment_state_sql",
    "segments_at",
    "write_histories",
    "write_history",
]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> Any:
    row = con.execute(sql, params).fetchone()
    return None if row is None else row[0]


@dataclass(frozen=True)
class SchemeResults:
    """One scheme's results of a run, as the history writer reads them."""

    scheme: str
    results: str
    """A relation with customer_id, segment and the columns ``scores`` reads."""
    scores: str = "n.scores"
    """The SQL expression of the scores over ``results`` (aliased ``n``), JSON or JSON text;
    evaluated only for the rows written."""


def write_history(
    con: duckdb.DuckDBPyConnection,
    scheme: str,
    as_of: date,
    results: str,
    *,
    scores: str | None = None,
) -> str:
    """Merge the run ``results`` (customer_id, segment, scores) of ``scheme`` at ``as_of``.

    ``scores``: the SQL expression of the scores over the columns of ``results`` (default:
    its ``scores`` column); it is evaluated only for the rows written. Call inside a
    transaction, before recording the run in ``segment_runs``. Returns the path taken:
    ``"append"``, ``"first"`` (no history yet: every row inserted) or ``"rebuild"``.
    """
    runs = [SchemeResults(scheme, results, scores or "n.scores")]
    return write_histories(con, as_of, runs)[scheme]


def write_histories(
    con: duckdb.DuckDBPyConnection, as_of: date, runs: Sequence[SchemeResults]
) -> dict[str, str]:
    """Merge the results of several schemes' runs at ``as_of`` into the history in one pass.

    Schemes run at a date after every earlier run of theirs are appended together: one
    ``lb_changed`` (the union of each scheme's changed rows), one UPDATE closing the rows
    that changed, one INSERT. A scheme without any current row (its first run) skips the
    change detection and is inserted straight. A scheme run on or before an earlier run is
    rebuilt (``rebuild_history``). Call inside a transaction, before recording the runs in
    ``segment_runs``. Returns scheme → path taken: ``append``, ``first`` or ``rebuild``.
    """
    if not runs:
        return {}
    names = [r.scheme for r in runs]
    if len(set(names)) != len(names):
        raise SegmentError(f"a scheme appears twice in one history write: {names}")
    marks = ", ".join("?" * len(names))
    later = {
        str(row[0])
        for row in con.execute(
            f"SELECT DISTINCT scheme FROM segment_runs WHERE scheme IN ({marks}) AND as_of >= ?",
            [*names, as_of],
        ).fetchall()
    }
    current = {
        str(row[0])
        for row in con.execute(
            f"""SELECT DISTINCT scheme FROM segment_history
            WHERE scheme IN ({marks}) AND valid_to IS NULL""",
            names,
        ).fetchall()
    }
    paths: dict[str, str] = {}
    changed = [r for r in runs if r.scheme not in later and r.scheme in current]
    fresh = [r for r in runs if r.scheme not in later and r.scheme not in current]
    if changed:
        # one branch per scheme: each join builds over that scheme's current rows only; the
        # row id of the current row found (NULL: a new customer) is the one the UPDATE closes
        branches = "\nUNION ALL\n".join(
            f"""SELECT n.customer_id, {sql_string(r.scheme)} AS scheme, n.segment,
       CAST({r.scores} AS JSON) AS scores, h.rowid AS current_row
FROM {r.results} n
LEFT JOIN segment_history h
  ON h.customer_id = n.customer_id AND h.scheme = {sql_string(r.scheme)} AND h.valid_to IS NULL
WHERE h.segment IS NULL OR h.segment <> n.segment"""
            for r in changed
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE lb_changed AS\n{branches}")
        # by row id: a join on the row ids reads no column of the history (a join on
        # customer_id and scheme read both for every row, current or closed: 0.4 s at 2.5M
        # rows against 0.05 s); nothing is deleted in between, so the row ids hold
        con.execute(
            """UPDATE segment_history h SET valid_to = ?
            FROM lb_changed c
            WHERE h.rowid = c.current_row""",
            [as_of],
        )
        paths.update(dict.fromkeys((r.scheme for r in changed), "append"))
    inserted = ["SELECT customer_id, scheme, segment, scores FROM lb_changed"] if changed else []
    inserted += [
        f"SELECT n.customer_id, {sql_string(r.scheme)} AS scheme, n.segment,\n"
        f"       CAST({r.scores} AS JSON) AS scores\n"
        f"FROM {r.results} n"
        for r in fresh
    ]
    if inserted:
        union = "\nUNION ALL\n".join(inserted)
        con.execute(
            f"""INSERT INTO segment_history (customer_id, scheme, segment, scores, valid_from, valid_to)
            SELECT customer_id, scheme, segment, scores, ?, NULL FROM (\n{union}\n) w""",
            [as_of],
        )
        paths.update(dict.fromkeys((r.scheme for r in fresh), "first"))
    if changed:
        con.execute("DROP TABLE lb_changed")
    for r in runs:
        if r.scheme in later:
            new_points = f"""
        UNION ALL
        SELECT customer_id, segment, CAST({r.scores} AS VARCHAR), CAST(? AS DATE)
        FROM {r.results} n"""
            rebuild_history(con, r.scheme, as_of, new_points=new_points)
            paths[r.scheme] = "rebuild"
    return {r.scheme: paths[r.scheme] for r in runs}


def rebuild_history(
    con: duckdb.DuckDBPyConnection, scheme: str, day: date, *, new_points: str = ""
) -> None:
    """Rebuild the history of ``scheme`` from ``day`` on from its change points: without the
    run at ``day`` (a run deleted), or with ``new_points`` as the run there (a re-run or a
    backfill of the past: ``UNION ALL SELECT customer_id, segment, scores, ?``, the ``?``
    being ``day``).

    At the next run after ``day`` the segment that held there before comes back, since that
    run found it; consecutive equal segments merge, and only the difference is written, so
    re-running a date with the same data touches nothing.
    """
    following = _scalar(
        con, "SELECT MIN(as_of) FROM segment_runs WHERE scheme = ? AND as_of > ?", [scheme, day]
    )
    # only rows that reach the day or later can change (the one ending at it may merge)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE lb_old AS
        SELECT customer_id, segment, CAST(scores AS VARCHAR) AS scores, valid_from, valid_to
        FROM segment_history
        WHERE scheme = ? AND (valid_to IS NULL OR valid_to >= ?)""",
        [scheme, day],
    )
    params: list[Any] = [day, day] if new_points else [day]
    resume = ""
    if following is not None:
        resume = """
        UNION ALL
        SELECT customer_id, segment, scores, CAST(? AS DATE) FROM lb_old
        WHERE valid_from < ? AND (valid_to IS NULL OR valid_to > ?)"""
        params += [following, following, following]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lb_points AS
        SELECT customer_id, segment, scores, valid_from AS day FROM lb_old
        WHERE valid_from <> ?{new_points}{resume}""",
        params,
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE lb_rows AS
        SELECT customer_id, segment, scores, day AS valid_from,
               LEAD(day) OVER (PARTITION BY customer_id ORDER BY day) AS valid_to
        FROM (
            SELECT *, LAG(segment) OVER (PARTITION BY customer_id ORDER BY day) AS before
            FROM lb_points
        ) p
        WHERE before IS NULL OR before <> segment"""
    )
    con.execute(
        """DELETE FROM segment_history h
        USING (SELECT * FROM lb_old EXCEPT SELECT * FROM lb_rows) gone
        WHERE h.scheme = ? AND h.customer_id = gone.customer_id
          AND h.valid_from = gone.valid_from""",
        [scheme],
    )
    con.execute(
        """INSERT INTO segment_history (customer_id, scheme, segment, scores, valid_from, valid_to)
        SELECT customer_id, ?, segment, CAST(scores AS JSON), valid_from, valid_to
        FROM (SELECT * FROM lb_rows EXCEPT SELECT * FROM lb_old) added""",
        [scheme],
    )
    for table in ("lb_old", "lb_points", "lb_rows"):
        con.execute(f"DROP TABLE {table}")


def segment_state_sql(scheme: str, as_of: date) -> str:
    """Per customer: the segment in force on ``as_of``, the one before it, since when.

    Columns ``<scheme>_segment``, ``<scheme>_segment_previous``, ``<scheme>_segment_since``
    (the day it was entered) and ``<scheme>_segment_days`` (days in it on ``as_of``).
    """
    d = f"DATE '{as_of.isoformat()}'"
    return f"""SELECT
    cur.customer_id,
    cur.segment AS {scheme}_segment,
    prev.segment AS {scheme}_segment_previous,
    cur.valid_from AS {scheme}_segment_since,
    DATE_DIFF('day', cur.valid_from, {d}) AS {scheme}_segment_days
FROM segment_history cur
LEFT JOIN segment_history prev
  ON prev.scheme = cur.scheme AND prev.customer_id = cur.customer_id
 AND prev.valid_to = cur.valid_from
WHERE cur.scheme = {sql_string(scheme)} AND cur.valid_from <= {d}
  AND (cur.valid_to IS NULL OR cur.valid_to > {d})"""


def run_dates(con: duckdb.DuckDBPyConnection, scheme: str) -> list[date]:
    """The dates ``scheme`` was run for, oldest first."""
    rows = con.execute(
        "SELECT as_of FROM segment_runs WHERE scheme = ? ORDER BY as_of", [scheme]
    ).fetchall()
    return [r[0] for r in rows]


def resolve_run(con: duckdb.DuckDBPyConnection, scheme: str, day: date) -> date:
    """The latest run of ``scheme`` on or before ``day``; SegmentError when there is none."""
    found = _scalar(
        con, "SELECT MAX(as_of) FROM segment_runs WHERE scheme = ? AND as_of <= ?", [scheme, day]
    )
    if found is None:
        runs = run_dates(con, scheme)
        known = (
            _l("runs: {first} … {last}", first=runs[0], last=runs[-1])
            if runs
            else _l("it was never run")
        )
        raise SegmentError(
            _l(
                "scheme '{scheme}' has no run on or before {day} ({known}): run "
                "'livebase segment --as-of {day}' first",
                scheme=scheme,
                day=day,
                known=known,
            )
        )
    return found  # type: ignore[no-any-return]


def segments_at(con: duckdb.DuckDBPyConnection, scheme: str, day: date) -> pd.DataFrame:
    """customer_id, segment, scores in force on ``day`` (from the history)."""
    frame: pd.DataFrame = con.execute(
        """SELECT customer_id, segment, scores FROM segment_history
        WHERE scheme = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)
        ORDER BY customer_id""",
        [scheme, day, day],
    ).df()
    return frame


def customer_history(con: duckdb.DuckDBPyConnection, customer_id: str) -> pd.DataFrame:
    """One customer's path: scheme, segment, scores, valid_from, valid_to (oldest first)."""
    frame: pd.DataFrame = con.execute(
        """SELECT scheme, segment, scores, valid_from, valid_to FROM segment_history
        WHERE customer_id = ? ORDER BY scheme, valid_from""",
        [customer_id],
    ).df()
    return frame
