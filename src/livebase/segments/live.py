"""Live segments between batch runs: a customer's features moved by one payment, and every
scheme's segment recomputed with the cut points of the last full run.

The definitions are the batch ones (:mod:`livebase.segments.schemes`), applied to one customer
with the run's thresholds held fixed:

- **quantile** scores: batch scores come from ranks, and each score covers a closed value range
  ``[min, max]`` (ties share a score, so ranges never overlap). A value scores the highest score
  whose range it has reached: ``max s: min_s ≤ v`` for frequency and monetary, ``max s: max_s ≥ v``
  for recency (ranked from the longest ago). For every customer of the run this is exactly the
  batch score; a new value lands where its rank would put it with the other customers unchanged.
- **A/B/C**: R and F by the scheme's fixed cut points; M by the run's Pareto boundary, kept as
  the smallest monetary of class A and of class B (M is monotone in spend).
- **named** map: the owner of the (R, F) cell, as in the batch SQL.
- **rules** and **jobs**: the same checked SQL conditions, evaluated over the one customer's
  features and the states of the earlier schemes, compiled once per process into Python with
  DuckDB's semantics (:mod:`livebase.segments.live_conditions`; no connection per event, no
  store touched).

:func:`live_thresholds` is the document the analytics→ops bridge stores in
``status_thresholds.thresholds``; :func:`assign_live` applies it; :func:`apply_payment` moves
the features of a status row by a newly counted payment.

>>> doc = {"schemes": {"rfm": {"kind": "quantile", "dimensions": {
...     "R": {"feature": "recency_days", "scores": [{"score": 1, "min": 200, "max": 400},
...                                                 {"score": 5, "min": 0, "max": 10}]},
...     "F": {"feature": "frequency", "scores": [{"score": 1, "min": 1, "max": 1},
...                                              {"score": 3, "min": 2, "max": 9}]},
...     "M": {"feature": "monetary", "scores": [{"score": 2, "min": 0, "max": 99},
...                                             {"score": 4, "min": 100, "max": 900}]}}}}}
>>> from livebase.segments.settings import QuantileScheme, SegmentsSettings
>>> settings = SegmentsSettings(schemes={"rfm": QuantileScheme()})
>>> assign_live({"recency_days": 5, "frequency": 2, "monetary": 150, "orders_total": 2},
...             doc, settings)
{'rfm': '534'}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from livebase.errors import SegmentError
from livebase.features import FeaturesSettings
from livebase.segments.live_conditions import FirstMatch
from livebase.segments.settings import (
    AbcScheme,
    JobsScheme,
    NamedScheme,
    QuantileScheme,
    RulesScheme,
    SegmentsSettings,
    expand_named_map,
)

__all__ = [
    "LiveState",
    "advance_days",
    "apply_payment",
    "assign_live",
    "live_thresholds",
    "quantile_score",
]


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def live_thresholds(
    thresholds: pd.DataFrame,
    abc_bounds: Mapping[str, tuple[float | None, float | None]],
    segments: SegmentsSettings,
    as_of: date,
) -> dict[str, Any]:
    """The cut points of a run by scheme, as stored in ``status_thresholds.thresholds``.

    ``thresholds`` is a :class:`SegmentationRun`'s quantile table (per dimension the feature
    and each score's customers, min and max); ``abc_bounds`` gives, per A/B/C scheme, the
    smallest spend of M class A and B (:func:`livebase.segments.schemes.abc_monetary_bounds_sql`).

    >>> from livebase.segments.settings import AbcScheme
    >>> doc = live_thresholds(pd.DataFrame(), {"abc": (5.0, 2.0)},
    ...                       SegmentsSettings(schemes={"abc": AbcScheme()}), date(2026, 6, 30))
    >>> doc["schemes"]["abc"]
    {'kind': 'abc', 'monetary_a_min': 5.0, 'monetary_b_min': 2.0}
    """
    document: dict[str, Any] = {"as_of": as_of.isoformat(), "schemes": {}}
    if not thresholds.empty:
        for scheme, rows in thresholds.groupby("scheme", sort=True):
            dimensions: dict[str, Any] = {}
            for dimension, part in rows.groupby("dimension", sort=True):
                dimensions[str(dimension)] = {
                    "feature": str(part["feature"].iloc[0]),
                    "scores": [
                        {
                            "score": int(r["score"]),
                            "customers": int(r["customers"]),
                            "min": _number(r["min_value"]),
                            "max": _number(r["max_value"]),
                        }
                        for r in part.sort_values("score").to_dict("records")
                    ],
                }
            document["schemes"][str(scheme)] = {"kind": "quantile", "dimensions": dimensions}
    for name, config in segments.schemes.items():
        if not isinstance(config, AbcScheme):
            continue
        if name not in abc_bounds:
            raise SegmentError(f"live thresholds: no monetary bounds for the A/B/C scheme '{name}'")
        a_min, b_min = abc_bounds[name]
        document["schemes"][name] = {
            "kind": "abc",
            "monetary_a_min": _number(a_min),
            "monetary_b_min": _number(b_min),
        }
    return document


def quantile_score(value: float, scores: Sequence[Mapping[str, Any]], *, descending: bool) -> int:
    """The score of ``value`` among a run's score ranges (see the module docstring).

    >>> ranges = [{"score": 1, "min": 1, "max": 1}, {"score": 3, "min": 2, "max": 4}]
    >>> quantile_score(1, ranges, descending=False), quantile_score(7, ranges, descending=False)
    (1, 3)
    """
    present = sorted(
        (s for s in scores if s.get("min") is not None and s.get("max") is not None),
        key=lambda s: int(s["score"]),
    )
    if not present:
        return 1
    best = int(present[0]["score"])
    for entry in present:
        reached = float(entry["max"]) >= value if descending else float(entry["min"]) <= value
        if reached:
            best = int(entry["score"])
    return best


_NAMED_MAPS: dict[str, dict[str, str]] = {}


def _named_map(scheme: NamedScheme) -> dict[str, str]:
    """``expand_named_map`` of a scheme's cells, computed once per distinct map."""
    key = json.dumps(scheme.cells, sort_keys=True)
    found = _NAMED_MAPS.get(key)
    if found is None:
        found = _NAMED_MAPS[key] = expand_named_map(scheme.cells, 5)
    return found


_MATCHERS: dict[tuple[str, str], dict[str, FirstMatch]] = {}


def _matchers(features: FeaturesSettings, segments: SegmentsSettings) -> dict[str, FirstMatch]:
    """The checked rules of every rules scheme, parsed and compiled once per distinct
    configuration (a process serves one workspace: the cache stays small)."""
    from livebase.segments.run import check_segment_rules

    key = (features.model_dump_json(), segments.model_dump_json())
    found = _MATCHERS.get(key)
    if found is None:
        checked = check_segment_rules(features, segments)
        if len(_MATCHERS) > 16:
            _MATCHERS.clear()
        found = _MATCHERS[key] = {name: FirstMatch(rules) for name, rules in checked.items()}
    return found


def _quantile(
    features: Mapping[str, Any], doc: Mapping[str, Any], scheme: QuantileScheme
) -> dict[str, int] | None:
    if not features.get("orders_total"):
        return None
    dims = doc.get("dimensions", {})
    scores: dict[str, int] = {}
    for dim, column, descending in (
        ("R", "recency_days", True),
        ("F", "frequency", False),
        ("M", "monetary", False),
    ):
        entry = dims.get(dim)
        value = features.get(entry["feature"] if entry else column)
        if entry is None or value is None:
            raise SegmentError(
                f"no live thresholds for {dim} of a quantile scheme: run 'livebase segment' to "
                "publish them"
            )
        scores[dim.lower()] = quantile_score(float(value), entry["scores"], descending=descending)
    return scores


def _abc(features: Mapping[str, Any], doc: Mapping[str, Any], scheme: AbcScheme) -> str:
    if not features.get("orders_total"):
        return scheme.no_purchase
    ra, rb = scheme.recency_days
    fa, fb = scheme.frequency
    recency = float(features["recency_days"])
    frequency = float(features["frequency"] or 0)
    monetary = float(features.get("monetary") or 0)
    r = "A" if recency <= ra else "B" if recency <= rb else "C"
    f = "A" if frequency >= fa else "B" if frequency >= fb else "C"
    a_min, b_min = doc.get("monetary_a_min"), doc.get("monetary_b_min")
    m = (
        "A"
        if a_min is not None and monetary >= a_min
        else "B"
        if b_min is not None and monetary >= b_min
        else "C"
    )
    if scheme.output == "cell":
        return r + f + m
    if r == "A" and (f == "A" or m == "A"):
        return "core"
    return "growing" if r == "A" else "pre_churn" if r == "B" else "churn"


@dataclass(frozen=True)
class LiveState:
    """A scheme's state before the update, for rules that read ``<scheme>_segment…``."""

    segment: str | None
    previous: str | None
    since: date | None


def _rules(
    features: Mapping[str, Any],
    matcher: FirstMatch,
    otherwise: str,
    states: Mapping[str, tuple[str | None, str | None, date | None]],
    as_of: date | None,
) -> str:
    """The first rule of a rules or jobs scheme that holds for the customer (compiled once per
    process, :mod:`livebase.segments.live_conditions`), over the features and the states of
    the schemes before it."""
    row: dict[str, Any] = dict(features)
    for scheme, (segment, previous, since) in states.items():
        row[f"{scheme}_segment"] = segment
        row[f"{scheme}_segment_previous"] = previous
        row[f"{scheme}_segment_since"] = since
        row[f"{scheme}_segment_days"] = (
            None if since is None or as_of is None else (as_of - since).days
        )
    index = matcher.first(row)
    return otherwise if index is None else matcher.rules[index].name


def assign_live(
    features: Mapping[str, Any],
    thresholds: Mapping[str, Any],
    segments: SegmentsSettings,
    *,
    features_settings: FeaturesSettings | None = None,
    previous: Mapping[str, LiveState] | None = None,
    as_of: date | None = None,
) -> dict[str, str]:
    """Every scheme's segment of one customer's ``features`` with a run's ``thresholds``.

    ``previous`` (scheme → state before) and ``as_of`` feed rules that read earlier schemes'
    states; ``features_settings`` is needed only for rules and jobs schemes. A scheme the
    thresholds have no cut points for (added after the last run) keeps its previous segment.
    """
    docs = thresholds.get("schemes", {})
    result: dict[str, str] = {}
    quantile_scores: dict[str, dict[str, int] | None] = {}
    states: dict[str, tuple[str | None, str | None, date | None]] = {}
    missing: set[str] = set()
    for name, scheme in segments.schemes.items():
        before = (previous or {}).get(name)
        segment: str | None
        if isinstance(scheme, QuantileScheme):
            if name not in docs:
                missing.add(name)
                segment = None
            else:
                scores = _quantile(features, docs[name], scheme)
                quantile_scores[name] = scores
                segment = (
                    scheme.no_purchase
                    if scores is None
                    else f"{scores['r']}{scores['f']}{scores['m']}"
                )
        elif isinstance(scheme, AbcScheme):
            if docs.get(name, {}).get("kind") != "abc":
                missing.add(name)
                segment = None
            else:
                segment = _abc(features, docs[name], scheme)
        elif isinstance(scheme, NamedScheme):
            base = quantile_scores.get(scheme.based_on)
            if scheme.based_on in missing:
                missing.add(name)
                segment = None
            elif base is None:
                segment = scheme.no_purchase
            else:
                segment = _named_map(scheme)[f"{base['r']}{base['f']}"]
        else:
            assert isinstance(scheme, RulesScheme | JobsScheme)
            matcher = _matchers(features_settings or FeaturesSettings.model_validate({}), segments)[
                name
            ]
            segment = _rules(features, matcher, scheme.otherwise, states, as_of)
        if segment is None:
            # the last run published no cut points for this scheme: keep what the customer had
            if before is None or before.segment is None:
                continue
            segment = before.segment
        result[name] = segment
        if before is not None and before.segment == segment:
            states[name] = (segment, before.previous, before.since)
        else:
            states[name] = (segment, before.segment if before else None, as_of)
    return result


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def advance_days(features: Mapping[str, Any], days: int) -> dict[str, Any]:
    """A status row's built-in day counts ``days`` later (recency, tenure, days since the
    first payment); signals move with :mod:`livebase.segments.live_signals`.

    >>> advance_days({"recency_days": 3, "tenure_days": None, "frequency": 2}, 2)
    {'recency_days': 5, 'tenure_days': None, 'frequency': 2}
    """
    out = dict(features)
    for column in ("recency_days", "tenure_days", "days_since_first_paid"):
        if out.get(column) is not None:
            out[column] = int(out[column]) + days
    return out


def apply_payment(
    features: Mapping[str, Any],
    *,
    as_of: date,
    paid_day: date,
    paid_amount: float,
    new_order: bool,
    frequency_mode: str = "orders",
) -> tuple[dict[str, Any], date]:
    """A status row's features (as of ``as_of``) moved by a newly counted payment.

    Returns the features and their new date ``max(as_of, paid_day)``. Counts over windows keep
    the orders they had (an order that left a window since ``as_of`` leaves at the next batch
    run); ``new_order`` False adds the amount to an order already counted (a second instalment).

    >>> f, day = apply_payment({"orders_total": 0, "frequency": 0, "monetary": 0, "ltv": 0,
    ...     "paid_days_total": 0, "tenure_days": 30, "first_seen_date": "2026-06-01"}, as_of=date(2026, 7, 1),
    ...     paid_day=date(2026, 7, 3), paid_amount=990.0, new_order=True)
    >>> f["recency_days"], f["frequency"], f["monetary"], f["tenure_days"], day
    (0, 1, 990.0, 32, datetime.date(2026, 7, 3))
    """
    new_as_of = max(as_of, paid_day)
    out = advance_days(features, (new_as_of - as_of).days)
    last = _day(out.get("last_paid_date"))
    first = _day(out.get("first_paid_date"))
    new_day = last is None or paid_day > last
    if last is None or paid_day > last:
        out["last_paid_date"] = paid_day.isoformat()
        last = paid_day
    if first is None or paid_day < first:
        out["first_paid_date"] = paid_day.isoformat()
        first = paid_day
    out["recency_days"] = (new_as_of - last).days
    out["days_since_first_paid"] = (new_as_of - first).days
    seen = _day(out.get("first_seen_date"))
    if seen is None or seen > paid_day:
        out["first_seen_date"] = paid_day.isoformat()
        out["tenure_days"] = (new_as_of - paid_day).days
    amount = float(paid_amount)
    out["monetary"] = float(out.get("monetary") or 0) + amount
    out["ltv"] = float(out.get("ltv") or 0) + amount
    if new_order:
        out["orders_total"] = int(out.get("orders_total") or 0) + 1
        for column in ("paid_orders_30d", "paid_orders_90d", "paid_orders_180d"):
            out[column] = int(out.get(column) or 0) + 1
        if frequency_mode == "orders":
            out["frequency"] = int(out.get("frequency") or 0) + 1
    if new_day and new_order:
        out["paid_days_total"] = int(out.get("paid_days_total") or 0) + 1
        if frequency_mode == "days":
            out["frequency"] = int(out.get("frequency") or 0) + 1
    days = int(out.get("paid_days_total") or 0)
    out["mean_interpurchase_days"] = (last - first).days / (days - 1) if days >= 2 else None
    frequency = int(out.get("frequency") or 0)
    out["aov"] = out["monetary"] / frequency if frequency else None
    return out, new_as_of
