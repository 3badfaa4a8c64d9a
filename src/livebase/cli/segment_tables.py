"""The tables of segments in the terminal: KPIs per segment, score thresholds, the job
matrix, a segment's members, a customer's history. Sized for 80 columns: key numbers stay
whole, and a caption says what was left out.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from livebase.cli._common import console

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from livebase.segments import SegmentationRun, SegmentsSettings
    from livebase.segments.labels import Language

__all__ = [
    "cell",
    "history_table",
    "kpi_table",
    "members_table",
    "print_run",
    "scores_text",
]

_PERCENT = {"share", "revenue_share", "repeat_rate", "retention_30", "retention_90"}
_LONG_SCHEME = 12
"""A scheme with more segments than this (77 RFM cells) shows its largest ones unless --all."""


def cell(column: str, value: Any) -> str:
    """One number as a table shows it: ``—`` for none, shares in %, thin-spaced thousands.

    >>> cell("share", 0.1234), cell("customers", 12345), cell("x", None)
    ('12.3%', '12\xa0345', '—')
    """
    import pandas as pd

    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if column in _PERCENT:
        return f"{float(value):.1%}"
    if column == "customers":
        return f"{int(value):,}".replace(",", "\u00a0")
    if isinstance(value, float) or hasattr(value, "as_integer_ratio"):
        return f"{float(value):,.2f}".replace(",", "\u00a0")
    return str(value)


# the columns that fit an 80-column terminal; the rest show with --wide and in files
_MONEY = {"revenue", "avg_ltv", "aov"}
_NARROW_KPIS = ("customers", "share", "revenue", "avg_ltv", "repeat_rate")


def kpi_table(
    kpis: pd.DataFrame,
    scheme: str,
    lang: Language,
    as_of: date,
    *,
    wide: bool = False,
    limit: int | None = None,
) -> Table:
    """The KPI table of one scheme, sized for the terminal (shared by segment and demo).

    At 80 columns the key numbers stay whole: secondary columns are dropped and the caption
    says which (``wide`` keeps them all); ``limit`` shows the largest segments only.
    """
    import pandas as pd
    from rich import box
    from rich.table import Table

    from livebase.segments import KPI_COLUMNS, kpi_labels, label

    heads = kpi_labels(lang)
    columns = KPI_COLUMNS if wide or console.width >= 150 else _NARROW_KPIS
    notes: list[str] = []
    if columns != KPI_COLUMNS:
        dropped = [heads[c] for c in KPI_COLUMNS if c not in columns]
        notes.append(f"not shown: {', '.join(dropped)} (--wide, or --format csv|json)")
    rows = kpis[kpis["scheme"] == scheme]
    if limit is not None and len(rows) > limit:
        notes.append(f"the {limit} largest of {len(rows)} segments (--all for every one)")
        rows = rows.sort_values("customers", ascending=False).head(limit)
    table = Table(
        title=f"{scheme} as of {as_of}",
        title_justify="left",
        caption="\n".join(notes) or None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column(heads["segment"], overflow="fold")
    for column in columns:
        # numbers never wrap nor get cut: the segment column folds instead
        table.add_column(heads[column], justify="right", no_wrap=True, overflow="ignore")
    for row in rows.to_dict("records"):
        cells = [
            # money is exact in files; whole units (non-breaking groups) read better here
            f"{row[c]:,.0f}".replace(",", "\u00a0")
            if c in _MONEY and pd.notna(row[c])
            else cell(c, row[c])
            for c in columns
        ]
        table.add_row(label(str(row["segment"]), lang), *cells)
    return table


def _print_thresholds(run: SegmentationRun, scheme: str) -> None:
    from rich.table import Table

    rows = run.thresholds[run.thresholds["scheme"] == scheme] if len(run.thresholds) else None
    if rows is None or rows.empty:
        return
    table = Table(
        title=f"{scheme}: score thresholds (ties share the lower score)", title_justify="left"
    )
    for column in ("dimension", "score", "customers", "from", "to"):
        table.add_column(column, justify="left" if column == "dimension" else "right")
    for row in rows.to_dict("records"):
        table.add_row(
            f"{row['dimension']} ({row['feature']})",
            str(row["score"]),
            f"{row['customers']:,}",
            f"{row['min_value']:g}",
            f"{row['max_value']:g}",
        )
    console.print(table)


def print_run(
    run: SegmentationRun,
    segments: SegmentsSettings,
    scheme: str | None,
    lang: Language,
    *,
    wide: bool,
    show_all: bool,
) -> None:
    """The run's customers, then per scheme its KPI table (the thresholds with ``show_all``)
    and its segment × job matrix."""
    from rich.table import Table

    from livebase.segments import label

    console.print(f"[bold]{run.customers:,}[/] customers as of [bold]{run.as_of}[/]")
    kpis = run.kpis
    for name in segments.schemes:
        if scheme is not None and name != scheme:
            continue
        if show_all:
            _print_thresholds(run, name)
        limit = None if show_all else _LONG_SCHEME
        console.print(kpi_table(kpis, name, lang, run.as_of, wide=wide, limit=limit))
        matrix = run.job_matrices.get(name)
        if matrix is not None and not matrix.empty:
            pivot = matrix.pivot_table(
                index="segment", columns="job", values="customers", aggfunc="sum", fill_value=0
            )
            table = Table(title=f"{name}: customers by segment × job", title_justify="left")
            table.add_column("segment", overflow="fold")
            for job in pivot.columns:
                table.add_column(label(str(job), lang), justify="right", no_wrap=True)
            for seg, row in pivot.iterrows():
                table.add_row(label(str(seg), lang), *(f"{int(v):,}" for v in row))
            console.print(table)


def members_table(
    members: pd.DataFrame, scheme: str, segment: str, lang: Language, limit: int
) -> Table:
    """A segment's members, highest LTV first (``limit`` of them; 0 = all)."""
    from rich import box
    from rich.table import Table

    from livebase.segments import label

    shown = members.sort_values("ltv", ascending=False).head(limit) if limit else members
    table = Table(
        title=f"{scheme}: {label(segment, lang)} — {len(members):,} customers",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption=None
        if len(shown) == len(members)
        else f"the {len(shown)} of highest LTV (--limit 0 for all; 'livebase export segment' "
        "writes a file)",
        caption_justify="left",
    )
    table.add_column("customer", no_wrap=True)
    table.add_column("name", overflow="ellipsis", max_width=24)
    for head in ("recency", "orders", "LTV"):
        table.add_column(head, justify="right", no_wrap=True)
    for r in shown.to_dict("records"):
        table.add_row(
            str(r["customer_id"]),
            str(r.get("name") or r.get("email") or "—"),
            cell("x", r.get("recency_days")).removesuffix(".00"),
            cell("x", r.get("frequency")).removesuffix(".00"),
            f"{float(r['ltv'] or 0):,.0f}".replace(",", "\u00a0"),
        )
    return table


def scores_text(scores: Any) -> str:
    """Scores as ``R 5 · F 4 · M 5`` instead of raw JSON."""
    import json

    if scores is None or scores == "":
        return ""
    value = json.loads(scores) if isinstance(scores, str) else scores
    if isinstance(value, dict):
        return " · ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def history_table(records: list[dict[Any, Any]], lang: Language, *, title: str) -> Table:
    """A customer's SCD2 rows as a table that fits 80 columns (shared with ``customer``)."""
    from rich import box
    from rich.table import Table

    from livebase.segments import label

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("scheme", no_wrap=True)
    table.add_column("segment", overflow="fold")
    table.add_column("from", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("scores", overflow="fold")
    for r in records:
        table.add_row(
            str(r["scheme"]),
            label(str(r["segment"]), lang),
            str(r["valid_from"])[:10],
            "now" if r["valid_to"] is None else str(r["valid_to"])[:10],
            scores_text(r.get("scores")),
        )
    return table
