"""The replay chart: planned messages per week and playbook (PNG, matplotlib Agg)."""

from __future__ import annotations

import io
from collections import defaultdict

from livebase.orchestrate.replay import ReplayResult

__all__ = ["replay_chart_png"]


def replay_chart_png(result: ReplayResult) -> bytes:
    """Stacked bars of messages per week, one colour per playbook."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    weeks = sorted({row["week"] for row in result.weekly})
    by: dict[str, dict[object, int]] = defaultdict(dict)
    for row in result.weekly:
        by[str(row["playbook"])][row["week"]] = int(row["messages"])
    fig = Figure(figsize=(9, 4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    bottom = [0] * len(weeks)
    labels = [w.isoformat() if hasattr(w, "isoformat") else str(w) for w in weeks]
    for name in sorted(by):
        values = [by[name].get(w, 0) for w in weeks]
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"Replay {result.start} – {result.end}: planned messages per week")
    ax.set_ylabel("messages")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
