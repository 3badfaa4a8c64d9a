"""The members of one segment with their contact fields, for a manual playbook."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from livebase.errors import SegmentError, did_you_mean
from livebase.features import FeaturesSettings, features_sql
from livebase.i18n import _l
from livebase.segments.history import resolve_run, run_dates
from livebase.segments.labels import Language, labels

__all__ = ["EXPORT_COLUMNS", "members_of", "never_run", "resolve_segment", "segment_members"]

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
        raise SegmentError(
            _l("scheme '{scheme}' has no history yet: run 'livebase segment' first", scheme=scheme)
        )
    by_label = {labels(lang).get(s, s).casefold(): s for s in known}
    by_label.update({s.casefold(): s for s in known})
    found: str | None = by_label.get(name.casefold())
    if found is None:
        raise SegmentError(
            _l(
                "no segment '{name}' in scheme '{scheme}'{hint}; segments: {known}",
                name=name,
                scheme=scheme,
                hint=did_you_mean(name, list(by_label)),
                known=", ".join(sorted(known)),
            )
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


def never_run(scheme: str) -> SegmentError:
    """The error of a scheme that has no run yet, saying what to run.

    >>> str(never_run("named"))
    "scheme 'named' was never run: run 'livebase segment'"
    """
    return SegmentError(
        _l("scheme '{scheme}' was never run: run 'livebase segment'", scheme=scheme)
    )


def members_of(
    con: duckdb.DuckDBPyConnection,
    features: FeaturesSettings,
    scheme: str,
    name: str,
    lang: Language,
    as_of: date | None = None,
) -> tuple[str, pd.DataFrame]:
    """The segment ``name`` (as stored or its label in ``lang``) and its members on ``as_of``
    (default: the scheme's latest run), as :func:`segment_members` gives them. SegmentError
    when the scheme was never run or has no such segment.

    >>> from livebase.features import FeaturesSettings
    >>> from livebase.store import Store
    >>> members_of(Store.in_memory().con, FeaturesSettings(), "named", "At Risk", "en")
    Traceback (most recent call last):
    ...
    livebase.errors.SegmentError: scheme 'named' was never run: run 'livebase segment'
    """
    runs = run_dates(con, scheme)
    if not runs:
        raise never_run(scheme)
    segment = resolve_segment(con, scheme, name, lang)
    return segment, segment_members(con, features, scheme, segment, as_of or runs[-1])
