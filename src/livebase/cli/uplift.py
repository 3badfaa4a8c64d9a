"""``livebase uplift fit | score``: whom does a campaign actually move?"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from livebase.cli._common import OutputFormat, console, err_console, print_json, workspace
from livebase.cli.experiment import chart_path
from livebase.errors import ModelError

if TYPE_CHECKING:
    from livebase.measure import (
        ArmEvaluation,
    )

fmt_opt = typer.Option("--format", "-f", help="table or json")

__all__ = ["register"]

LearnerOption = Literal["t_learner", "class_transformation"]
EstimatorOption = Literal["gradient_boosting", "logistic"]


def _f(value: float, digits: int = 4) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}f}"


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _render_evaluations(evaluations: tuple[ArmEvaluation, ...], outcome: str) -> None:
    table = Table(
        title=f"Held-out evaluation ({outcome}): ranking by predicted uplift vs random targeting",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for col in ("arm", "treated", "control", "Qini coef.", "AUUC", "AUUC random", "verdict"):
        table.add_column(col, justify="left" if col in {"arm", "verdict"} else "right")
    for ev in evaluations:
        s = ev.summary
        better = math.isfinite(s.qini_coefficient) and s.qini_coefficient > 0
        table.add_row(
            escape(ev.arm),
            f"{ev.n_treatment:,}",
            f"{ev.n_control:,}",
            _f(s.qini_coefficient),
            _f(s.auuc),
            _f(s.auuc_random),
            "[green]beats random[/]" if better else "[red]no better than random[/]",
        )
    console.print(table)
    for ev in evaluations:
        deciles = Table(
            title=f"{escape(ev.arm)}: uplift by decile of predicted uplift (1 = highest)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for col in ("decile", "treated", "control", "rate treated", "rate control",
                    "observed uplift", "predicted uplift"):  # fmt: skip
            deciles.add_column(col, justify="right")
        for row in ev.deciles.to_dict("records"):
            deciles.add_row(
                str(row["bin"]),
                f"{row['n_treatment']:,}",
                f"{row['n_control']:,}",
                _f(row["response_treatment"]),
                _f(row["response_control"]),
                _f(row["observed_uplift"]),
                _f(row["predicted_uplift"]),
            )
        console.print(deciles)


def register(app: typer.Typer) -> None:
    up_app = typer.Typer(
        help="Uplift models: who is persuadable, fitted and validated on an experiment.",
        no_args_is_help=True,
    )
    app.add_typer(up_app, name="uplift")

    @up_app.command("fit")
    def fit(
        experiment: Annotated[str, typer.Option("--experiment", help="An imported experiment.")],
        outcome: Annotated[str, typer.Option("--outcome", help="The outcome to model (visit).")],
        learner: Annotated[
            LearnerOption, typer.Option(help="t_learner (two models) or class_transformation.")
        ] = "t_learner",
        estimator: Annotated[
            EstimatorOption, typer.Option(help="gradient_boosting or logistic.")
        ] = "gradient_boosting",
        test_share: Annotated[
            float, typer.Option("--test-share", help="Share of customers held out to evaluate.")
        ] = 0.3,
        seed: Annotated[int, typer.Option(help="Seed of the split and the estimators.")] = 0,
        chart: Annotated[
            Path | None,
            typer.Option(
                "--chart", help="Qini curve PNG (default: <workspace>/<name>_<outcome>_qini.png)."
            ),
        ] = None,
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """Fit an uplift model on a training split, evaluate it on the held-out rest, store it.

        Example: livebase uplift fit --experiment hillstrom --outcome visit
        """
        from livebase.measure import evaluate_uplift, fit_uplift, qini_chart_png, split_train_test
        from livebase.measure.store_io import (
            get_experiment,
            load_units,
            save_uplift_model,
            uplift_features,
        )

        ws = workspace()
        with ws.open_store() as store:
            exp = get_experiment(store, experiment)
            units = load_units(store, experiment, outcomes=[outcome])
            spec, skipped = uplift_features(units, exp.covariates)
            if not spec.numeric and not spec.categorical:
                raise ModelError(
                    f"experiment '{experiment}' has no usable pre-treatment columns to learn from"
                    + (
                        f" ({', '.join(f'{c}: {why}' for c, why in skipped.items())})"
                        if skipped
                        else ""
                    )
                    + ": import a file with customer features beside the arm and outcomes"
                )
            train, test = split_train_test(units, "arm", test_share, seed=seed)
            with err_console.status(f"fitting {learner} ({estimator}) on {len(train):,} customers"):
                model = fit_uplift(
                    train,
                    arm_column="arm",
                    control=exp.control,
                    outcome=outcome,
                    features=spec,
                    learner=learner,
                    estimator=estimator,
                    seed=seed,
                )
                evaluations = evaluate_uplift(model, test, "arm")
            name = save_uplift_model(
                store,
                experiment,
                model,
                evaluations,
                test_share=test_share,
                n_train=len(train),
                n_test=len(test),
                fitted_at=datetime.now(),
            )
        if format == "json":
            print_json(
                _clean(
                    {
                        "model": name,
                        "experiment": experiment,
                        "outcome": outcome,
                        "learner": learner,
                        "estimator": estimator,
                        "n_train": len(train),
                        "n_test": len(test),
                        "features": {
                            "numeric": list(spec.numeric),
                            "categorical": list(spec.categorical),
                        },
                        "skipped_columns": skipped,
                        "evaluation": [ev.to_dict() for ev in evaluations],
                    }
                )
            )
            if chart is not None:
                chart.write_bytes(
                    qini_chart_png(evaluations, f"Qini curve: {experiment}, {outcome}")
                )
                err_console.print(f"chart: {chart}", highlight=False)
            return
        console.print(
            f"Fitted [bold]{escape(name)}[/]: {learner} with {estimator} on {len(train):,} "
            f"customers, evaluated on {len(test):,} held out (seed {seed})",
            highlight=False,
        )
        features = [*spec.numeric, *spec.categorical]
        console.print(f"  features: {escape(', '.join(features))}", highlight=False)
        for col, why in skipped.items():
            console.print(f"  [yellow]not used:[/] {escape(col)} ({why})", highlight=False)
        _render_evaluations(evaluations, outcome)
        path = (
            chart if chart is not None else chart_path(ws.root, f"{experiment}_{outcome}", "qini")
        )
        path.write_bytes(qini_chart_png(evaluations, f"Qini curve: {experiment}, {outcome}"))
        console.print(f"chart: {escape(str(path))}", highlight=False)
        console.print(
            f"Next: livebase uplift score --experiment {escape(experiment)}", highlight=False
        )

    @up_app.command("score")
    def score(
        experiment: Annotated[str, typer.Option("--experiment", help="An imported experiment.")],
        outcome: Annotated[
            str | None,
            typer.Option("--outcome", help="Which stored model (default: the latest fitted)."),
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Also write the scores to this CSV.")
        ] = None,
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """Score every customer of the experiment with its stored uplift model.

        Writes uplift_scores (per customer: best arm or none, its uplift, uplift per arm).
        Example: livebase uplift score --experiment hillstrom --out hillstrom_uplift.csv
        """
        from livebase.measure import score_customers
        from livebase.measure.store_io import load_units, load_uplift_model, save_uplift_scores

        ws = workspace()
        with ws.open_store() as store:
            stored = load_uplift_model(store, experiment, outcome)
            model = stored.model
            needed = [*model.features.numeric, *model.features.categorical]
            units = load_units(store, experiment, outcomes=[], covariates=needed)
            scores = score_customers(model, units, id_column="customer_id")
            written = save_uplift_scores(
                store, stored.name, scores, model.treatments, datetime.now()
            )
        if out is not None:
            scores.to_csv(out, index=False)
        targeted = scores["best_arm"].notna()
        by_arm = {
            str(k): int(v) for k, v in scores.loc[targeted, "best_arm"].value_counts().items()
        }
        none = int((~targeted).sum())
        mean_best = float(scores.loc[targeted, "best_uplift"].mean()) if targeted.any() else 0.0
        expected = float(scores.loc[targeted, "best_uplift"].sum())
        if format == "json":
            print_json(
                {
                    "model": stored.name,
                    "customers": written,
                    "best_arm": by_arm,
                    "no_treatment": none,
                    "mean_uplift_targeted": mean_best,
                    "expected_incremental": expected,
                    "csv": None if out is None else str(out),
                }
            )
            return
        console.print(
            f"Scored [bold]{written:,}[/] customers of '{escape(experiment)}' with "
            f"{escape(stored.name)} (fitted {str(stored.fitted_at)[:16]}); "
            "written to the uplift_scores table",
            highlight=False,
        )
        table = Table(
            title="Best treatment per customer", title_justify="left", box=box.SIMPLE_HEAD
        )
        for col in ("best arm", "customers", "share", "mean predicted uplift"):
            table.add_column(col, justify="left" if col == "best arm" else "right")
        for arm in model.treatments:
            mask = scores["best_arm"] == arm
            table.add_row(
                escape(arm),
                f"{int(mask.sum()):,}",
                f"{mask.mean():.1%}",
                _f(float(scores.loc[mask, "best_uplift"].mean()) if mask.any() else math.nan),
            )
        table.add_row(
            "none (no positive uplift)",
            f"{none:,}",
            f"{none / max(len(scores), 1):.1%}",
            _f(float(scores.loc[~targeted, "best_uplift"].mean()) if none else math.nan),
        )
        console.print(table)
        console.print(
            f"Sending each targeted customer their best arm: about {expected:,.0f} extra "
            f"'{escape(model.outcome)}' expected over {int(targeted.sum()):,} sends "
            f"({mean_best:.4f} each)",
            highlight=False,
        )
        if out is not None:
            console.print(f"scores: {escape(str(out))}", highlight=False)
