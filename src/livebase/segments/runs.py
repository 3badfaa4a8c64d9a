"""Segmentation runs: list them, and delete one so that the history is as if it never ran.

Deleting the run of a scheme as of ``D`` removes its row in ``segment_runs``, its KPI
snapshot, and rebuilds the scheme's SCD2 history from the change points of the other runs:
the rows opened at ``D`` go, and a customer whose row opened at ``D`` and still held at the
next run gets a row from that run on (that run found that segment). Consecutive equal
segments merge, so a run written and deleted leaves the history as it was.

>>> from datetime import date, datetime
>>> from livebase.store import Store
>>> store = Store.in_memory()
>>> _ = store.con.execute("INSERT INTO segment_runs VALUES ('named', '2026-06-30', 3, 'h', ?)",
...                       [datetime(2026, 7, 1)])
>>> list_runs(store.con)[["scheme", "as_of", "customers"]].to_dict("records")
[{'scheme': 'named', 'as_of': Timestamp('2026-06-30 00:00:00'), 'customers': 3}]
>>> delete_run(store.con, date(2026, 6, 30))
['named']
>>> len(list_runs(store.con))
0
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from livebase.errors import SegmentError
from livebase.i18n import _l
from livebase.segments.history import rebuild_history

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["delete_run", "list_runs"]


def list_runs(con: duckdb.DuckDBPyConnection, scheme: str | None = None) -> pd.DataFrame:
    """Every run, latest first: scheme, as_of, customers, ran_at, config_hash."""
    where = "" if scheme is None else "WHERE scheme = ?"
    frame: pd.DataFrame = con.execute(
        f"""SELECT scheme, as_of, customers, ran_at, config_hash FROM segment_runs {where}
        ORDER BY as_of DESC, scheme""",
        [] if scheme is None else [scheme],
    ).df()
    return frame


def delete_run(
    con: duckdb.DuckDBPyConnection, day: date, schemes: Sequence[str] | None = None
) -> list[str]:
    """Delete the runs as of ``day`` (of ``schemes``, default every scheme run that day) in one
    transaction; returns the schemes whose run was deleted. SegmentError when there is none."""
    rows = con.execute(
        "SELECT scheme FROM segment_runs WHERE as_of = ? ORDER BY scheme", [day]
    ).fetchall()
    found = [str(r[0]) for r in rows]
    chosen = found if schemes is None else [s for s in found if s in schemes]
    if not chosen:
        all_days = con.execute(
            "SELECT DISTINCT as_of FROM segment_runs ORDER BY as_of DESC LIMIT 5"
        ).fetchall()
        latest = ", ".join(str(r[0]) for r in all_days) or _l("none yet")
        raise SegmentError(
            _l(
                "no segmentation run as of {day}; latest runs: {latest} ('livebase runs' "
                "lists them all)",
                day=day.isoformat(),
                latest=latest,
            )
            if schemes is None
            else _l(
                "no segmentation run of {schemes} as of {day}; latest runs: {latest} "
                "('livebase runs' lists them all)",
                schemes=", ".join(schemes),
                day=day.isoformat(),
                latest=latest,
            )
        )
    con.execute("BEGIN TRANSACTION")
    try:
        for scheme in chosen:
            rebuild_history(con, scheme, day)
            con.execute("DELETE FROM segment_runs WHERE scheme = ? AND as_of = ?", [scheme, day])
            con.execute(
                "DELETE FROM segment_snapshots WHERE scheme = ? AND as_of = ?", [scheme, day]
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return chosen
