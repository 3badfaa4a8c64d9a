"""CLV models and predictions in the store: read transactions, save a fit, load it back.

What counts as a transaction: a paid order, on the day of ``paid_at``, on or before the
calibration end (strictly before the midnight after it), worth its ``paid_amount``. Pending,
cancelled and refunded orders have ``paid_amount = 0`` and never count.

A *free* order (status ``paid`` with a zero amount: a gift, a 100 % promo code) counts by default,
as in ``livebase.models.summary`` and the BG/NBD literature: it is a transaction of value 0, so
its day counts in ``x`` (the customer came back) and is left out of the monetary mean (it says
nothing about spend per order). The published CDNOW estimates need this: 8 of the sample's 6,919
orders are worth 0, and 8 customers bought nothing else (2,357 customers, not 2,349). With
``count_free_orders=False`` only orders with ``paid_amount > 0`` count, the purchases the
segmentation features count (``livebase.features``: recency, frequency, monetary).

Versioning: every fit is kept in ``clv_models`` (two rows, the purchase and the spend model,
sharing a ``fit_id``), so the history of parameters stays auditable. Predictions are kept for
one fit per calibration end: **the latest fit per as_of wins** — saving a fit deletes the
predictions of earlier fits with the same ``as_of`` in the same transaction, and keeps those of
other dates (a backtest as of an earlier date does not overwrite today's predictions). The fit
the features use as of a date D is the one with the latest ``as_of`` on or before D (any date
when D is not given), the most recently saved for that ``as_of``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from livebase.errors import ModelError
from livebase.models.clv import ClvFit
from livebase.store import Store

__all__ = [
    "TRANSACTION_COLUMNS",
    "StoredFit",
    "last_paid_date",
    "latest_fit_id",
    "load_fit",
    "load_predictions",
    "predictions_sql",
    "read_transactions",
    "save_fit",
    "stored_fits",
]

#: The columns of ``read_transactions``; pass ``date_col="paid_at", amount_col="paid_amount"``
#: to ``summarise`` and ``validate_holdout``.
TRANSACTION_COLUMNS = ("customer_id", "paid_at", "paid_amount")

_HORIZON_COLUMN = re.compile(r"^clv_(\d+)d$")

_COUNTED = "paid_at IS NOT NULL AND paid_amount > 0"
_COUNTED_WITH_FREE = (
    "paid_at IS NOT NULL AND (paid_amount > 0 OR (paid_amount = 0 AND status = 'paid'))"
)

_NO_FIT = "no CLV model in the store: fit one with 'livebase clv fit'"


def _counted(count_free_orders: bool) -> str:
    return _COUNTED_WITH_FREE if count_free_orders else _COUNTED


def _end(until: date) -> datetime:
    """The midnight after ``until``: a timestamp is on or before ``until`` when it is below."""
    return datetime.combine(until + timedelta(days=1), datetime.min.time())


def last_paid_date(store: Store, *, count_free_orders: bool = True) -> date | None:
    """The day of the latest counted order, or None when the store has none.

    >>> last_paid_date(Store.in_memory()) is None
    True
    """
    value = store.fetch_value(
        f"SELECT max(paid_at) FROM orders WHERE {_counted(count_free_orders)}"
    )
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def read_transactions(
    store: Store,
    *,
    until: date | None = None,
    currency: str | None = None,
    count_free_orders: bool = True,
) -> pd.DataFrame:
    """The transactions CLV learns from: ``customer_id``, ``paid_at``, ``paid_amount`` (float).

    Orders paid on or before ``until`` (all of them when None), in ``currency`` when given.
    Order values are summed, so a store holding counted orders in several currencies needs a
    ``currency``: ModelError otherwise, naming them. See the module docstring for what counts.

    >>> store = Store.in_memory()
    >>> _ = store.con.execute(
    ...     "INSERT INTO orders (order_id, customer_id, paid_at, amount, paid_amount, currency, "
    ...     "status, first_load, last_load) VALUES "
    ...     "('1', 'a', '2024-01-01 10:00', 10, 10, 'USD', 'paid', 1, 1), "
    ...     "('2', 'a', '2024-01-05 23:59', 0, 0, 'USD', 'paid', 1, 1), "
    ...     "('3', 'a', '2024-01-06', 7, 0, 'USD', 'refunded', 1, 1)")
    >>> read_transactions(store, until=date(2024, 1, 5))["paid_amount"].tolist()
    [10.0, 0.0]
    >>> len(read_transactions(store, until=date(2024, 1, 5), count_free_orders=False))
    1
    """
    counted = _counted(count_free_orders)
    where = [counted]
    params: list[Any] = []
    if until is not None:
        where.append("paid_at < ?")
        params.append(_end(until))
    if currency is not None:
        where.append("currency = ?")
        params.append(currency)
    condition = " AND ".join(where)
    if currency is None:
        currencies = [
            row[0]
            for row in store.con.execute(
                f"SELECT DISTINCT currency FROM orders WHERE {condition} ORDER BY 1", params
            ).fetchall()
        ]
        if len(currencies) > 1:
            shown = ", ".join("no currency" if c is None else str(c) for c in currencies)
            raise ModelError(
                f"the paid orders are in several currencies ({shown}): customer value adds "
                "order values up, so choose one currency (--currency)"
            )
    sql = f"""
-- CLV transactions: counted orders (see livebase.models.store_io), one row per order.
SELECT customer_id,
       paid_at,
       CAST(paid_amount AS DOUBLE) AS paid_amount
FROM orders
WHERE {condition}
ORDER BY customer_id, paid_at"""
    frame = store.con.execute(sql, params).df()
    return pd.DataFrame(frame[list(TRANSACTION_COLUMNS)])


def _horizons(predictions: pd.DataFrame) -> tuple[int, ...]:
    horizons = tuple(
        int(m.group(1)) for c in predictions.columns if (m := _HORIZON_COLUMN.match(str(c)))
    )
    wanted = ["customer_id", "p_alive", "expected_aov"]
    wanted += [f"expected_purchases_{h}d" for h in horizons]
    missing = [c for c in wanted if c not in predictions.columns]
    if not horizons or missing:
        raise ModelError(
            "the predictions table must be the output of predict_clv (customer_id, p_alive, "
            "expected_aov, expected_purchases_<h>d and clv_<h>d per horizon); missing: "
            + (", ".join(missing) or "clv_<h>d columns")
        )
    return horizons


def _next_model_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT nextval('clv_model_id')").fetchone()
    assert row is not None  # a sequence always yields a value
    return int(row[0])


def save_fit(
    store: Store,
    fit: ClvFit,
    predictions: pd.DataFrame,
    *,
    fitted_at: datetime,
    monthly_discount_rate: float,
    margin: float,
) -> str:
    """Store a fit (both models) and its per-customer predictions in one transaction.

    ``predictions`` is the output of ``predict_clv`` for the same fit; ``fitted_at`` is the
    wall-clock time of the run (the caller's clock). Earlier predictions with the same ``as_of``
    are replaced (the latest fit per as_of wins); earlier models stay. Returns the new fit id.
    The fit's warnings (``ClvFit.warnings``) are kept in the saved JSON of the model they
    concern, under ``fit_warnings``; ``load_fit`` gives them back.

    >>> from livebase.models import BGNBD, GammaGamma
    >>> bg = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4,
    ...            customers=1, until=date(1997, 9, 30))
    >>> gg = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=-4055.9, customers=946)
    >>> preds = pd.DataFrame({"customer_id": ["a"], "p_alive": [0.7], "expected_aov": [24.7],
    ...     "expected_purchases_90d": [0.4], "clv_90d": [9.8]})
    >>> store = Store.in_memory()
    >>> save_fit(store, ClvFit(bg, gg), preds, fitted_at=datetime(2026, 1, 1),
    ...          monthly_discount_rate=0.01, margin=1.0)
    'fit-1'
    >>> load_predictions(store).round(2).values.tolist()
    [['a', 0.7, 24.7, 0.4, 9.8]]
    """
    as_of = fit.as_of
    if as_of is None:
        raise ModelError(
            "a fit can only be stored with its calibration end (as_of): fit it on a "
            "summary made with summarise(..., until=DATE)"
        )
    horizons = _horizons(predictions)
    if predictions.empty:
        raise ModelError("no predictions to store: the fit predicts for nobody")
    if predictions["customer_id"].duplicated().any():
        raise ModelError("the predictions hold a customer more than once")
    numeric = predictions.drop(columns="customer_id").to_numpy(dtype="float64")
    if not pd.notna(numeric).all():
        raise ModelError("the predictions hold missing values: nothing was stored")
    frame = pd.DataFrame(predictions).assign(customer_id=predictions["customer_id"].astype(str))
    view = "lb_clv_predictions"
    with store.transaction() as con:
        fit_id = ""
        # each model row keeps the warnings about it (livebase.models.fallback)
        warnings = {
            part: [w.to_dict() for w in fit.warnings if w.part == part]
            for part in ("purchases", "spend")
        }
        for part, model in (("purchases", fit.purchases), ("spend", fit.spend)):
            model_id = _next_model_id(con)
            fit_id = fit_id or f"fit-{model_id}"
            con.execute(
                """INSERT INTO clv_models (model_id, fit_id, model, version, params,
                       log_likelihood, unit, as_of, customers, saved, fitted_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    model_id,
                    fit_id,
                    model.name,
                    model.version,
                    json.dumps(model.params),
                    model.log_likelihood,
                    model.unit,
                    as_of,
                    model.customers,
                    json.dumps({**model.to_dict(), "fit_warnings": warnings[part]}),
                    fitted_at,
                ],
            )
        con.register(view, frame)
        try:
            for h in horizons:
                con.execute(
                    f"""INSERT INTO clv_predictions (fit_id, customer_id, horizon_days, as_of,
                            p_alive, expected_aov, expected_purchases, clv,
                            monthly_discount_rate, margin)
                        SELECT ?, customer_id, ?, ?, p_alive, expected_aov,
                               "expected_purchases_{h}d", "clv_{h}d", ?, ?
                        FROM {view}""",
                    [fit_id, h, as_of, monthly_discount_rate, margin],
                )
        finally:
            con.unregister(view)
        # the latest fit per as_of wins: earlier predictions for the same date go
        con.execute("DELETE FROM clv_predictions WHERE as_of = ? AND fit_id <> ?", [as_of, fit_id])
    return fit_id


@dataclass(frozen=True)
class StoredFit:
    """A fit read back from the store, with the settings its predictions were made with.

    ``predicted_customers`` is the number of customers with a stored prediction.
    """

    fit_id: str
    fit: ClvFit
    as_of: date
    fitted_at: datetime
    horizons_days: tuple[int, ...]
    monthly_discount_rate: float
    margin: float
    predicted_customers: int


def _has_clv_tables(store: Store) -> bool:
    found = store.fetch_value(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name IN ('clv_models', 'clv_predictions')"
    )
    return int(found) == 2


def latest_fit_id(store: Store, *, as_of: date | None = None) -> str | None:
    """The id of the fit whose predictions hold as of ``as_of`` (None when there is none).

    That is the fit with the latest calibration end on or before ``as_of`` (any when None),
    the most recently saved one for that date; only fits with stored predictions qualify.

    >>> latest_fit_id(Store.in_memory()) is None
    True
    """
    if not _has_clv_tables(store):
        return None
    params: list[Any] = []
    on_or_before = ""
    if as_of is not None:
        on_or_before = "AND m.as_of <= ?"
        params.append(as_of)
    value = store.fetch_value(
        f"""
-- The fit the features use: latest calibration end (on or before as_of), then latest saved.
SELECT m.fit_id
FROM clv_models m
WHERE m.model IN ('bgnbd', 'mbgnbd') {on_or_before}
  AND EXISTS (SELECT 1 FROM clv_predictions p WHERE p.fit_id = m.fit_id)
ORDER BY m.as_of DESC, m.model_id DESC
LIMIT 1""",
        params,
    )
    return None if value is None else str(value)


def load_fit(store: Store, *, as_of: date | None = None, fit_id: str | None = None) -> StoredFit:
    """The fit ``fit_id``, or the one ``latest_fit_id(store, as_of=as_of)`` names.

    ModelError when the store holds no such fit, saying how to make one.
    """
    chosen = fit_id if fit_id is not None else latest_fit_id(store, as_of=as_of)
    if chosen is None or not _has_clv_tables(store):
        when = f" as of {as_of.isoformat()} or earlier" if as_of is not None else ""
        raise ModelError(f"no CLV model in the store{when}: fit one with 'livebase clv fit'")
    rows = store.con.execute(
        "SELECT model, CAST(saved AS VARCHAR), as_of, fitted_at FROM clv_models "
        "WHERE fit_id = ? ORDER BY model_id",
        [chosen],
    ).fetchall()
    if not rows:
        known = [
            str(r[0])
            for r in store.con.execute(
                "SELECT DISTINCT fit_id FROM clv_models ORDER BY 1"
            ).fetchall()
        ]
        raise ModelError(f"no stored CLV fit {chosen!r}; stored fits: {', '.join(known) or 'none'}")
    saved = {str(r[0]): json.loads(r[1]) for r in rows}
    purchase = next((saved[m] for m in ("bgnbd", "mbgnbd") if m in saved), None)
    if purchase is None or "gamma_gamma" not in saved:
        raise ModelError(
            f"the stored fit {chosen!r} is incomplete: fit again with 'livebase clv fit'"
        )
    spend = saved["gamma_gamma"]
    fit = ClvFit.from_dict(
        {
            "models": {"purchases": purchase, "spend": spend},
            "fit_warnings": [*purchase.get("fit_warnings", []), *spend.get("fit_warnings", [])],
        }
    )
    settings = store.con.execute(
        """SELECT horizon_days, max(monthly_discount_rate), max(margin), count(*)
           FROM clv_predictions WHERE fit_id = ? GROUP BY horizon_days ORDER BY horizon_days""",
        [chosen],
    ).fetchall()
    return StoredFit(
        fit_id=chosen,
        fit=fit,
        as_of=rows[0][2],
        fitted_at=rows[0][3],
        horizons_days=tuple(int(r[0]) for r in settings),
        monthly_discount_rate=float(settings[0][1]) if settings else 0.0,
        margin=float(settings[0][2]) if settings else 1.0,
        predicted_customers=int(settings[0][3]) if settings else 0,
    )


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def predictions_sql(fit_id: str, horizons_days: Sequence[int]) -> str:
    """The SELECT turning a fit's long predictions into one row per customer (features).

    Columns: ``customer_id``, ``p_alive``, ``expected_aov``, then per horizon h
    ``expected_purchases_<h>d`` and ``clv_<h>d``; standard SQL, to use as a CTE and join.

    >>> print(predictions_sql("fit-1", [90]))
    -- CLV predictions of fit-1, one row per customer (livebase.models.store_io)
    SELECT
        customer_id,
        MAX(p_alive) AS p_alive,
        MAX(expected_aov) AS expected_aov,
        MAX(CASE WHEN horizon_days = 90 THEN expected_purchases END) AS expected_purchases_90d,
        MAX(CASE WHEN horizon_days = 90 THEN clv END) AS clv_90d
    FROM clv_predictions
    WHERE fit_id = 'fit-1'
    GROUP BY customer_id
    """
    if not horizons_days:
        raise ModelError("predictions need at least one horizon, e.g. 90")
    columns = ["customer_id", "MAX(p_alive) AS p_alive", "MAX(expected_aov) AS expected_aov"]
    for h in horizons_days:
        days = int(h)
        columns.append(
            f"MAX(CASE WHEN horizon_days = {days} THEN expected_purchases END) "
            f"AS expected_purchases_{days}d"
        )
        columns.append(f"MAX(CASE WHEN horizon_days = {days} THEN clv END) AS clv_{days}d")
    select = ",\n    ".join(columns)
    return (
        f"-- CLV predictions of {fit_id}, one row per customer (livebase.models.store_io)\n"
        f"SELECT\n    {select}\n"
        f"FROM clv_predictions\n"
        f"WHERE fit_id = {_sql_string(fit_id)}\n"
        f"GROUP BY customer_id"
    )


def load_predictions(
    store: Store,
    *,
    as_of: date | None = None,
    fit_id: str | None = None,
    customer_id: str | None = None,
) -> pd.DataFrame:
    """The predictions of the fit that holds as of ``as_of`` (or of ``fit_id``), one row per
    customer sorted by id, with the columns of ``predictions_sql`` (those of ``predict_clv``).

    ``customer_id`` keeps one customer's row (an empty table when they have no prediction).
    ModelError when the store has no fit.
    """
    chosen = fit_id if fit_id is not None else latest_fit_id(store, as_of=as_of)
    if chosen is None:
        when = f" as of {as_of.isoformat()} or earlier" if as_of is not None else ""
        raise ModelError(f"no CLV model in the store{when}: fit one with 'livebase clv fit'")
    horizons = [
        int(r[0])
        for r in store.con.execute(
            "SELECT DISTINCT horizon_days FROM clv_predictions WHERE fit_id = ? ORDER BY 1",
            [chosen],
        ).fetchall()
    ]
    if not horizons:
        raise ModelError(f"the fit {chosen!r} has no stored predictions: fit again")
    sql = predictions_sql(chosen, horizons)
    params: list[Any] = []
    if customer_id is not None:
        sql = f"SELECT * FROM (\n{sql}\n) WHERE customer_id = ?"
        params.append(customer_id)
    frame = store.con.execute(f"{sql}\nORDER BY customer_id", params).df()
    return pd.DataFrame(frame)


def stored_fits(store: Store) -> pd.DataFrame:
    """Every stored fit, newest first: ``fit_id``, ``model``, ``as_of``, ``fitted_at``,
    ``customers``, ``log_likelihood`` (of the purchase model) and ``predictions`` (customers
    with a stored prediction; 0 once a later fit for the same as_of replaced them).

    >>> len(stored_fits(Store.in_memory()))
    0
    """
    columns = [
        "fit_id",
        "model",
        "as_of",
        "fitted_at",
        "customers",
        "log_likelihood",
        "predictions",
    ]
    if not _has_clv_tables(store):
        return pd.DataFrame(columns=columns)
    frame = store.con.execute(
        """SELECT m.fit_id, m.model, m.as_of, m.fitted_at, m.customers, m.log_likelihood,
                  (SELECT count(DISTINCT p.customer_id) FROM clv_predictions p
                   WHERE p.fit_id = m.fit_id) AS predictions
           FROM clv_models m
           WHERE m.model IN ('bgnbd', 'mbgnbd')
           ORDER BY m.model_id DESC"""
    ).df()
    return pd.DataFrame(frame[columns])
