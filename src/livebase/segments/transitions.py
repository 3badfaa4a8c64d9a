"""Transition matrices between two dates, read from the SCD2 history.

Rows are the segment on the start date, columns the segment on the end date. A customer
without a row on the start date (not yet in the base, or added after that run) is counted in
the row ``(new)``; one without a row on the end date in the column ``(gone)``. Each date reads
the latest run of the scheme on or before it (``start_run``, ``end_run``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from livebase.errors import SegmentError
from livebase.segments.history import resolve_run, run_dates

__all__ = ["GONE", "NEW", "Transitions", "transitions", "transitions_between_runs"]

NEW = "(new)"
GONE = "(gone)"


@dataclass(frozen=True)
class Transitions:
    """A transition matrix with its row shares, entries/exits and the largest flows."""

    scheme: str
    start: date
    end: date
    start_run: date
    end_run: date
    counts: pd.DataFrame
    """Customers by segment at start (index) and at end (columns)."""
    shares: pd.DataFrame
    """Row shares: of the customers in a segment at start, where they are at the end."""
    flows: pd.DataFrame
    """from_segment, to_segment, customers, share_of_from: moves between different segments,
    largest first."""
    movement: pd.DataFrame
    """segment, at_start, at_end, stayed, entries, exits, net."""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: matrix as nested dicts, flows and movement as records."""
        return {
            "scheme": self.scheme,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "start_run": self.start_run.isoformat(),
            "end_run": self.end_run.isoformat(),
            "counts": {
                str(k): {str(c): int(v) for c, v in row.items()}
                for k, row in self.counts.to_dict("index").items()
            },
            "shares": {
                str(k): {str(c): float(v) for c, v in row.items()}
                for k, row in self.shares.to_dict("index").items()
            },
            "flows": self.flows.to_dict("records"),
            "movement": self.movement.to_dict("records"),
        }


def _sorted(labels: Sequence[str], order: Sequence[str], first: str, last: str) -> list[str]:
    rank = {s: i for i, s in enumerate(order)}
    body = sorted(
        (x for x in labels if x not in (first, last)), key=lambda s: (rank.get(s, 1e9), s)
    )
    return ([first] if first in labels else []) + body + ([last] if last in labels else [])


def transitions(
    con: duckdb.DuckDBPyConnection,
    scheme: str,
    start: date,
    end: date,
    *,
    order: Sequence[str] = (),
    top: int = 10,
) -> Transitions:
    """How customers of ``scheme`` moved between ``start`` and ``end`` (``order``: best first)."""
    if end < start:
        raise SegmentError(f"--to {end} is before --from {start}")
    start_run = resolve_run(con, scheme, start)
    end_run = resolve_run(con, scheme, end)
    pairs: pd.DataFrame = con.execute(
        f"""WITH a AS (
            SELECT customer_id, segment FROM segment_history
            WHERE scheme = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)
        ), b AS (
            SELECT customer_id, segment FROM segment_history
            WHERE scheme = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)
        )
        SELECT COALESCE(a.segment, '{NEW}') AS from_segment,
               COALESCE(b.segment, '{GONE}') AS to_segment,
               COUNT(*) AS customers
        FROM a FULL OUTER JOIN b ON a.customer_id = b.customer_id
        GROUP BY 1, 2""",
        [scheme, start_run, start_run, scheme, end_run, end_run],
    ).df()
    rows = _sorted(list(pairs["from_segment"].unique()), order, NEW, GONE)
    cols = _sorted(list(pairs["to_segment"].unique()), order, NEW, GONE)
    counts = (
        pairs.pivot_table(
            index="from_segment",
            columns="to_segment",
            values="customers",
            aggfunc="sum",
            fill_value=0,
        )
        .reindex(index=rows, columns=cols, fill_value=0)
        .astype("int64")
    )
    counts.index.name, counts.columns.name = "from", "to"
    shares = counts.div(counts.sum(axis=1).where(lambda s: s > 0), axis=0).fillna(0.0)
    moves = pairs[pairs["from_segment"] != pairs["to_segment"]].copy()
    totals = pairs.groupby("from_segment")["customers"].sum().astype("float64")
    # typed columns: with no move at all the frame is empty and its object columns cannot divide
    moves["customers"] = moves["customers"].astype("int64")
    moves["share_of_from"] = moves["customers"].astype("float64") / moves["from_segment"].map(
        totals
    ).astype("float64")
    flows = (
        moves.sort_values(
            ["customers", "from_segment", "to_segment"], ascending=[False, True, True]
        )
        .head(top)
        .reset_index(drop=True)
    )
    flows["customers"] = flows["customers"].astype("int64")
    segments = [
        s for s in _sorted(list(set(rows) | set(cols)), order, NEW, GONE) if s not in (NEW, GONE)
    ]
    records = []
    matrix = counts.to_numpy()
    row_of = {str(k): i for i, k in enumerate(counts.index)}
    col_of = {str(k): j for j, k in enumerate(counts.columns)}
    for s in segments:
        i, j = row_of.get(s), col_of.get(s)
        at_start = int(matrix[i].sum()) if i is not None else 0
        at_end = int(matrix[:, j].sum()) if j is not None else 0
        stayed = int(matrix[i, j]) if i is not None and j is not None else 0
        records.append(
            {
                "segment": s,
                "at_start": at_start,
                "at_end": at_end,
                "stayed": stayed,
                "entries": at_end - stayed,
                "exits": at_start - stayed,
                "net": at_end - at_start,
            }
        )
    return Transitions(
        scheme, start, end, start_run, end_run, counts, shares, flows, pd.DataFrame(records)
    )


def transitions_between_runs(
    con: duckdb.DuckDBPyConnection,
    scheme: str,
    start: date | None = None,
    end: date | None = None,
    *,
    order: Sequence[str] = (),
    top: int = 10,
) -> Transitions:
    """:func:`transitions` with the dates ``livebase transitions`` defaults to: ``end`` the
    latest run, ``start`` the run before it (the same run when there is only one).
    SegmentError when the scheme was never run.

    >>> from livebase.store import Store
    >>> transitions_between_runs(Store.in_memory().con, "named")
    Traceback (most recent call last):
    ...
    livebase.errors.SegmentError: scheme 'named' was never run: run 'livebase segment'
    """
    from livebase.segments.export import never_run

    runs = run_dates(con, scheme)
    if not runs:
        raise never_run(scheme)
    last = end or runs[-1]
    first = start or (runs[-2] if len(runs) > 1 else runs[-1])
    return transitions(con, scheme, first, last, order=order, top=top)
