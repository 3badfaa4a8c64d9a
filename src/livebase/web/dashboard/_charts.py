"""Chart.js configurations of the dashboard's charts, built from the published snapshot.

Each is a plain dict (JSON in a ``data-chart`` attribute; ``static/dashboard.js`` draws it).
Intervals are drawn as floating bars ``[low, high]`` beside the estimate.

>>> from livebase.web.dashboard._texts import Texts
>>> c = revenue_chart({"owner": {"revenue_by_month": [{"month": "2026-01", "revenue": 10.0,
...     "repeat_share": 0.5}]}}, Texts("en"))
>>> c["type"], c["data"]["labels"]
('bar', ['2026-01'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from livebase.web.dashboard._texts import Texts

__all__ = [
    "funnel_chart",
    "planned_chart",
    "programme_chart",
    "revenue_chart",
    "segment_sizes_chart",
    "segments_chart",
]

PALETTE = ["#2f6fdf", "#e0703a", "#2a9d8f", "#b5179e", "#8d99ae", "#f4a261", "#588157",
           "#6d597a", "#e63946", "#457b9d", "#bc6c25", "#264653"]  # fmt: skip


def _opts(stacked: bool = False, y2: bool = False) -> dict[str, Any]:
    scales: dict[str, Any] = {"y": {"beginAtZero": True, "stacked": stacked}}
    if stacked:
        scales["x"] = {"stacked": True}
    if y2:
        scales["y2"] = {"beginAtZero": True, "position": "right", "max": 1,
                        "grid": {"drawOnChartArea": False}}  # fmt: skip
    return {"animation": False, "responsive": True, "maintainAspectRatio": False, "scales": scales}


def revenue_chart(snap: Mapping[str, Any], t: Texts) -> dict[str, Any]:
    rows = snap["owner"]["revenue_by_month"]
    return {
        "type": "bar",
        "data": {
            "labels": [r["month"] for r in rows],
            "datasets": [
                {"label": t("Revenue"), "data": [r["revenue"] for r in rows],
                 "backgroundColor": PALETTE[0], "yAxisID": "y"},
                {"label": t("Repeat share of revenue"), "type": "line", "yAxisID": "y2",
                 "data": [r["repeat_share"] for r in rows], "borderColor": PALETTE[1]},
            ],
        },
        "options": _opts(y2=True),
    }  # fmt: skip


def _by_segment(
    rows: Sequence[Mapping[str, Any]], value: str, t: Texts
) -> tuple[list[str], list[dict[str, Any]]]:
    dates = sorted({r["as_of"] for r in rows})
    segments = sorted({r["segment"] for r in rows})
    table = {(r["as_of"], r["segment"]): r[value] for r in rows}
    sets = [
        {"label": t.segment(s), "data": [table.get((d, s), 0) for d in dates],
         "backgroundColor": PALETTE[i % len(PALETTE)], "borderColor": PALETTE[i % len(PALETTE)],
         "fill": True}
        for i, s in enumerate(segments)
    ]  # fmt: skip
    return dates, sets


def segments_chart(snap: Mapping[str, Any], t: Texts, value: str = "customers") -> dict[str, Any]:
    dates, sets = _by_segment(snap["owner"]["segments"], value, t)
    return {"type": "bar", "data": {"labels": dates, "datasets": sets}, "options": _opts(True)}


def programme_chart(snap: Mapping[str, Any], t: Texts) -> dict[str, Any]:
    months = snap["owner"]["programme"]["months"]
    return {
        "type": "bar",
        "data": {
            "labels": [m["month"] for m in months],
            "datasets": [
                {"label": t("Incremental revenue"),
                 "data": [m["incremental_revenue"] or 0 for m in months],
                 "backgroundColor": PALETTE[2]},
                {"label": t("interval"),
                 "data": [[m["incremental_revenue_low"] or 0, m["incremental_revenue_high"] or 0]
                          for m in months],
                 "backgroundColor": "rgba(42,157,143,0.25)"},
            ],
        },
        "options": _opts() | {"scales": {"y": {}}},
    }  # fmt: skip


def planned_chart(planned: Sequence[Mapping[str, Any]], t: Texts) -> dict[str, Any]:
    days = sorted({p["day"] for p in planned})
    channels = sorted({p["channel"] for p in planned})
    table = {(p["day"], p["channel"]): p["messages"] for p in planned}
    return {
        "type": "bar",
        "data": {
            "labels": days,
            "datasets": [
                {"label": c, "data": [table.get((d, c), 0) for d in days],
                 "backgroundColor": PALETTE[i % len(PALETTE)]}
                for i, c in enumerate(channels)
            ] or [{"label": t("Planned"), "data": [0 for _ in days]}],
        },
        "options": _opts(True),
    }  # fmt: skip


def funnel_chart(book: Mapping[str, Any], t: Texts) -> dict[str, Any]:
    stages = ["due", "sent", "delivered", "opened", "clicked", "converted"]
    names = {"due": t("Due"), "sent": t("Sent"), "delivered": t("Delivered"),
             "opened": t("Opened"), "clicked": t("Clicked"), "converted": t("Converted")}  # fmt: skip
    steps = book["funnel"]
    return {
        "type": "bar",
        "data": {
            "labels": [f"{s['step']} ({s['channel']})" for s in steps],
            "datasets": [
                {"label": names[k], "data": [s[k] for s in steps],
                 "backgroundColor": PALETTE[i]}
                for i, k in enumerate(stages)
            ],
        },
        "options": _opts(),
    }  # fmt: skip


def segment_sizes_chart(snap: Mapping[str, Any], t: Texts) -> dict[str, Any]:
    rows = snap["analyst"]["segment_sizes"]
    scheme = snap["owner"].get("segment_scheme")
    rows = [r for r in rows if r["scheme"] == scheme] or rows[:20]
    return {
        "type": "bar",
        "data": {
            "labels": [t.segment(r["segment"]) for r in rows],
            "datasets": [{"label": t("Customers"), "data": [r["customers"] for r in rows],
                          "backgroundColor": PALETTE[0]}],
        },
        "options": _opts() | {"indexAxis": "y"},
    }  # fmt: skip
