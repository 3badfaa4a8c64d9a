"""The ``features:`` section of livebase.yaml: the RFM window and the signals over events.

>>> s = FeaturesSettings.model_validate(
...     {"signals": {"logins_30d": {"events": ["login"], "window_days": 30}}})
>>> s.signals["logins_30d"].measure
'count'
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["FeaturesSettings", "SignalMeasure", "SignalSettings", "SignalSource"]

SignalSource = Literal["events", "orders"]
SignalMeasure = Literal["count", "distinct_days", "days_since", "per_month", "amount"]
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSettings(_Frozen):
    """One activity signal: a number per customer computed from named events (or orders).

    Examples: ``logins_30d`` (count of ``login`` in 30 days), ``days_since_login``
    (measure ``days_since``), ``paid_modules_90d`` (source ``orders``, 90 days).
    """

    source: SignalSource = "events"
    """Where to count: product events (by name) or paid orders (optionally by item)."""
    events: tuple[str, ...] = ()
    """Event names that count (source ``events``), e.g. ``[login]``; required for events."""
    items_like: str | None = None
    """Source ``orders``: count only orders whose ``items`` match this SQL LIKE pattern,
    case-insensitive (``'%подписк%'``); default: every paid order."""
    measure: SignalMeasure = "count"
    """``count`` of occurrences, ``distinct_days`` with one, ``days_since`` the latest (NULL
    when never), ``per_month`` (count divided by window/30), ``amount`` (paid sum; orders only)."""
    window_days: int | None = Field(None, ge=1, le=36600)
    """Only the last N days up to and including ``as_of``; empty = all history."""

    @model_validator(mode="after")
    def _consistent(self) -> SignalSettings:
        if self.source == "events" and not self.events:
            raise ValueError("a signal over events needs 'events: [name, …]'")
        if self.source == "orders" and self.events:
            raise ValueError("'events' applies to source 'events' only; use 'items_like'")
        if self.source == "events" and self.items_like is not None:
            raise ValueError("'items_like' applies to source 'orders' only")
        if self.measure == "amount" and self.source != "orders":
            raise ValueError("measure 'amount' needs source 'orders'")
        if self.measure == "per_month" and self.window_days is None:
            raise ValueError("measure 'per_month' needs 'window_days'")
        return self


class FeaturesSettings(_Frozen):
    """How the per-customer features are computed (RFM+)."""

    window_days: int | None = Field(None, ge=1, le=36600)
    """Frequency and monetary count the last N days up to ``as_of``; empty = all history.
    Recency, first/last order, LTV and the 30/90/180-day counts ignore it."""
    frequency: Literal["orders", "days"] = "orders"
    """Frequency counts paid orders, or distinct days with a paid order (several orders on
    one day count once)."""
    session_events: tuple[str, ...] = ("session_start", "session")
    """Event names that are a session (for ``sessions_per_month_last_quarter``)."""
    clv_horizons: tuple[int, ...] = Field((90, 365), min_length=1)
    """Horizons (days) of the CLV prediction features ``expected_purchases_<h>d`` and
    ``clv_<h>d`` (with ``p_alive``), read from the latest ``livebase clv fit`` on or before
    ``as_of``; the fit must have predicted these horizons (its default: 90 and 365)."""
    signals: dict[str, SignalSettings] = Field(default_factory=dict)
    """Named signals, e.g. ``logins_30d: {events: [login], window_days: 30}``; each name
    becomes a column that rules can use."""

    @field_validator("signals")
    @classmethod
    def _names(cls, value: dict[str, SignalSettings]) -> dict[str, SignalSettings]:
        from livebase.features._columns import BASE_FEATURES, clv_columns

        for name in value:
            if not _IDENTIFIER.match(name):
                raise ValueError(
                    f"signal name '{name}': use lower-case letters, digits and '_', "
                    "starting with a letter"
                )
            if (
                name in BASE_FEATURES
                or name in clv_columns((90, 365))
                or name.startswith(("clv_", "expected_purchases_"))
            ):
                raise ValueError(f"signal name '{name}' is a built-in feature; choose another")
        return value
