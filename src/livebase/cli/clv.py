"""``livebase clv fit | validate | show``: customer value from the store's paid orders.

The calibration end defaults to the day of the store's latest paid order (never the wall
clock); the wall clock only stamps when a fit was saved.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

from livebase.cli._common import OutputFormat, console, err_console, print_json, workspace
from livebase.errors import ModelError

if TYPE_CHECKING:
    import pandas as pd

    from livebase.models import (
        ClvFit,
        CustomerSummary,
        PurchaseModelName,
        Unit,
    )
    from livebase.models.store_io import (
        StoredFit,
    )
    from livebase.store import Store
    from livebase.workspace import Workspace

until_help = "Calibration end, inclusive (default: the day of the latest paid order)."
unit_opt = typer.Option("--unit", help="Time unit of the model: days or weeks.")
model_opt = typer.Option("--model", help="Purchase model: bgnbd or mbgnbd.")
currency_opt = typer.Option(
    "--currency", help="Use the orders in this currency (needed when there are several)."
)
free_opt = typer.Option(
    "--skip-free-orders",
    help="Count only orders with a positive paid amount, as the segment features do "
    "(by default a paid order worth 0 is a purchase of value 0, as in the literature).",
)
fmt_opt = typer.Option("--format", "-f", help="table or json")

__all__ = ["register"]

DEFAULT_HORIZONS = (90, 365)
CHART_FILE = "clv_validation.png"
_MODEL_LABELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "gamma_gamma": "Gamma-Gamma"}
_DATE_FORMATS = ["%Y-%m-%d"]


def _open_for_reading(ws: Workspace) -> Store:
    return ws.open_store(read_only=ws.store_path.exists())


def _calibration_end(store: Store, until: datetime | None, free_orders: bool) -> date:
    """``--until``, or the day of the latest paid order; ModelError in a store without any."""
    from livebase.models.store_io import last_paid_date

    if until is not None:
        return until.date()
    last = last_paid_date(store, count_free_orders=free_orders)
    if last is None:
        raise ModelError(
            "the store has no paid orders to learn customer value from: load your orders "
            "first with 'livebase ingest orders FILE'"
        )
    return last


def _transactions(
    store: Store, until: date | None, currency: str | None, free_orders: bool
) -> pd.DataFrame:
    from livebase.models.store_io import read_transactions

    transactions = read_transactions(
        store, until=until, currency=currency, count_free_orders=free_orders
    )
    if transactions.empty:
        when = f" on or before {until.isoformat()}" if until is not None else ""
        raise ModelError(
            f"no paid orders{when}: load your orders with 'livebase ingest orders FILE'"
            + (" or choose a later --until" if until is not None else "")
        )
    return transactions


def _require_repeat_buyers(summary: CustomerSummary) -> None:
    if int(summary.table["x"].sum()) == 0:
        raise ModelError(
            f"nobody among the {summary.customers:,} customers bought again on a later day up "
            f"to {summary.until.isoformat()}: customer value models learn from repeat "
            "purchases; load a longer order history (or, for a backtest, choose a later --until)"
        )


def _fit(summary: CustomerSummary, model: PurchaseModelName) -> tuple[ClvFit, list[str]]:
    """Fit, returning the fit's fallback warnings and the Gamma-Gamma correlation warning as
    messages (each once)."""
    from livebase.models import FrequencyValueCorrelationWarning, fit_clv

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FrequencyValueCorrelationWarning)
        fit = fit_clv(summary, model=model)
    messages = [w.message for w in fit.warnings]
    for w in caught:
        if issubclass(w.category, FrequencyValueCorrelationWarning):
            if str(w.message) not in messages:  # a constrained refit warns again
                messages.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return fit, messages


def _num(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def _money(value: float) -> str:
    return f"{value:,.2f}".replace(",", " ")


def _print_models(fit: ClvFit) -> None:
    bg = fit.purchases
    params = "  ".join(f"{k} = {_num(v)}" for k, v in bg.params.items())
    until = bg.until.isoformat() if bg.until else "—"
    console.print(
        f"[bold]{_MODEL_LABELS[bg.name]}[/] on {bg.customers:,} customers, as of {until} "
        f"(time in {bg.unit}): {params}; log-likelihood {bg.log_likelihood:.1f}",
        highlight=False,
    )
    gg = fit.spend
    params = "  ".join(f"{k} = {_num(v)}" for k, v in gg.params.items())
    console.print(
        f"[bold]Gamma-Gamma[/] on {gg.customers:,} repeat buyers: {params}; log-likelihood "
        f"{gg.log_likelihood:.1f}; frequency-value correlation r = {gg.correlation:.3f}",
        highlight=False,
    )


def _top_table(best: pd.DataFrame, horizons: tuple[int, ...]) -> Table:
    table = Table(title=f"Top {len(best)} customers by CLV over {max(horizons)} days")
    table.add_column("customer", no_wrap=True)
    table.add_column("P(alive)", justify="right", no_wrap=True)
    table.add_column("AOV", justify="right", no_wrap=True)
    for h in horizons:
        table.add_column(f"purchases\n{h}d", justify="right", no_wrap=True)
        table.add_column(f"CLV {h}d", justify="right", no_wrap=True)
    for r in _records(best):
        cells = [str(r["customer_id"]), f"{r['p_alive']:.2f}", _money(r["expected_aov"])]
        for h in horizons:
            cells += [f"{r[f'expected_purchases_{h}d']:.2f}", _money(r[f"clv_{h}d"])]
        table.add_row(*cells)
    return table


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        out.append({str(k): (v.item() if hasattr(v, "item") else v) for k, v in record.items()})
    return out


def _stored_dict(stored: StoredFit) -> dict[str, Any]:
    return {
        "fit_id": stored.fit_id,
        **stored.fit.to_dict(),
        "fitted_at": stored.fitted_at,
        "horizons_days": list(stored.horizons_days),
        "monthly_discount_rate": stored.monthly_discount_rate,
        "margin": stored.margin,
        "predicted_customers": stored.predicted_customers,
    }


def register(app: typer.Typer) -> None:
    """Add the ``clv`` sub-command group to ``app``."""
    clv_app = typer.Typer(
        help="Customer value: BG/NBD and Gamma-Gamma, P(alive), expected purchases and CLV.",
        no_args_is_help=True,
    )
    app.add_typer(clv_app, name="clv")

    @clv_app.command("fit")
    def fit_command(
        until: Annotated[
            datetime | None, typer.Option("--until", formats=_DATE_FORMATS, help=until_help)
        ] = None,
        unit: Annotated[Literal["days", "weeks"], unit_opt] = "weeks",
        model: Annotated[Literal["bgnbd", "mbgnbd"], model_opt] = "bgnbd",
        horizon: Annotated[
            list[int] | None,
            typer.Option("--horizon", help="Prediction horizon in days (repeat; default 90, 365)."),
        ] = None,
        discount_rate: Annotated[
            float, typer.Option("--discount-rate", help="Monthly discount rate (0.01 = 1 %).")
        ] = 0.01,
        margin: Annotated[
            float, typer.Option("--margin", help="Share of revenue that is profit, in (0, 1].")
        ] = 1.0,
        currency: Annotated[str | None, currency_opt] = None,
        skip_free_orders: Annotated[bool, free_opt] = False,
        top: Annotated[int, typer.Option("--top", help="How many top customers to list.")] = 10,
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """Learn how the base buys and store P(alive), expected purchases and CLV per customer.

        Example: livebase clv fit --until 1997-09-30 --unit weeks --format json
        """
        from livebase.models import predict_clv, summarise
        from livebase.models.store_io import save_fit

        horizons = tuple(horizon) if horizon else DEFAULT_HORIZONS
        ws = workspace()
        with _open_for_reading(ws) as store:
            end = _calibration_end(store, until, not skip_free_orders)
            transactions = _transactions(store, end, currency, not skip_free_orders)
        time_unit: Unit = unit
        summary = summarise(
            transactions, end, unit=time_unit, date_col="paid_at", amount_col="paid_amount"
        )
        _require_repeat_buyers(summary)
        fit, notes = _fit(summary, model)
        predictions = predict_clv(
            summary,
            fit.purchases,
            fit.spend,
            horizons_days=horizons,
            monthly_discount_rate=discount_rate,
            margin=margin,
        )
        with ws.open_store() as store:
            fit_id = save_fit(
                store,
                fit,
                predictions,
                fitted_at=datetime.now(),
                monthly_discount_rate=discount_rate,
                margin=margin,
            )
        key = f"clv_{max(horizons)}d"
        best = predictions.sort_values([key, "customer_id"], ascending=[False, True]).head(top)
        if format == "json":
            print_json(
                {
                    **fit.to_dict(),
                    "fit_id": fit_id,
                    "horizons_days": list(horizons),
                    "monthly_discount_rate": discount_rate,
                    "margin": margin,
                    "predicted_customers": len(predictions),
                    "total_clv": {
                        f"clv_{h}d": float(predictions[f"clv_{h}d"].sum()) for h in horizons
                    },
                    "warnings": notes,
                    "top_customers": _records(best),
                }
            )
            for note in notes:
                err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
            return
        _print_models(fit)
        for note in notes:
            console.print(f"[yellow]warning:[/] {note}", highlight=False)
        totals = ", ".join(
            f"{_money(float(predictions[f'clv_{h}d'].sum()))} over {h} days" for h in horizons
        )
        console.print(
            f"Stored as {fit_id}: predictions for {len(predictions):,} customers (monthly "
            f"discount {discount_rate:.2%}, margin {margin:.0%}); total CLV {totals}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(_top_table(best, horizons))
        console.print(
            "Next: check the model on a holdout with 'livebase clv validate --holdout-from "
            "DATE'; 'livebase clv show --customer ID' shows one customer's predictions."
        )

    @clv_app.command("validate")
    def validate_command(
        holdout_from: Annotated[
            datetime,
            typer.Option(
                "--holdout-from",
                formats=_DATE_FORMATS,
                help="First day of the holdout period; the model is fitted on the days before.",
            ),
        ],
        until: Annotated[
            datetime | None,
            typer.Option(
                "--until",
                formats=_DATE_FORMATS,
                help="Last day of the holdout period (default: the latest paid order).",
            ),
        ] = None,
        unit: Annotated[Literal["days", "weeks"], unit_opt] = "weeks",
        model: Annotated[Literal["bgnbd", "mbgnbd"], model_opt] = "bgnbd",
        chart: Annotated[
            Path | None,
            typer.Option("--chart", help=f"PNG to write (default: {CHART_FILE} in the workspace)."),
        ] = None,
        currency: Annotated[str | None, currency_opt] = None,
        skip_free_orders: Annotated[bool, free_opt] = False,
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """Fit on the days before --holdout-from and compare expected with actual purchases.

        Example: livebase clv validate --holdout-from 1997-10-01
        """
        from livebase.models import plot_holdout_validation, validate_holdout

        ws = workspace()
        with _open_for_reading(ws) as store:
            end = _calibration_end(store, until, not skip_free_orders)
            transactions = _transactions(store, end, currency, not skip_free_orders)
        start = holdout_from.date()
        time_unit: Unit = unit
        validation = validate_holdout(
            transactions,
            holdout_from=start,
            holdout_until=end,
            unit=time_unit,
            model=model,
            date_col="paid_at",
            amount_col="paid_amount",
        )
        path = chart if chart is not None else ws.root / CHART_FILE
        written = plot_holdout_validation(validation, path)
        by_freq, cum = validation.by_frequency, validation.cumulative
        purchases = validation.model
        if format == "json":
            print_json(
                {
                    purchases.name: {
                        **purchases.params,
                        "log_likelihood": purchases.log_likelihood,
                    },
                    "customers": purchases.customers,
                    "calibration_until": validation.calibration_until,
                    "holdout_from": validation.holdout_from,
                    "holdout_until": validation.holdout_until,
                    "unit": purchases.unit,
                    "by_frequency": _records(by_freq),
                    "cumulative": _records(cum),
                    "chart": str(written),
                    "warnings": [w.message for w in validation.warnings],
                }
            )
            return
        params = "  ".join(f"{k} = {_num(v)}" for k, v in purchases.params.items())
        console.print(
            f"[bold]{_MODEL_LABELS[purchases.name]}[/] fitted on {purchases.customers:,} "
            f"customers up to {validation.calibration_until.isoformat()}: {params}; "
            f"log-likelihood {purchases.log_likelihood:.1f}",
            highlight=False,
        )
        for w in validation.warnings:
            console.print(f"[yellow]warning:[/] {w.message}", highlight=False)
        console.print(
            f"Holdout {validation.holdout_from.isoformat()} .. "
            f"{validation.holdout_until.isoformat()}: actual {by_freq['actual_total'].sum():,.0f}"
            f" repeat transactions, expected {by_freq['expected_total'].sum():,.1f}",
            highlight=False,
        )
        table = Table(title="Holdout transactions per customer, by calibration repeat purchases")
        for col in ("repeat purchases", "customers", "actual", "expected", "actual total"):
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("expected total", justify="right", no_wrap=True)
        for row in by_freq.itertuples(index=False):
            table.add_row(
                str(row.frequency),
                f"{row.customers:,}",
                f"{row.actual:.3f}",
                f"{row.expected:.3f}",
                f"{row.actual_total:,.0f}",
                f"{row.expected_total:,.1f}",
            )
        console.print(table)
        table = Table(title="Cumulative repeat transactions, week by week")
        for col in ("week", "to", "actual", "expected", "period"):
            table.add_column(col, justify="left" if col in {"to", "period"} else "right")
        for row in cum.itertuples(index=False):
            table.add_row(
                str(row.period),
                str(row.end),
                f"{row.actual:,.0f}",
                f"{row.expected:,.1f}",
                "holdout" if row.holdout else "calibration",
            )
        console.print(table)
        console.print(f"Chart written to {written}", highlight=False, soft_wrap=True)

    @clv_app.command("show")
    def show_command(
        customer: Annotated[
            str | None, typer.Option("--customer", help="Show this customer's predictions.")
        ] = None,
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """The stored model the features use, and one customer's predictions.

        Example: livebase clv show --customer 00042
        """
        from livebase.models.store_io import load_fit, load_predictions, stored_fits

        ws = workspace()
        with _open_for_reading(ws) as store:
            stored = load_fit(store)
            fits = stored_fits(store)
            row = None if customer is None else load_predictions(store, customer_id=customer)
        if row is not None and row.empty:
            raise ModelError(
                f"customer {customer!r} has no prediction in {stored.fit_id} (as of "
                f"{stored.as_of.isoformat()}): the id is unknown, or their first paid order is "
                "later; refit with 'livebase clv fit' to include them"
            )
        if format == "json":
            out = _stored_dict(stored)
            if row is not None:
                out["customer"] = _records(row)[0]
            print_json(out)
            return
        console.print(
            f"Fit [bold]{stored.fit_id}[/] as of {stored.as_of.isoformat()}, saved "
            f"{stored.fitted_at:%Y-%m-%d %H:%M}; predictions for "
            f"{stored.predicted_customers:,} customers over "
            f"{', '.join(f'{h}' for h in stored.horizons_days)} days (monthly discount "
            f"{stored.monthly_discount_rate:.2%}, margin {stored.margin:.0%})",
            highlight=False,
        )
        _print_models(stored.fit)
        for w in stored.fit.warnings:
            console.print(f"[yellow]warning:[/] {w.message}", highlight=False)
        if len(fits) > 1:
            console.print(
                f"{len(fits)} fits stored; the features use the latest calibration end "
                "(the latest fit per as_of wins).",
                highlight=False,
            )
        if row is not None:
            r = _records(row)[0]
            table = Table(title=f"Customer {customer}")
            table.add_column("prediction")
            table.add_column("value", justify="right", no_wrap=True)
            table.add_row("P(alive)", f"{r['p_alive']:.3f}")
            table.add_row("expected order value", _money(r["expected_aov"]))
            for h in stored.horizons_days:
                table.add_row(
                    f"expected purchases, {h} days", f"{r[f'expected_purchases_{h}d']:.3f}"
                )
                table.add_row(f"CLV, {h} days", _money(r[f"clv_{h}d"]))
            console.print(table)
