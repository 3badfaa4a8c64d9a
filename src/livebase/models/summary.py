"""Per-customer summary (x, t_x, T, monetary value) of a transactions table, as of a date.

The counting conventions of the BG/NBD literature (Fader, Hardie & Lee 2005, section 4):

- A *transaction* is a customer-day: all of a customer's orders on one calendar day count as one
  transaction whose value is the sum of their amounts. A day whose orders sum to zero (a free or
  fully discounted order) still counts as a transaction (the customer came back).
- ``x`` = repeat transactions = customer-days after the first one, up to ``until`` inclusive.
- ``t_x`` = time from the first to the last transaction day, ``T`` = time from the first
  transaction day to ``until``; both are whole days divided by the unit (1 for days, 7 for weeks).
  With ``until=1997-09-30`` a CDNOW customer who first bought on 1997-01-01 has T = 272/7 = 38.86
  weeks: the convention of the published CDNOW summary that reproduces the paper's estimates.
- ``monetary_value`` = mean value of the *repeat* transactions (the first one is left out, as in
  Fader & Hardie's note on the Gamma-Gamma model), over repeat days with a positive value only:
  a zero-value day says nothing about spend per order, so it is excluded from the mean (it still
  counts in ``x``). ``monetary_x`` is the number of days averaged; it is 0, and
  ``monetary_value`` is 0.0, for a customer with no positive repeat day. Gamma-Gamma is fitted
  on customers with ``monetary_x > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.errors import ModelError, did_you_mean
from livebase.models._base import UNIT_DAYS, Unit, check_unit

__all__ = ["SUMMARY_COLUMNS", "CustomerSummary", "daily_transactions", "summarise"]

SUMMARY_COLUMNS = ("customer_id", "x", "t_x", "T", "monetary_value", "monetary_x")


@dataclass(frozen=True)
class CustomerSummary:
    """The calibration summary: one row per customer with the columns ``SUMMARY_COLUMNS``.

    ``unit`` is the unit of ``t_x`` and ``T``; ``until`` the calibration end (inclusive).
    """

    table: pd.DataFrame
    unit: Unit
    until: date

    @property
    def customers(self) -> int:
        """Number of customers in the summary."""
        return len(self.table)


def _require_columns(frame: pd.DataFrame, wanted: dict[str, str]) -> None:
    for role, column in wanted.items():
        if column not in frame.columns:
            raise ModelError(
                f"the transactions table has no {role} column {column!r}"
                f"{did_you_mean(column, [str(c) for c in frame.columns])}; columns are "
                f"{', '.join(map(str, frame.columns))}"
            )


def _to_days(values: pd.Series, column: str) -> npt.NDArray[np.datetime64]:
    """Calendar days (datetime64 at midnight) of a date/timestamp/string column."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
    else:
        try:
            parsed = pd.to_datetime(values)
        except (ValueError, TypeError):
            try:
                parsed = pd.to_datetime(values, format="mixed")
            except (ValueError, TypeError) as exc:
                raise ModelError(
                    f"column {column!r} holds values that are not dates: {exc}"
                ) from exc
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return np.asarray(parsed.dt.normalize().to_numpy(dtype="datetime64[ns]"))


def daily_transactions(
    transactions: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """One row per customer-day: ``customer_id``, ``day`` (datetime64, midnight), ``amount`` (sum).

    Raises ModelError when a column is missing, a value is empty, or an amount is negative.

    >>> t = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...                   "date": ["2024-01-01 10:00", "2024-01-01 18:00", "2024-01-03"],
    ...                   "amount": [5.0, 7.0, 1.0]})
    >>> daily_transactions(t)[["customer_id", "amount"]].values.tolist()
    [['a', 12.0], ['a', 1.0]]
    """
    _require_columns(
        transactions, {"customer": customer_col, "date": date_col, "amount": amount_col}
    )
    frame = pd.DataFrame(
        {
            "customer_id": transactions[customer_col].to_numpy(),
            "day": _to_days(transactions[date_col], date_col),
            "amount": pd.to_numeric(transactions[amount_col]).to_numpy(dtype=np.float64),
        }
    )
    for column in ("customer_id", "day", "amount"):
        missing = int(frame[column].isna().sum())
        if missing:
            raise ModelError(
                f"{missing} transaction(s) have an empty {column}: drop or fill them first"
            )
    negative = int((frame["amount"] < 0).sum())
    if negative:
        raise ModelError(
            f"{negative} transaction(s) have a negative amount: pass paid orders only "
            "(refunds lower revenue, they are not purchases)"
        )
    daily = frame.groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    return pd.DataFrame(daily)


def summarise(
    transactions: pd.DataFrame,
    until: date,
    *,
    unit: Unit = "weeks",
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> CustomerSummary:
    """Summarise transactions on or before ``until`` into x, t_x, T and monetary value.

    Customers whose first transaction is after ``until`` are not in the summary.

    >>> t = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...                   "date": ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-08"],
    ...                   "amount": [10.0, 20.0, 0.0, 5.0]})
    >>> s = summarise(t, date(2024, 1, 29), unit="weeks")
    >>> s.table.to_dict("records")[0]
    {'customer_id': 1, 'x': 2, 't_x': 2.0, 'T': 4.0, 'monetary_value': 20.0, 'monetary_x': 1}
    """
    unit = check_unit(unit)
    daily = daily_transactions(
        transactions, customer_col=customer_col, date_col=date_col, amount_col=amount_col
    )
    daily = daily[daily["day"] <= pd.Timestamp(until)]
    if daily.empty:
        raise ModelError(
            f"no transactions on or before {until.isoformat()}: choose a later calibration end"
        )
    by_customer = daily.groupby("customer_id", sort=True)["day"]
    first = by_customer.transform("min")
    is_repeat = daily["day"] > first
    positive_repeat = is_repeat & (daily["amount"] > 0)
    agg = pd.DataFrame(
        {
            "customer_id": daily["customer_id"].to_numpy(),
            "first": first.to_numpy(),
            "day": daily["day"].to_numpy(),
            "repeat": is_repeat.to_numpy().astype(np.int64),
            "pos": positive_repeat.to_numpy().astype(np.int64),
            "pos_amount": np.where(positive_repeat, daily["amount"], 0.0),
        }
    )
    grouped = agg.groupby("customer_id", sort=True).agg(
        first=("first", "min"),
        last=("day", "max"),
        x=("repeat", "sum"),
        monetary_x=("pos", "sum"),
        pos_amount=("pos_amount", "sum"),
    )
    unit_days = UNIT_DAYS[unit]
    end = pd.Timestamp(until)
    monetary_x = grouped["monetary_x"].to_numpy(dtype=np.int64)
    pos_amount = grouped["pos_amount"].to_numpy(dtype=np.float64)
    monetary = np.divide(pos_amount, monetary_x, out=np.zeros(len(grouped)), where=monetary_x > 0)
    table = pd.DataFrame(
        {
            "customer_id": grouped.index.to_numpy(),
            "x": grouped["x"].to_numpy(dtype=np.int64),
            "t_x": (grouped["last"] - grouped["first"]).dt.days.to_numpy(dtype=np.float64)
            / unit_days,
            "T": (end - grouped["first"]).dt.days.to_numpy(dtype=np.float64) / unit_days,
            "monetary_value": monetary,
            "monetary_x": monetary_x,
        }
    )
    return CustomerSummary(table=table, unit=unit, until=until)
