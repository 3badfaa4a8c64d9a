"""Charts a manager can open: lift with confidence-interval bars, and the Qini curve.

Both return PNG bytes (no files are written here; the CLI saves them). Figures are built with
matplotlib's object API on the Agg canvas: no pyplot global state, no display needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from livebase.errors import ExperimentError
from livebase.measure.readout import Readout
from livebase.measure.uplift_metrics import ArmEvaluation

__all__ = ["lift_chart_png", "qini_chart_png"]


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def lift_chart_png(readout: Readout, relative: bool = True) -> bytes:
    """Horizontal bars of each (arm, outcome) lift with its confidence interval as error bars.

    Relative lifts (%) by default, so outcomes on different scales share one axis.
    Significant lifts are drawn solid, the others hatched.
    """
    rows = [c for c in readout.comparisons if np.isfinite(c.lift)]
    if not rows:
        raise ExperimentError(f"experiment '{readout.experiment}' has no lift to chart")
    labels = [f"{c.arm} · {c.outcome}" for c in rows]
    if relative:
        est = np.array([c.relative_lift for c in rows], dtype=np.float64) * 100.0
        lo = np.array([c.relative_ci_low for c in rows], dtype=np.float64) * 100.0
        hi = np.array([c.relative_ci_high for c in rows], dtype=np.float64) * 100.0
    else:
        est = np.array([c.lift for c in rows], dtype=np.float64)
        lo = np.array([c.ci_low for c in rows], dtype=np.float64)
        hi = np.array([c.ci_high for c in rows], dtype=np.float64)
    err = np.vstack([np.nan_to_num(est - lo), np.nan_to_num(hi - est)])
    fig = Figure(figsize=(8.0, 0.55 * len(rows) + 1.6))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(rows))[::-1]
    colors = ["#2a7ab9" if c.significant else "#b0b0b0" for c in rows]
    bars = ax.barh(y, np.nan_to_num(est), color=colors, xerr=err, capsize=4, height=0.6)
    for bar, c in zip(bars, rows, strict=True):
        if not c.significant:
            bar.set_hatch("//")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels)
    level = round((1.0 - readout.alpha) * 100)
    ax.set_xlabel(f"{'relative lift, %' if relative else 'absolute lift'} ({level}% CI)")
    title = f"{readout.experiment or 'experiment'}: lift vs {readout.control}"
    if readout.srm is not None and readout.srm.mismatch:
        title += "  — SAMPLE RATIO MISMATCH"
    ax.set_title(title)
    return _png(fig)


def qini_chart_png(evaluations: Sequence[ArmEvaluation], title: str = "Qini curve") -> bytes:
    """Qini curve of each treatment arm against the random-targeting line (held-out data)."""
    if not evaluations:
        raise ExperimentError("no uplift evaluation to chart")
    fig = Figure(figsize=(7.0, 5.0))
    ax = fig.add_subplot(1, 1, 1)
    for ev in evaluations:
        x = ev.curve["fraction"].to_numpy() * 100.0
        (line,) = ax.plot(
            x,
            ev.curve["qini"].to_numpy(),
            label=f"{ev.arm} (Qini coef. {ev.summary.qini_coefficient:.3f})",
        )
        ax.plot(x, ev.curve["random"].to_numpy(), linestyle="--", color=line.get_color())
    ax.set_xlabel("customers targeted, % (highest predicted uplift first)")
    ax.set_ylabel("incremental responses (Qini)")
    ax.set_title(title + " — dashed: random targeting")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _png(fig)
