"""Signals moved live: what one payment or product event does to a status row's signals.

The batch run computes every signal of ``livebase.yaml`` (:mod:`livebase.features._sql`) over
the whole log; between runs the service moves them with each event as the batch run including
that event would: a matching occurrence adds to ``count``, ``per_month`` (one over the window's
months) and ``amount``, sets ``days_since`` to the days since it, and adds a day to
``distinct_days`` when nothing matching was counted that day yet. Occurrences that leave a
window since the run leave at the next batch run, as for the built-in windowed counts.

A customer the batch run has not seen yet starts from :func:`signal_defaults`, the values the
batch run gives a customer without a matching row (0, or NULL for ``days_since``).

>>> from datetime import date
>>> from livebase.features import FeaturesSettings
>>> settings = FeaturesSettings.model_validate({"signals": {
...     "subscriptions_90d": {"source": "orders", "items_like": "%подписк%", "window_days": 90},
...     "days_since_subscription": {"source": "orders", "items_like": "%подписк%",
...                                 "measure": "days_since"}}})
>>> start = signal_defaults(settings)
>>> start
{'subscriptions_90d': 0, 'days_since_subscription': None}
>>> move_order_signals(start, settings, as_of=date(2026, 7, 1), new_as_of=date(2026, 7, 3),
...     paid_day=date(2026, 7, 3), paid_amount=990.0, new_order=True,
...     items="Подписка на месяц", day_counted=lambda name: False)
{'subscriptions_90d': 1, 'days_since_subscription': 0}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache
from typing import Any

from livebase.features import FeaturesSettings
from livebase.features.settings import SignalSettings

__all__ = [
    "items_match",
    "move_event_signals",
    "move_order_signals",
    "signal_defaults",
]


def signal_defaults(settings: FeaturesSettings) -> dict[str, Any]:
    """Every signal's value for a customer without a matching occurrence, as the batch run
    gives it: 0 (0.0 for amounts and rates), NULL for ``days_since``."""
    out: dict[str, Any] = {}
    for name, signal in settings.signals.items():
        if signal.measure == "days_since":
            out[name] = None
        elif signal.measure in ("amount", "per_month"):
            out[name] = 0.0
        else:
            out[name] = 0
    return out


@cache
def _like(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "_" else ".*" if c == "%" else re.escape(c) for c in pattern.lower())
    return re.compile("".join(parts), re.DOTALL)


def items_match(pattern: str | None, items: str | None) -> bool:
    """Whether an order's ``items`` match a signal's ``items_like`` as the batch SQL decides it
    (``LOWER(items) LIKE LOWER(pattern)``: ``%`` any text, ``_`` one character).

    >>> items_match("%подписк%", "Годовая ПОДПИСКА"), items_match("%подписк%", None)
    (True, False)
    >>> items_match(None, None), items_match("курс_", "Курс1"), items_match("курс_", "Курс12")
    (True, True, False)
    """
    if pattern is None:
        return True
    if items is None:
        return False
    return _like(pattern).fullmatch(items.lower()) is not None


def _shifted(features: Mapping[str, Any], settings: FeaturesSettings, days: int) -> dict[str, Any]:
    """Every ``days_since`` signal ``days`` later (the status row's date moves forward)."""
    out = dict(features)
    for name, signal in settings.signals.items():
        if signal.measure == "days_since" and out.get(name) is not None:
            out[name] = int(out[name]) + days
    return out


def _counted(
    features: dict[str, Any],
    signals: Mapping[str, SignalSettings],
    *,
    as_of: date,
    day: date,
    amount: float,
    new_occurrence: bool,
    day_counted: Callable[[str], bool],
) -> dict[str, Any]:
    """``features`` (as of ``as_of``) with one occurrence on ``day`` counted in ``signals``."""
    for name, signal in signals.items():
        if signal.window_days is not None and (as_of - day).days >= signal.window_days:
            continue  # the occurrence is already outside the window
        value = features.get(name)
        if signal.measure == "days_since":
            since = (as_of - day).days
            features[name] = since if value is None else min(int(value), since)
        elif signal.measure == "amount":
            features[name] = float(value or 0) + amount
        elif signal.measure == "distinct_days":
            if not day_counted(name):
                features[name] = int(value or 0) + 1
        elif not new_occurrence:
            continue
        elif signal.measure == "per_month":
            features[name] = float(value or 0) + 1 / ((signal.window_days or 30) / 30)
        else:
            features[name] = int(value or 0) + 1
    return features


def move_order_signals(
    features: Mapping[str, Any],
    settings: FeaturesSettings,
    *,
    as_of: date,
    new_as_of: date,
    paid_day: date,
    paid_amount: float,
    new_order: bool,
    items: str | None,
    day_counted: Callable[[str], bool],
) -> dict[str, Any]:
    """The order signals of ``features`` (as of ``as_of``) after a newly counted payment of
    ``paid_amount`` on ``paid_day``, as of ``new_as_of``.

    ``new_order`` False: a further instalment of an order already counted (amounts grow,
    counts do not). ``day_counted(name)``: whether a ``distinct_days`` signal already counts
    ``paid_day`` (an earlier matching order that day)."""
    signals = {
        n: s
        for n, s in settings.signals.items()
        if s.source == "orders" and items_match(s.items_like, items)
    }
    return _counted(
        _shifted(features, settings, (new_as_of - as_of).days),
        signals,
        as_of=new_as_of,
        day=paid_day,
        amount=paid_amount,
        new_occurrence=new_order,
        day_counted=day_counted,
    )


def move_event_signals(
    features: Mapping[str, Any],
    settings: FeaturesSettings,
    *,
    as_of: date,
    new_as_of: date,
    name: str,
    day: date,
    day_counted: Callable[[str], bool],
) -> tuple[dict[str, Any], list[str]]:
    """The event signals of ``features`` (as of ``as_of``) after a product event ``name`` on
    ``day``, as of ``new_as_of``; with the names of the signals it counts in (none: the
    event moves nothing).

    >>> settings = FeaturesSettings.model_validate({"signals": {
    ...     "logins_30d": {"events": ["login"], "window_days": 30},
    ...     "days_since_login": {"events": ["login"], "measure": "days_since"}}})
    >>> moved, names = move_event_signals({"logins_30d": 2, "days_since_login": 5}, settings,
    ...     as_of=date(2026, 7, 1), new_as_of=date(2026, 7, 2), name="login",
    ...     day=date(2026, 7, 2), day_counted=lambda name: False)
    >>> moved, names
    ({'logins_30d': 3, 'days_since_login': 0}, ['logins_30d', 'days_since_login'])
    """
    signals = {
        n: s for n, s in settings.signals.items() if s.source == "events" and name in s.events
    }
    moved = _counted(
        _shifted(features, settings, (new_as_of - as_of).days),
        signals,
        as_of=new_as_of,
        day=day,
        amount=0.0,
        new_occurrence=True,
        day_counted=day_counted,
    )
    return moved, list(signals)
