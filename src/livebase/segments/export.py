"""The members of one segment with their contact fields, for a manual playbook."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from livebase.errors import SegmentError, did_you_mean
from livebase.features import FeaturesSettings, features_sql
from livebase.segments.history import resolve_run
from livebase.segments.labels import Language, labels

__all__ = ["EXPORT_COLUMNS", "resolve_segment", "segment_members"]

EXPORT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "name",
    "email",
    "phone",
    "timezone",
    "segment",
    "segment_since",
    "recency_days",
    "frequency",
    "monetary",
    "ltv",
    "last_paid_date",
)


def resolve_segment(con: duckdb.DuckDBPyConnection, scheme: str, name: str, lang: Language) -> str:
    """The stored segment name for ``name`` (as stored, or its label, any letter case)."""
    known = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT segment FROM segment_history WHERE scheme = ?", [scheme]
        ).fetchall()
    ]
    if not known:
        raise SegmentError(f"scheme '{scheme}' has no history yet: run 'livebase segment' first")
    by_label = {labels(lang).get(s, s).casefold(): s for s in known}
    by_label.update({s.casefold(): s for s in known})
    found: str | None = by_label.get(name.casefold())
    if found is None:
        raise SegmentError(
            f"no segment '{name}' in scheme '{scheme}'{did_you_mean(name, list(by_label))}; "
            f"segments: {', '.join(sorted(known))}"
        )
    return found


def segment_members(
    con: duckdb.DuckDBPyConnection,
    features: FeaturesSettings,
    scheme: str,
    segment: str,
    as_of: date,
) -> pd.DataFrame:
    """Customers in ``segment`` of ``scheme`` on ``as_of`` (its latest run on or before it),
    with contact fields and key features, sorted by customer_id."""
    run = resolve_run(con, scheme, as_of)
    frame: pd.DataFrame = con.execute(
        f"""WITH f AS ({features_sql(features, run)})
        SELECT h.customer_id, c.name, c.email, c.phone, c.timezone, h.segment,
               h.valid_from AS segment_since, f.recency_days, f.frequency, f.monetary, f.ltv,
               f.last_paid_date
        FROM segment_history h
        JOIN customers c ON c.customer_id = h.customer_id
        LEFT JOIN f ON f.customer_id = h.customer_id
        WHERE h.scheme = ? AND h.segment = ? AND h.valid_from <= ?
          AND (h.valid_to IS NULL OR h.valid_to > ?)
        ORDER BY h.customer_id""",
        [scheme, segment, run, run],
    ).df()
    return frame
