"""``livebase experiment import | list | readout | plan``."""

from __future__ import annotations

import math
import re
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape

from livebase.cli._common import OutputFormat, console, err_console, print_json, workspace
from livebase.cli.readout_tables import percent, render_readout, signed, titled_table
from livebase.errors import ExperimentError

if TYPE_CHECKING:
    pass

fmt_opt = typer.Option("--format", "-f", help="table or json")

__all__ = ["chart_path", "parse_shares", "register", "render_readout"]


Correction = Literal["holm", "bh"]


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_shares(value: str, arms: list[str] | None = None) -> dict[str, float] | None:
    """``--planned-shares``: ``equal``, or ``ARM=SHARE,ARM=SHARE`` (shares or percentages).

    ``equal`` needs the ``arms`` (found in the file); without them it returns None.

    >>> parse_shares("equal", ["a", "b"])
    {'a': 0.5, 'b': 0.5}
    >>> parse_shares("treatment=90,holdout=10")
    {'treatment': 0.9, 'holdout': 0.1}
    """
    from livebase.measure import validate_shares

    if value.strip().lower() == "equal":
        return None if arms is None else {a: 1.0 / len(arms) for a in arms}
    shares: dict[str, float] = {}
    for part in _split(value):
        arm, sep, share = part.rpartition("=")
        try:
            number = float(share)
        except ValueError:
            number = math.nan
        if not sep or not arm.strip() or not math.isfinite(number):
            raise ExperimentError(
                f"--planned-shares: cannot read '{part}'; write 'equal' or "
                "'Mens E-Mail=0.3333,Womens E-Mail=0.3333,No E-Mail=0.3334'"
            )
        shares[arm.strip()] = number
    if sum(shares.values()) > 1.5:
        shares = {a: s / 100.0 for a, s in shares.items()}
    return validate_shares(shares)


def chart_path(folder: Path, name: str, suffix: str) -> Path:
    """Default chart file: ``<folder>/<name>_<suffix>.png``, the name made safe for a file.

    >>> chart_path(Path("/ws"), "spring sale/2", "lift").name
    'spring_sale_2_lift.png'
    """
    safe = re.sub(r"[^\w.-]+", "_", name).strip("._") or "experiment"
    return folder / f"{safe}_{suffix}.png"


def _cuped_option(value: str | None) -> str | dict[str, str] | None:
    if value is None:
        return None
    if "=" not in value:
        return value.strip()
    out: dict[str, str] = {}
    for part in _split(value):
        outcome, _, covariate = part.partition("=")
        out[outcome.strip()] = covariate.strip()
    return out


def register(app: typer.Typer) -> None:
    exp_app = typer.Typer(
        help="Experiments: import, read out with confidence intervals, plan sample sizes.",
        no_args_is_help=True,
    )
    app.add_typer(exp_app, name="experiment")

    @exp_app.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="CSV with one row per customer, header row.")],
        name: Annotated[str, typer.Option("--name", help="Name of the experiment in the store.")],
        arm_column: Annotated[str, typer.Option("--arm-column", help="Column holding the arm.")],
        control: Annotated[str, typer.Option("--control", help="The control arm's value.")],
        outcomes: Annotated[
            str, typer.Option("--outcomes", help="Outcome columns, comma-separated.")
        ],
        id_column: Annotated[
            str | None,
            typer.Option("--id-column", help="Customer id column (default: the row number)."),
        ] = None,
        segment_column: Annotated[
            str | None,
            typer.Option("--segment-column", help="Column to break readouts down by."),
        ] = None,
        planned_shares: Annotated[
            str | None,
            typer.Option(
                "--planned-shares",
                help="Planned split for the sample-ratio check: 'equal' or 'ARM=SHARE,…' "
                "(without it the readout says 'no plan: SRM not checked').",
            ),
        ] = None,
        replace: Annotated[
            bool, typer.Option("--replace", help="Overwrite an experiment of the same name.")
        ] = False,
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """Import an experiment from a file (arm, outcomes and pre-treatment columns per customer).

        Example: livebase experiment import hillstrom.csv --name hillstrom --arm-column segment
        --control "No E-Mail" --outcomes visit,conversion,spend
        """
        import pandas as pd

        from livebase.measure import read_experiment_csv
        from livebase.measure.store_io import save_experiment

        outs = _split(outcomes)
        planned = parse_shares(planned_shares) if planned_shares is not None else None
        header: list[str] = []
        if file.exists():
            header = [str(c) for c in pd.read_csv(file, nrows=0).columns]
        skip = {arm_column, id_column, *outs}
        covariates = [c for c in header if c not in skip]
        experiment = read_experiment_csv(
            file,
            name=name,
            arm_column=arm_column,
            control=control,
            outcomes=outs,
            customer_id_column=id_column,
            segment_column=segment_column,
            covariates=covariates,
        )
        if planned_shares is not None and planned is None:
            planned = parse_shares(planned_shares, sorted(experiment.observed_shares))
        ws = workspace()
        with ws.open_store() as store:
            saved = save_experiment(
                store,
                experiment,
                source=f"file:{file}",
                created_at=datetime.now(),
                replace=replace,
                planned_shares=planned,
            )
        counts = experiment.units["arm"].value_counts()
        if format == "json":
            print_json(
                {
                    "name": saved.name,
                    "source": saved.source,
                    "control": saved.control,
                    "units": saved.units,
                    "arms": {str(a): int(counts[a]) for a in sorted(counts.index)},
                    "planned_shares": dict(saved.planned_shares),
                    "outcomes": list(saved.outcomes),
                    "covariates": list(saved.covariates),
                }
            )
            return
        arms = ", ".join(
            f"{escape(str(a))} {int(counts[a]):,}" + (" (control)" if a == control else "")
            for a in sorted(counts.index)
        )
        console.print(
            f"[green]imported[/] {escape(str(file))} as experiment [bold]{escape(saved.name)}[/]: "
            f"{saved.units:,} customers; arms: {arms}",
            highlight=False,
        )
        console.print(f"  outcomes: {escape(', '.join(saved.outcomes))}", highlight=False)
        if saved.covariates:
            console.print(
                f"  pre-treatment columns: {escape(', '.join(saved.covariates))}", highlight=False
            )
        console.print(f"Next: livebase experiment readout {escape(saved.name)}", highlight=False)

    @exp_app.command("list")
    def list_(format: Annotated[OutputFormat, fmt_opt] = "table") -> None:
        """List the experiments in the store.

        Example: livebase experiment list
        """
        from livebase.measure.store_io import list_experiments

        ws = workspace()
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            frame = list_experiments(store)
        if format == "json":
            print_json(
                [
                    {**row, "created_at": row["created_at"].isoformat()}
                    for row in frame.to_dict("records")
                ]
            )
            return
        if frame.empty:
            console.print(
                "No experiments yet: import one with 'livebase experiment import FILE --name N "
                "--arm-column C --control X --outcomes a,b'"
            )
            return
        table = titled_table("Experiments")
        for col in ("name", "source", "control", "arms", "customers", "outcomes", "created"):
            table.add_column(col, justify="right" if col == "customers" else "left")
        for row in frame.to_dict("records"):
            table.add_row(
                escape(str(row["name"])),
                escape(Path(str(row["source"]).removeprefix("file:")).name),
                escape(str(row["control"])),
                escape(", ".join(row["arms"])),
                f"{row['units']:,}",
                escape(", ".join(row["outcomes"])),
                str(row["created_at"])[:10],
            )
        console.print(table)

    @exp_app.command("readout")
    def readout_(
        name: Annotated[str, typer.Argument(help="The experiment's name.")],
        format: Annotated[OutputFormat, fmt_opt] = "table",
        chart: Annotated[
            Path | None,
            typer.Option(
                "--chart", help="PNG of lifts with CI bars (default: <workspace>/<name>_lift.png)."
            ),
        ] = None,
        segment_column: Annotated[
            str | None,
            typer.Option("--segment-column", help="Break down by this column (e.g. channel)."),
        ] = None,
        cost_per_message: Annotated[
            float | None,
            typer.Option("--cost-per-message", help="Price of one message, for cost and ROI."),
        ] = None,
        messages_per_customer: Annotated[
            float, typer.Option("--messages-per-customer", help="Messages per treated customer.")
        ] = 1.0,
        margin: Annotated[
            float, typer.Option("--margin", help="Share of revenue that is profit, for ROI.")
        ] = 1.0,
        cuped_covariate: Annotated[
            str | None,
            typer.Option(
                "--cuped-covariate",
                help="Pre-period column for CUPED: COL for every outcome, or 'spend=history,…'.",
            ),
        ] = None,
        conversion: Annotated[
            str | None,
            typer.Option(
                help="Outcome counted as conversion (default: inferred, e.g. conversion)."
            ),
        ] = None,
        revenue: Annotated[
            str | None, typer.Option(help="Outcome counted as revenue (default: first non-0/1).")
        ] = None,
        alpha: Annotated[float, typer.Option(help="0.05 gives intervals at 95%.")] = 0.05,
        correction: Annotated[
            Correction, typer.Option(help="Multiple-comparison correction: holm or bh.")
        ] = "holm",
        primary: Annotated[
            str | None,
            typer.Option(help="The primary outcome: corrected apart from the secondary ones."),
        ] = None,
        sequential: Annotated[
            bool,
            typer.Option(
                "--sequential", help="Anytime-valid intervals for a readout looked at repeatedly."
            ),
        ] = False,
    ) -> None:
        """Did it work, by how much, and are we sure: lifts with confidence intervals.

        Example: livebase experiment readout hillstrom --cost-per-message 0.1
        """
        from livebase.measure import Costs, ReadoutSettings, lift_chart_png
        from livebase.measure.store_io import get_experiment, read_out

        if not 0.0 < alpha < 0.5:
            raise ExperimentError(f"--alpha must be between 0 and 0.5, got {alpha}")
        costs = (
            Costs(
                per_message=cost_per_message,
                messages_per_customer=messages_per_customer,
                margin=margin,
            )
            if cost_per_message is not None
            else None
        )
        settings = ReadoutSettings(
            alpha=alpha, correction=correction, primary=primary, sequential=sequential
        )
        ws = workspace()
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            source = get_experiment(store, name).source
            r = read_out(
                store,
                name,
                conversion=conversion,
                revenue=revenue,
                segment=segment_column,
                cuped=_cuped_option(cuped_covariate),
                costs=costs,
                settings=settings,
            )
        path = chart if chart is not None else chart_path(ws.root, name, "lift")
        if format == "json":
            print_json(r.to_dict())
            if chart is not None:
                chart.write_bytes(lift_chart_png(r))
                err_console.print(f"chart: {chart}", highlight=False)
            return
        render_readout(r, source.removeprefix("file:"))
        path.write_bytes(lift_chart_png(r))
        console.print(f"chart: {escape(str(path))}", highlight=False)

    @exp_app.command("plan")
    def plan(
        baseline: Annotated[
            float, typer.Option("--baseline", help="Control conversion rate, e.g. 0.12.")
        ],
        mde: Annotated[
            float, typer.Option("--mde", help="Absolute lift to detect: 0.02 = 2 points.")
        ],
        base_size: Annotated[
            int | None,
            typer.Option("--base-size", help="Customers available: gives the holdout share."),
        ] = None,
        holdout_share: Annotated[
            float | None, typer.Option("--holdout-share", help="Check a given holdout share.")
        ] = None,
        power: Annotated[float, typer.Option("--power")] = 0.8,
        alpha: Annotated[float, typer.Option("--alpha")] = 0.05,
        format: Annotated[OutputFormat, fmt_opt] = "table",
    ) -> None:
        """How many customers an experiment needs, and what holdout share a base allows.

        Example: livebase experiment plan --baseline 0.12 --mde 0.02 --base-size 50000
        """
        from livebase.measure import plan_sample_size

        p = plan_sample_size(
            baseline,
            mde,
            alpha=alpha,
            power=power,
            holdout_share=holdout_share,
            base_size=base_size,
        )
        if format == "json":
            print_json(asdict(p))
            return
        console.print(
            f"To detect {mde * 100:+.2f} points on a {baseline:.1%} baseline "
            f"({p.relative_mde:+.1%} relative) with {power:.0%} power at α = {alpha:g}:",
            highlight=False,
        )
        console.print(
            f"  [bold]{p.n_per_arm:,}[/] customers per arm, {p.n_total:,} in all (50/50 split)",
            highlight=False,
        )
        if p.base_size is not None:
            colour = "green" if p.feasible else "red"
            console.print(f"  [{colour}]{escape(p.message)}[/]", highlight=False)
            if p.n_treatment is not None and p.n_holdout is not None:
                console.print(
                    f"  treatment {p.n_treatment:,} · holdout {p.n_holdout:,} "
                    f"({percent(p.holdout_share, 1)}); detectable lift "
                    f"{signed(p.detectable_mde, True).lstrip('+')}",
                    highlight=False,
                )
