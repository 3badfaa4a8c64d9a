"""Per-segment KPIs as SQL over a scheme's assignments and the features of the same date.

For the customers of each segment on ``as_of``:

- ``customers``, ``share`` of the base; ``revenue`` (paid in the features' window) and
  ``revenue_share``; ``avg_ltv`` (mean paid amount over all history);
- ``aov``: revenue / orders in the window; ``mean_interpurchase_days``: mean over customers with
  two or more purchase days; ``sessions_per_month``: mean sessions per month over the last
  quarter;
- ``repeat_rate``: of the customers who ever paid, the share with two or more counted orders;
- ``retention_30`` / ``retention_90``: of the customers whose first payment was at least 30 (90)
  days before ``as_of``, the share who paid again within the last 30 (90) days. Computed from
  the past only, so a KPI table as of a past date is what a run on that date would have shown;
- ``avg_clv`` / ``total_clv``: mean and sum of the predicted CLV over the longest horizon of
  the CLV fit in force on ``as_of`` (``livebase clv fit``), over the customers that have a
  prediction; NULL without a fit.

Ratios with an empty denominator are NULL (NaN in pandas).
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["KPI_COLUMNS", "KPI_INPUTS", "kpi_sql"]

KPI_COLUMNS: tuple[str, ...] = (
    "customers",
    "share",
    "revenue",
    "revenue_share",
    "avg_ltv",
    "aov",
    "mean_interpurchase_days",
    "sessions_per_month",
    "repeat_rate",
    "retention_30",
    "retention_90",
    "avg_clv",
    "total_clv",
)
"""The KPI columns, in the order of tables."""

KPI_INPUTS: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "ltv",
    "orders_total",
    "first_paid_date",
    "paid_orders_30d",
    "paid_orders_90d",
    "mean_interpurchase_days",
    "sessions_per_month_last_quarter",
)
"""The feature columns the KPIs (and quantile thresholds) read, besides the CLV column."""


def kpi_sql(assignments: str, features: str | None, as_of: date, *, clv: str | None = None) -> str:
    """KPIs per (scheme, segment) of the relation ``assignments`` joined to ``features``.

    ``features`` None: ``assignments`` carries the ``KPI_INPUTS`` itself (no join).
    ``clv`` is the feature column of predicted CLV (``clv_365d``) the CLV KPIs average.
    """
    d30 = f"DATE '{(as_of - timedelta(days=30)).isoformat()}'"
    d90 = f"DATE '{(as_of - timedelta(days=90)).isoformat()}'"
    value = f"f.{clv}" if clv else "CAST(NULL AS DOUBLE)"
    source = f"{assignments} s\nJOIN {features} f ON f.customer_id = s.customer_id"
    s = "s"
    if features is None:
        source, s = f"{assignments} f", "f"
    return f"""-- KPIs per segment as of {as_of.isoformat()}
SELECT
    {s}.scheme,
    {s}.segment,
    COUNT(*) AS customers,
    CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER (PARTITION BY {s}.scheme) AS share,
    SUM(f.monetary) AS revenue,
    CAST(SUM(f.monetary) AS DOUBLE)
        / NULLIF(SUM(SUM(f.monetary)) OVER (PARTITION BY {s}.scheme), 0) AS revenue_share,
    SUM(f.ltv) AS ltv,
    AVG(CAST(f.ltv AS DOUBLE)) AS avg_ltv,
    CAST(SUM(f.monetary) AS DOUBLE) / NULLIF(SUM(f.frequency), 0) AS aov,
    AVG(f.mean_interpurchase_days) AS mean_interpurchase_days,
    AVG(f.sessions_per_month_last_quarter) AS sessions_per_month,
    CAST(COUNT(CASE WHEN f.orders_total >= 2 THEN 1 END) AS DOUBLE)
        / NULLIF(COUNT(CASE WHEN f.orders_total >= 1 THEN 1 END), 0) AS repeat_rate,
    CAST(COUNT(CASE WHEN f.first_paid_date <= {d30} AND f.paid_orders_30d > 0 THEN 1 END) AS DOUBLE)
        / NULLIF(COUNT(CASE WHEN f.first_paid_date <= {d30} THEN 1 END), 0) AS retention_30,
    CAST(COUNT(CASE WHEN f.first_paid_date <= {d90} AND f.paid_orders_90d > 0 THEN 1 END) AS DOUBLE)
        / NULLIF(COUNT(CASE WHEN f.first_paid_date <= {d90} THEN 1 END), 0) AS retention_90,
    AVG({value}) AS avg_clv,
    SUM({value}) AS total_clv
FROM {source}
GROUP BY {s}.scheme, {s}.segment
"""
