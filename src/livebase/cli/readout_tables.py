"""How a readout looks in the terminal: arms, comparisons with their intervals, notes.

Shared by ``livebase experiment readout`` and the playbook readouts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from livebase.cli._common import console, err_console

if TYPE_CHECKING:
    from livebase.measure import Comparison, Readout

__all__ = ["percent", "render_readout", "signed", "titled_table"]


def percent(value: float | None, digits: int = 2) -> str:
    """A share as a percentage, ``—`` when there is none.

    >>> percent(0.1234), percent(None)
    ('12.34%', '—')
    """
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 100 else f"{value:,.2f}"


def signed(value: float | None, binary: bool) -> str:
    """A difference with its sign: in percentage points for a rate (``binary``).

    >>> signed(0.021, True), signed(-1.5, False)
    ('+2.10 pp', '-1.50')
    """
    if value is None or not math.isfinite(value):
        return "—"
    if binary:
        return f"{value * 100:+.2f} pp"
    return f"{value:+.4g}" if abs(value) < 1 else f"{value:+,.2f}"


def _mean(value: float, binary: bool) -> str:
    return percent(value) if binary else _num(value)


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _interval(low: float | None, high: float | None, fmt: str) -> str:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "—"
    if fmt == "pp":
        return f"[{low * 100:+.2f}, {high * 100:+.2f}] pp"
    if fmt == "%":
        return f"[{low * 100:+.1f}, {high * 100:+.1f}]%"
    if fmt == "int":
        return f"[{low:+,.0f}, {high:+,.0f}]"
    return f"[{low:+,.4g}, {high:+,.4g}]"


def _relative(c: Comparison) -> str:
    if not math.isfinite(c.relative_lift):
        return "—"
    interval = _interval(c.relative_ci_low, c.relative_ci_high, "%")
    return f"{c.relative_lift * 100:+.1f}%\n{interval}"


def _note(c: Comparison) -> str:
    if c.reason is not None:
        return f"[yellow]{c.reason}[/]"
    if c.significant and c.significant_adjusted is False:
        verdict = f"[yellow]not after {c.role or 'family'} correction[/]"
    elif c.significant:
        verdict = "[green]significant[/]"
    elif c.underpowered:
        verdict = "[yellow]underpowered[/]"
    else:
        verdict = "not significant"
    if c.variance_reduction is not None:
        verdict += f" (CUPED: variance −{c.variance_reduction:.1%})"
    return verdict


def titled_table(title: str) -> Table:
    """An empty readout table with its title on the left."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


def _lift_cell(c: Comparison) -> str:
    binary = c.kind == "binary"
    return f"{signed(c.lift, binary)}\n{_interval(c.ci_low, c.ci_high, 'pp' if binary else 'abs')}"


def _comparison_table(rows: list[Comparison], level: int, title: str, seg: bool) -> Table:
    """One treatment arm against control: lift and relative lift with their intervals."""
    table = titled_table(title)
    cols = ["segment"] if seg else []
    cols += ["outcome"] if seg else ["outcome", "treatment", "control"]
    cols += [f"lift, {level}% CI", f"relative, {level}% CI"]
    cols += ["p-value", "adjusted p"] if seg else ["p-value", "verdict"]
    for col in cols:
        table.add_column(
            col, justify="left" if col in {"segment", "outcome", "verdict"} else "right"
        )
    for c in rows:
        binary = c.kind == "binary"
        cells = [escape(c.segment or "")] if seg else []
        cells.append(escape(c.outcome))
        if not seg:
            cells += [_mean(c.treatment_mean, binary), _mean(c.control_mean, binary)]
        cells += [
            _lift_cell(c),
            _relative(c),
            _p(c.p_value),
        ]
        if seg:
            cells.append(_p(c.p_value_adjusted))
        else:
            mde = signed(c.mde, binary).lstrip("+")
            cells.append(f"{_note(c)}\nMDE {mde}")
        table.add_row(*cells, end_section=True)
    return table


def render_readout(r: Readout, source: str = "") -> None:
    """Print a readout: SRM check, arms, comparisons, segments, economics, warnings."""
    level = round((1.0 - r.alpha) * 100)
    where = f" ({escape(source)})" if source else ""
    console.print(
        f"Experiment [bold]{escape(r.experiment)}[/]{where}, control '{escape(r.control)}'"
    )
    if r.srm is not None and r.srm.mismatch:
        console.print(
            Panel(escape(r.srm.message), title="SAMPLE RATIO MISMATCH", style="bold red"),
        )
        err_console.print(f"[bold red]warning:[/] {escape(r.srm.message)}", soft_wrap=True)
    elif r.srm is not None and not r.srm.checked:
        console.print(f"[yellow]![/] {escape(r.srm.message)}", highlight=False)
    elif r.srm is not None:
        console.print(f"[green]✓[/] {escape(r.srm.message)}", highlight=False)
    kinds = {c.outcome: c.kind for c in r.comparisons}
    arms = titled_table("Arms")
    outcomes = list(r.arms[0].means) if r.arms else []
    for col in ["arm", "customers", "share", "planned", *outcomes, "AOV (converters)"]:
        arms.add_column(col, justify="left" if col == "arm" else "right")
    for a in r.arms:
        name = f"{escape(a.arm)} (control)" if a.arm == r.control else escape(a.arm)
        arms.add_row(
            name,
            f"{a.n:,}",
            percent(a.share, 1),
            percent(a.planned_share, 1),
            *(_mean(a.means[o], kinds.get(o) == "binary") for o in outcomes),
            "—" if a.aov is None else f"{_num(a.aov)} ({a.converters:,})",
        )
    console.print(arms)
    treatments = list(dict.fromkeys(c.arm for c in r.comparisons))
    for arm in treatments:
        rows = [c for c in r.comparisons if c.arm == arm]
        title = f"{escape(arm)} vs {escape(r.control)}"
        console.print(_comparison_table(rows, level, title, False))
    if r.aov:
        title = f"AOV among converters vs {escape(r.control)} (delta method)"
        console.print(_comparison_table(list(r.aov), level, title, False))
    correction = "Holm" if r.correction == "holm" else "Benjamini–Hochberg"
    for arm in treatments:
        rows = [c for c in r.segments if c.arm == arm]
        if rows:
            title = (
                f"{escape(arm)} vs {escape(r.control)} by {escape(r.segment_column or 'segment')} "
                f"({correction}-adjusted p)"
            )
            console.print(_comparison_table(rows, level, title, True))
    econ = [
        e
        for e in r.economics
        if e.incremental_conversions is not None
        or e.incremental_revenue is not None
        or e.cost is not None
    ]
    if econ:
        table = titled_table(f"Incremental results ({level}% CI)")
        for col in ["arm", "customers", "conversions", "revenue", "cost", "ROI", "payback"]:
            table.add_column(col, justify="left" if col == "arm" else "right")
        for e in econ:
            conv = "—"
            if e.incremental_conversions is not None:
                conv = f"{e.incremental_conversions:+,.0f}\n" + _interval(
                    e.incremental_conversions_low, e.incremental_conversions_high, "int"
                )
            rev = "—"
            if e.incremental_revenue is not None:
                rev = f"{e.incremental_revenue:+,.2f}\n" + _interval(
                    e.incremental_revenue_low, e.incremental_revenue_high, "int"
                )
            roi = "—"
            if e.roi is not None:
                roi = f"{e.roi:+.0%}\n{_interval(e.roi_low, e.roi_high, '%')}"
            table.add_row(
                escape(e.arm),
                f"{e.n_treatment:,}",
                conv,
                rev,
                "—" if e.cost is None else f"{e.cost:,.2f}",
                roi,
                "—" if e.payback is None else f"{e.payback:.2f}×",
                end_section=True,
            )
        console.print(table)
    srm_message = r.srm.message if r.srm is not None else None
    for w in r.warnings:
        if w != srm_message:
            console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
