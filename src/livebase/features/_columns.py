"""The built-in feature columns and what each means (the rule whitelist and the docs)."""

from __future__ import annotations

from typing import Final

__all__ = ["BASE_FEATURES", "clv_columns"]

BASE_FEATURES: Final[dict[str, str]] = {
    "customer_id": "the customer",
    "first_seen_date": "first registration, order or event on or before as_of",
    "tenure_days": "days from first_seen_date to as_of",
    "first_paid_date": "day of the first counted (paid) order; NULL if none",
    "last_paid_date": "day of the latest counted order; NULL if none",
    "days_since_first_paid": "days from first_paid_date to as_of; NULL if never paid",
    "recency_days": "days from last_paid_date to as_of (0 = paid on as_of); NULL if never paid",
    "frequency": "counted orders (or paid days) in the RFM window",
    "monetary": "paid amount in the RFM window",
    "orders_total": "counted orders, all history",
    "paid_days_total": "distinct days with a counted order, all history",
    "ltv": "paid amount, all history (historical LTV)",
    "aov": "average order value in the window: monetary / frequency; NULL without orders",
    "mean_interpurchase_days": (
        "mean days between distinct purchase days, all history; NULL with fewer than two"
    ),
    "paid_orders_30d": "counted orders in the 30 days up to as_of",
    "paid_orders_90d": "counted orders in the 90 days up to as_of",
    "paid_orders_180d": "counted orders in the 180 days up to as_of",
    "refunded_orders": "orders refunded (created on or before as_of), all history",
    "sessions_per_month_last_quarter": "session events in the 90 days up to as_of, divided by 3",
}


def clv_columns(horizons: tuple[int, ...]) -> dict[str, str]:
    """The CLV prediction columns for the given horizons (days), with their meaning.

    >>> list(clv_columns((90,)))
    ['p_alive', 'expected_purchases_90d', 'clv_90d']
    """
    columns = {
        "p_alive": "CLV: probability the customer is still active (NULL without a CLV fit)",
    }
    for h in horizons:
        columns[f"expected_purchases_{h}d"] = f"CLV: expected purchases in the next {h} days"
        columns[f"clv_{h}d"] = f"CLV: predicted customer value over the next {h} days"
    return columns
