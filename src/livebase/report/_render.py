"""The report as one self-contained HTML page: Jinja2 template, inline CSS, inline SVG charts.

Nothing is fetched when the page opens: no scripts, no web fonts, no images by URL.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from livebase.report._charts import (
    GROUP_COLOURS,
    grid_svg,
    history_svg,
    segment_colours,
    transitions_svg,
    treemap_svg,
)
from livebase.report._data import ReportData, SchemeKpis
from livebase.report._texts import texts
from livebase.segments import GONE, KPI_COLUMNS, NEW, kpi_labels, labels
from livebase.segments.labels import Language

__all__ = ["Numbers", "render_html"]

_PERCENT = {"share", "revenue_share", "repeat_rate", "retention_30", "retention_90"}
_MONEY = {"revenue", "avg_ltv", "aov", "avg_clv", "total_clv"}
_SUMMED = {"customers", "revenue", "total_clv"}
"""KPI columns whose total row is the sum of the segments (shares total 100 %)."""
_OPEN_ROWS = 15
"""KPI tables up to this many segments show open; longer ones fold (the grid shows them)."""


class Numbers:
    """Numbers as a reader of ``lang`` writes them: 12,345.6 and 12.3% or 12 345,6 and 12,3 %.

    >>> Numbers("ru").integer(1234567), Numbers("en").percent(0.1234)
    ('1\\xa0234\\xa0567', '12.3%')
    """

    def __init__(self, lang: Language) -> None:
        self.lang = lang

    def number(self, value: Any, places: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        text = f"{float(value):,.{places}f}"
        if self.lang == "ru":
            text = text.replace(",", "\u00a0").replace(".", ",")
        return text

    def integer(self, value: Any) -> str:
        return self.number(value, 0)

    def percent(self, value: Any, places: int = 1) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        text = self.number(100 * float(value), places)
        return f"{text}\u00a0%" if self.lang == "ru" else f"{text}%"

    def kpi(self, column: str, value: Any) -> str:
        if column in _PERCENT:
            return self.percent(value)
        if column == "customers" or column in _MONEY:
            return self.integer(value)
        return self.number(value, 1)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("livebase.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _css() -> str:
    return (
        resources.files("livebase.report")
        .joinpath("static", "report.css")
        .read_text(encoding="utf-8")
    )


def _scheme_table(
    section: SchemeKpis, lang: Language, names: dict[str, str], colours: dict[str, str] | None
) -> dict[str, Any]:
    t, num = texts(lang), Numbers(lang)
    heads = kpi_labels(lang)
    rows = []
    for record in section.kpis.to_dict("records"):
        segment = str(record["segment"])
        rows.append(
            {
                "label": names.get(segment, segment),
                "colour": colours.get(segment) if colours else None,
                "cells": [num.kpi(c, record[c]) for c in KPI_COLUMNS],
            }
        )
    kpis = section.kpis
    total = []
    for column in KPI_COLUMNS:
        values = kpis[column].astype(float)
        if column in _SUMMED:
            total.append(num.integer(values.sum()) if values.notna().any() else "—")
        elif column in ("share", "revenue_share"):
            total.append(num.percent(1.0) if values.fillna(0).sum() > 0 else "—")
        else:
            total.append("")
    kind = t["scheme_kind_" + section.kind].format(bins=section.bins)
    return {
        "name": section.name,
        "anchor": "kpi-" + section.name,
        "subtitle": f"{kind} · {t['scheme_segments'].format(n=len(kpis))} · "
        f"{t['scheme_run'].format(day=section.run_date.isoformat())}",
        "open": section.kind == "named" or len(kpis) <= _OPEN_ROWS,
        "heads": [heads["segment"], *(heads[c] for c in KPI_COLUMNS)],
        "rows": rows,
        "total": total,
    }


def render_html(data: ReportData, *, lang: Language = "en", currency: str = "") -> str:
    """The report page in ``lang``; ``currency`` names the money in the texts (e.g. "RUB")."""
    t, num = texts(lang), Numbers(lang)
    names = labels(lang)
    day = data.run_date.isoformat()
    money_unit = f"{currency}" if currency else ""
    named = next((s for s in data.schemes if s.name == data.named_scheme), None)
    named_order = [str(s) for s in named.kpis["segment"]] if named is not None else []
    colours = segment_colours(named_order)

    treemap = None
    if named is not None and len(data.treemap):
        treemap = Markup(
            treemap_svg(
                data.treemap,
                names,
                colours,
                {"customers": t["map_by_customers"], "revenue": t["map_by_revenue"]},
                {
                    "customers": num.integer,
                    "revenue": lambda v: f"{num.integer(v)} {money_unit}".strip(),
                    "share": lambda v: num.percent(v, 0),
                },
            )
        )
    prospects = named.kpis["segment"].iloc[-1] if named is not None and len(named.kpis) else ""

    grid = None
    grid_text = ""
    groups: list[dict[str, Any]] = []
    if data.grid_settings is not None:
        g = data.grid_settings
        grid = Markup(
            grid_svg(
                data.grid,
                {m: t["grid_m"].format(m=m) for m in "ABC"},
                (t["grid_r"], t["grid_f"]),
                GROUP_COLOURS,
                num.integer,
                num.percent,
            )
        )
        grid_text = t["grid_text"].format(
            ra=g.recency_days[0],
            rb=g.recency_days[1],
            fa=g.frequency[0],
            fb=g.frequency[1],
            ma=num.percent(g.monetary_shares[0], 0),
            mb=num.percent(g.monetary_shares[1] - g.monetary_shares[0], 0),
        )
        groups = [
            {
                "label": names.get(str(r["group"]), str(r["group"])),
                "colour": GROUP_COLOURS[str(r["group"])],
                "cells": ", ".join(r["cells"]),
                "customers": num.integer(r["customers"]),
                "share": num.percent(r["share"]),
                "revenue": num.integer(r["revenue"]),
                "revenue_share": num.percent(r["revenue_share"]),
            }
            for r in data.groups.to_dict("records")
        ]

    moves = None
    if data.transitions is not None:
        tr = data.transitions
        moves = {
            "svg": Markup(
                transitions_svg(
                    tr,
                    names,
                    (
                        t["tr_axis_from"].format(day=tr.start_run.isoformat()),
                        t["tr_axis_to"].format(day=tr.end_run.isoformat()),
                    ),
                    t["tr_colour"],
                )
            ),
            "text": t["tr_text"].format(
                start=tr.start_run.isoformat(),
                end=tr.end_run.isoformat(),
                new=names.get(NEW, NEW),
            ),
            "flows": [
                {
                    "src": names.get(str(f["from_segment"]), str(f["from_segment"])),
                    "dst": names.get(str(f["to_segment"]), str(f["to_segment"])),
                    "text": t["tr_flow_row"].format(
                        customers=num.integer(f["customers"]),
                        share=num.percent(f["share_of_from"]),
                    ),
                    "way": _direction(str(f["from_segment"]), str(f["to_segment"]), named_order),
                }
                for f in tr.flows.to_dict("records")
            ],
        }

    history = None
    history_runs = len(set(data.history["as_of"])) if len(data.history) else 0
    if history_runs >= 2:
        history = Markup(
            history_svg(data.history, names, segment_colours(named_order), t["hist_axis"])
        )

    modes = {a.name: a.change for a in data.alert_settings}
    alerts = [
        {
            "fired": a.fired,
            "status": t["alert_fired"]
            if a.fired
            else (t["alert_na"] if a.reason else t["alert_ok"]),
            "name": a.name,
            "segment": f"{names.get(a.segment, a.segment)} ({a.scheme})",
            "metric": t.get("metric_" + a.metric, a.metric),
            "before": _metric(num, a.metric, a.before),
            "after": _metric(num, a.metric, a.after),
            "change": _change(num, a.metric, a.change, modes.get(a.name, "relative")),
            "threshold": _threshold(num, a.metric, a.threshold, modes.get(a.name, "relative")),
            "dates": f"{a.before_date or '—'} → {a.after_date or '—'}",
            "reason": {
                "needs two runs of the scheme": t["reason_two_runs"],
                "the segment was empty at the earlier run": t["reason_empty"],
            }.get(a.reason, a.reason),
        }
        for a in data.alerts
    ]
    window = (
        t["window_all"]
        if data.window_days is None
        else t["window_days"].format(days=data.window_days)
    )
    schemes = [
        _scheme_table(s, lang, names, colours if s.name == data.named_scheme else None)
        for s in data.schemes
    ]
    schemes.sort(key=lambda s: s["name"] != data.named_scheme)
    context = {
        "lang": lang,
        "t": t,
        "css": Markup(_css()),
        "title": f"{t['title']} {t['as_of'].format(day=day)}",
        "intro": t["intro"].format(day=day),
        "run_note": (
            t["run_note"].format(asked=data.as_of.isoformat(), day=day)
            if data.run_date != data.as_of
            else ""
        ),
        "cards": [
            (num.integer(data.customers), t["card_customers"]),
            (num.integer(data.buyers), t["card_buyers"]),
            (f"{num.integer(data.revenue)} {money_unit}".strip(), t["card_revenue"]),
            (num.integer(data.runs), t["card_runs"]),
            (num.integer(sum(a.fired for a in data.alerts)), t["card_alerts"]),
        ],
        "fired": any(a.fired for a in data.alerts),
        "treemap": treemap,
        "map_text": t["map_text"].format(prospects=names.get(prospects, prospects)),
        "grid": grid,
        "grid_text": grid_text,
        "groups": groups,
        "kpi_text": t["kpi_text"].format(window=window, currency=currency or "—"),
        "schemes": schemes,
        "moves": moves,
        "history": history,
        "history_text": t["hist_text"].format(n=history_runs),
        "alerts": alerts,
        "footer": t["footer"].format(day=day),
        "gone": names.get(GONE, GONE),
    }
    return _environment().get_template("report.html.j2").render(context)


def _direction(src: str, dst: str, order: list[str]) -> str:
    """``down`` the map (to a later segment, or out of the base), ``up``, or ``in`` (joined)."""
    if dst == GONE:
        return "down"
    if src == NEW or src not in order or dst not in order:
        return "in"
    return "down" if order.index(dst) > order.index(src) else "up"


def _metric(num: Numbers, metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric in ("share", "inflow_from_better"):
        return num.percent(value)
    return num.integer(value)


def _threshold(num: Numbers, metric: str, value: float, mode: str) -> str:
    """A relative threshold (0.1) reads as 10 %; an absolute one in the metric's unit."""
    if metric == "inflow_from_better" or mode == "relative":
        return num.percent(value, 0 if float(value * 100).is_integer() else 1)
    return _metric(num, metric, value)


def _change(num: Numbers, metric: str, value: float | None, mode: str) -> str:
    """A relative change in per cent, an absolute one in the metric's unit, signed."""
    if value is None:
        return "—"
    if metric == "inflow_from_better":
        return num.percent(value)
    text = _metric(num, metric, value) if mode == "absolute" else num.percent(value)
    return "+" + text if value > 0 else text
