"""Holdout validation of a purchase model, the way Fader, Hardie & Lee (2005) show it.

Fit on the calibration period (up to the day before ``holdout_from``), then compare with what
the same customers actually did in the holdout period (``holdout_from`` .. ``holdout_until``):

- ``by_frequency``: customers grouped by calibration repeat transactions x = 0, 1, …, 7+; the
  mean actual holdout transactions against the mean conditional expectation E[Y(t) | x, t_x, T]
  (Figure 4 of the paper).
- ``cumulative``: the cohort's cumulative repeat transactions week by week across both periods
  against Σ_i E[X(t - first_i)] (Figure 2 of the paper; the model only knows each customer's
  first purchase date there, so it tests the model's shape, not the fit of each customer).

Transactions are counted as in ``summarise``: at most one per customer-day. Customers whose
first purchase is in the holdout period are not in the cohort.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284, Figures 2 and 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from livebase.errors import ModelError
from livebase.models._base import UNIT_DAYS, PurchaseModel, Unit, check_unit
from livebase.models.bgnbd import BGNBD
from livebase.models.clv import PurchaseModelName
from livebase.models.fallback import ClvWarning, fit_purchases
from livebase.models.mbgnbd import MBGNBD
from livebase.models.summary import CustomerSummary, daily_transactions, summarise

__all__ = ["HoldoutValidation", "plot_holdout_validation", "validate_holdout"]


@dataclass(frozen=True)
class HoldoutValidation:
    """Expected against actual repeat transactions in a holdout period.

    ``by_frequency``: ``frequency`` (label "0".."7+"), ``customers``, ``actual`` and
    ``expected`` (mean holdout transactions per customer), ``actual_total``, ``expected_total``.
    ``cumulative``: ``period`` (1, 2, …), ``end`` (last day of the period), ``actual`` and
    ``expected`` cumulative repeat transactions of the cohort, ``holdout`` (period in holdout).
    """

    model: PurchaseModel
    summary: CustomerSummary
    by_frequency: pd.DataFrame
    cumulative: pd.DataFrame
    holdout_from: date
    holdout_until: date
    warnings: tuple[ClvWarning, ...] = ()
    """Where the purchase model is a constrained refit, and why (``livebase.models.fallback``)."""

    @property
    def calibration_until(self) -> date:
        """The last day of the calibration period."""
        return self.holdout_from - timedelta(days=1)


def validate_holdout(
    transactions: pd.DataFrame,
    *,
    holdout_from: date,
    holdout_until: date | None = None,
    unit: Unit = "weeks",
    model: PurchaseModelName = "bgnbd",
    max_frequency: int = 7,
    step_days: int = 7,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> HoldoutValidation:
    """Fit ``model`` on the transactions before ``holdout_from`` and compare with the holdout.

    ``holdout_until`` defaults to the last transaction day. ``step_days`` is the length of a
    period of the cumulative table (7 = week by week).
    """
    unit = check_unit(unit)
    if max_frequency < 1 or step_days < 1:
        raise ModelError("max_frequency and step_days must be at least 1")
    daily = daily_transactions(
        transactions, customer_col=customer_col, date_col=date_col, amount_col=amount_col
    )
    until = holdout_from - timedelta(days=1)
    end = daily["day"].max().date() if holdout_until is None else holdout_until
    if end < holdout_from:
        raise ModelError(
            f"the holdout period {holdout_from.isoformat()}..{end.isoformat()} is empty: the "
            "data end before it starts; choose an earlier --holdout-from"
        )
    summary = summarise(daily, until, unit=unit, date_col="day")
    purchases, fit_warnings = fit_purchases(summary, BGNBD if model == "bgnbd" else MBGNBD)
    return HoldoutValidation(
        model=purchases,
        warnings=tuple(fit_warnings),
        summary=summary,
        by_frequency=_by_frequency(daily, summary, purchases, holdout_from, end, max_frequency),
        cumulative=_cumulative(daily, summary, purchases, holdout_from, end, step_days),
        holdout_from=holdout_from,
        holdout_until=end,
    )


def _by_frequency(
    daily: pd.DataFrame,
    summary: CustomerSummary,
    purchases: PurchaseModel,
    start: date,
    end: date,
    max_frequency: int,
) -> pd.DataFrame:
    s = summary.table
    in_holdout = (daily["day"] >= pd.Timestamp(start)) & (daily["day"] <= pd.Timestamp(end))
    counts = daily.loc[in_holdout].groupby("customer_id").size()
    actual = counts.reindex(s["customer_id"], fill_value=0).to_numpy(dtype=np.float64)
    t = ((end - start).days + 1) / UNIT_DAYS[summary.unit]
    expected = purchases.expected_purchases(t, s["x"], s["t_x"], s["T"])
    bucket = np.minimum(s["x"].to_numpy(), max_frequency)
    frame = pd.DataFrame({"bucket": bucket, "actual": actual, "expected": expected})
    grouped = frame.groupby("bucket").agg(
        customers=("actual", "size"),
        actual_total=("actual", "sum"),
        expected_total=("expected", "sum"),
    )
    grouped = grouped.reindex(range(max_frequency + 1), fill_value=0)
    customers = grouped["customers"].to_numpy(dtype=np.float64)
    safe = np.maximum(customers, 1.0)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    return pd.DataFrame(
        {
            "frequency": labels,
            "customers": grouped["customers"].to_numpy(dtype=np.int64),
            "actual": grouped["actual_total"].to_numpy(dtype=np.float64) / safe,
            "expected": grouped["expected_total"].to_numpy(dtype=np.float64) / safe,
            "actual_total": grouped["actual_total"].to_numpy(dtype=np.float64),
            "expected_total": grouped["expected_total"].to_numpy(dtype=np.float64),
        }
    )


def _cumulative(
    daily: pd.DataFrame,
    summary: CustomerSummary,
    purchases: PurchaseModel,
    holdout_from: date,
    end: date,
    step_days: int,
) -> pd.DataFrame:
    cohort = summary.table["customer_id"]
    rows = daily[daily["customer_id"].isin(cohort) & (daily["day"] <= pd.Timestamp(end))]
    first = rows.groupby("customer_id")["day"].transform("min")
    repeat_days = rows.loc[rows["day"] > first, "day"]
    first_days = rows.groupby("customer_id")["day"].min()
    start = first_days.min()
    n_periods = int(np.ceil(((pd.Timestamp(end) - start).days + 1) / step_days))
    # period k covers days start + (k-1)·step .. start + k·step - 1 (the last one clipped to end)
    period_ends = np.array(
        [
            min(start + pd.Timedelta(days=k * step_days - 1), pd.Timestamp(end))
            for k in range(1, n_periods + 1)
        ],
        dtype="datetime64[ns]",
    )
    repeat_sorted = np.sort(repeat_days.to_numpy(dtype="datetime64[ns]"))
    actual = np.searchsorted(repeat_sorted, period_ends, side="right").astype(np.float64)
    # expected: Σ over distinct first days of (customers that day) · E[X(period end - first day)]
    firsts, n_first = np.unique(first_days.to_numpy(dtype="datetime64[ns]"), return_counts=True)
    unit_days = UNIT_DAYS[summary.unit]
    elapsed = (period_ends[:, None] - firsts[None, :]) / np.timedelta64(1, "D")
    elapsed = np.clip(elapsed, 0.0, None) / unit_days
    shape = elapsed.shape
    ex = purchases.expected_purchases_new(elapsed.reshape(-1)).reshape(shape)
    expected = ex @ n_first.astype(np.float64)
    return pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "end": pd.to_datetime(period_ends).date,
            "actual": actual,
            "expected": expected,
            "holdout": period_ends >= np.datetime64(pd.Timestamp(holdout_from)),
        }
    )


def plot_holdout_validation(validation: HoldoutValidation, path: str | Path) -> Path:
    """Write the two validation charts (cumulative by period; by calibration frequency) as PNG.

    Returns the path written. Uses matplotlib's object API, not pyplot (no global state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(path)
    fig = Figure(figsize=(12, 4.5))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    cum = validation.cumulative
    left.plot(cum["period"], cum["actual"], "-", color="black", label="actual")
    left.plot(cum["period"], cum["expected"], "--", color="tab:red", label=validation.model.name)
    holdout = cum.loc[cum["holdout"], "period"]
    if len(holdout):
        left.axvline(float(holdout.iloc[0]) - 0.5, color="grey", linestyle=":")
    left.set_xlabel("period")
    left.set_ylabel("cumulative repeat transactions")
    left.set_title("Cumulative repeat transactions")
    left.legend()
    freq = validation.by_frequency
    positions = np.arange(len(freq))
    right.plot(positions, freq["actual"], "-o", color="black", label="actual")
    right.plot(positions, freq["expected"], "--o", color="tab:red", label=validation.model.name)
    right.set_xticks(positions, list(freq["frequency"]))
    right.set_xlabel("repeat transactions in the calibration period")
    right.set_ylabel("mean transactions in the holdout period")
    right.set_title(
        f"Holdout {validation.holdout_from.isoformat()} .. {validation.holdout_until.isoformat()}"
    )
    right.legend()
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=100)
    return out
