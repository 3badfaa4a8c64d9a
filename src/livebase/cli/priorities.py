"""``livebase priorities``: which scenario to build first, by the money at stake.

Thin: ``livebase.measure.priorities.compute_priorities`` ranks; this prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from livebase.cli._common import (
    OutputFormat,
    config_lines,
    console,
    date_option,
    language,
    print_json,
    workspace,
)

if TYPE_CHECKING:
    from livebase.measure.priorities import PriorityRun
    from livebase.segments.labels import Language

__all__ = ["register"]

_FMT_OPT = typer.Option("--format", "-f", help="table or json")


def _pct(value: float) -> str:
    return f"{value:+.1%}".replace("%", " %")


def _money(value: float) -> str:
    digits = 0 if abs(value) >= 100 else 2
    return f"{value:,.{digits}f}".replace(",", " ")


def _uplift_source(row: Mapping[Any, Any]) -> str:
    if row["uplift_source"] != "measured":
        return "guess"
    ci = f"{_pct(row['uplift_ci_low'])} … {_pct(row['uplift_ci_high'])}"
    verdict = "" if row["experiment_significant"] else ", not significant"
    return (
        f"measured by experiment {row['experiment']} (arm {row['experiment_arm']}, "
        f"{row['experiment_outcome']}: {_pct(row['uplift'])}, CI {ci}{verdict})"
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _as_dict(run: PriorityRun, scheme: str) -> dict[str, Any]:
    from livebase.models.priorities import PRIORITY_FORMULA

    rows = [
        {str(k): _plain(v) for k, v in record.items()} for record in run.ranking.to_dict("records")
    ]
    return {
        "as_of": run.as_of,
        "formula": f"expected_incremental_value = {PRIORITY_FORMULA}",
        "clv": {"fit_id": run.fit_id, "as_of": run.clv_as_of, "column": run.clv_column},
        "default_scheme": scheme,
        "segment_runs": dict(run.segment_runs),
        "scenarios": rows,
        "notes": list(run.notes),
    }


def _print(run: PriorityRun, lang: Language) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from livebase.models.priorities import PRIORITY_FORMULA
    from livebase.segments import label

    horizon = run.clv_column.removeprefix("clv_").removesuffix("d")
    console.print(
        f"Scenarios ranked as of [bold]{run.as_of}[/]: CLV over {horizon} days from "
        f"{run.fit_id} (as of {run.clv_as_of})"
        + "".join(f"; {s} run of {d}" for s, d in run.segment_runs.items()),
        highlight=False,
    )
    console.print(f"[bold]value[/] = {PRIORITY_FORMULA}", highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("# scenario\n[dim]target[/]", min_width=18, overflow="fold")
    for head in ("customers", "mean CLV", "uplift\n[dim]from[/]", "trigger", "effort"):
        table.add_column(head, justify="right", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    for row in run.ranking.to_dict("records"):
        target = str(row["target"])
        if row["target_kind"] == "segment":
            scheme, _, segment = target.partition(":")
            target = f"{scheme}:{label(segment, lang)}"
        measured = row["uplift_source"] == "measured"
        table.add_row(
            f"{row['rank']} {escape(str(row['scenario']))}\n[dim]{escape(target)}[/]",
            f"{int(row['customers']):,}".replace(",", " "),
            f"{float(row['mean_clv']):,.2f}".replace(",", " "),
            f"{_pct(float(row['uplift']))}\n[dim]{'measured' if measured else 'guess'}[/]",
            f"{int(row['trigger_strength'])}/5",
            str(int(row["effort"])),
            _money(float(row["expected_incremental_value"])),
        )
    console.print(table)
    for row in run.ranking.to_dict("records"):
        if row["uplift_source"] == "measured":
            console.print(
                escape(f"{row['scenario']}: uplift {_uplift_source(row)}"), highlight=False
            )
    for note in run.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``priorities`` command to ``app``."""

    @app.command()
    def priorities(
        as_of: Annotated[
            datetime | None,
            date_option("--as-of", "Date of the audiences (default: the latest paid order)."),
        ] = None,
        scheme: Annotated[
            str,
            typer.Option(help="Scheme of segment targets written without 'scheme:'."),
        ] = "named",
        horizon: Annotated[
            int | None,
            typer.Option(help="CLV horizon in days (default: the longest the fit predicted)."),
        ] = None,
        format: Annotated[OutputFormat, _FMT_OPT] = "table",
    ) -> None:
        """Rank the scenarios of livebase.yaml by expected incremental value.

        Example: livebase priorities --as-of 1998-06-30 --format json
        """
        from livebase.measure.priorities import compute_priorities

        ws = workspace()
        segments = ws.config.segments
        lang = language(ws)
        with ws.open_store(read_only=ws.store_path.exists()) as store:
            run = compute_priorities(
                store,
                list(ws.config.scenarios),
                features=ws.config.features,
                segments=segments,
                language=lang,
                as_of=as_of.date() if as_of is not None else None,
                scheme=scheme,
                horizon=horizon,
                lines=config_lines(ws),
            )
        if format == "json":
            print_json(_as_dict(run, scheme))
            return
        _print(run, lang)
