"""Alerts: a segment's size, share or revenue moved past a threshold between two runs, or its
inflow from better segments is high.

The two runs are the latest two dates in ``segment_snapshots`` for the alert's scheme (or the
dates given). ``inflow_from_better`` is the share of the segment's customers at the later run
who, at the earlier run, were in a segment listed before it (better); it fires when it is at
least the threshold (``direction`` does not apply to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import duckdb

from livebase.segments.schemes import segment_order
from livebase.segments.settings import AlertSettings, SegmentsSettings

__all__ = ["AlertResult", "evaluate_alerts"]


@dataclass(frozen=True)
class AlertResult:
    """One alert checked: the numbers behind it, and whether it fired (reason when it could not)."""

    name: str
    scheme: str
    segment: str
    metric: str
    before_date: date | None
    after_date: date | None
    before: float | None
    after: float | None
    change: float | None
    threshold: float
    fired: bool
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _value(
    con: duckdb.DuckDBPyConnection, scheme: str, segment: str, day: date, metric: str
) -> float:
    row = con.execute(
        f"SELECT CAST({metric} AS DOUBLE) FROM segment_snapshots "
        "WHERE scheme = ? AND segment = ? AND as_of = ?",
        [scheme, segment, day],
    ).fetchone()
    return 0.0 if row is None or row[0] is None else float(row[0])


def _inflow(
    con: duckdb.DuckDBPyConnection,
    scheme: str,
    segment: str,
    better: Sequence[str],
    before: date,
    after: date,
) -> float:
    at = """SELECT customer_id, segment FROM segment_history
            WHERE scheme = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"""
    row = con.execute(
        f"""WITH a AS ({at}), b AS ({at})
        SELECT COUNT(*), COUNT(CASE WHEN list_contains(?, a.segment) THEN 1 END)
        FROM b LEFT JOIN a ON a.customer_id = b.customer_id
        WHERE b.segment = ?""",
        [scheme, before, before, scheme, after, after, list(better), segment],
    ).fetchone()
    total, inflow = (0, 0) if row is None else (int(row[0]), int(row[1]))
    return inflow / total if total else 0.0


def _check(
    con: duckdb.DuckDBPyConnection,
    alert: AlertSettings,
    segments: SegmentsSettings,
    before: date | None,
    after: date | None,
) -> AlertResult:
    base: dict[str, Any] = {
        "name": alert.name,
        "scheme": alert.scheme,
        "segment": alert.segment,
        "metric": alert.metric,
        "threshold": alert.threshold,
    }
    if before is None or after is None:
        return AlertResult(
            **base,
            before_date=before,
            after_date=after,
            before=None,
            after=None,
            change=None,
            fired=False,
            reason="needs two runs of the scheme",
        )
    if alert.metric == "inflow_from_better":
        order = segment_order(segments.schemes[alert.scheme])
        better = order[: order.index(alert.segment)] if alert.segment in order else []
        value = _inflow(con, alert.scheme, alert.segment, better, before, after)
        return AlertResult(
            **base,
            before_date=before,
            after_date=after,
            before=None,
            after=value,
            change=value,
            fired=value >= alert.threshold,
        )
    old = _value(con, alert.scheme, alert.segment, before, alert.metric)
    new = _value(con, alert.scheme, alert.segment, after, alert.metric)
    if alert.change == "absolute":
        change: float | None = new - old
    else:
        change = (new - old) / old if old else None
    if change is None:
        fired = new > 0 and alert.direction in ("up", "any")
        reason = "" if fired else "the segment was empty at the earlier run"
    else:
        fired = (alert.direction in ("up", "any") and change >= alert.threshold) or (
            alert.direction in ("down", "any") and change <= -alert.threshold
        )
        reason = ""
    return AlertResult(
        **base,
        before_date=before,
        after_date=after,
        before=old,
        after=new,
        change=change,
        fired=fired,
        reason=reason,
    )


def evaluate_alerts(
    con: duckdb.DuckDBPyConnection,
    segments: SegmentsSettings,
    *,
    before: date | None = None,
    after: date | None = None,
) -> list[AlertResult]:
    """Check every alert of the config between two runs (default: each scheme's latest two)."""
    results = []
    for alert in segments.alerts:
        days = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT as_of FROM segment_snapshots WHERE scheme = ? "
                "AND (? IS NULL OR as_of <= ?) ORDER BY as_of DESC LIMIT 2",
                [alert.scheme, after, after],
            ).fetchall()
        ]
        b = before if before is not None else (days[1] if len(days) > 1 else None)
        a = after if after is not None else (days[0] if days else None)
        results.append(_check(con, alert, segments, b, a))
    return results
