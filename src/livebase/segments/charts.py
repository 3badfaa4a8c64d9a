"""Transition heatmaps: a PNG (matplotlib) or a self-contained HTML table (no scripts, no CDN)."""

from __future__ import annotations

import html
import io

from livebase.segments.labels import Language, label
from livebase.segments.transitions import Transitions

__all__ = ["transitions_html", "transitions_png"]


def transitions_png(t: Transitions, *, lang: Language = "en") -> bytes:
    """The row-share heatmap with counts in the cells, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shares = t.shares.to_numpy()
    rows = [label(str(x), lang) for x in t.shares.index]
    cols = [label(str(x), lang) for x in t.shares.columns]
    size = max(4.0, 0.55 * max(len(rows), len(cols)) + 2)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    counts = t.counts.to_numpy()
    if len(rows) * len(cols) <= 400:
        for i in range(len(rows)):
            for j in range(len(cols)):
                if counts[i, j]:
                    ax.text(
                        j,
                        i,
                        f"{counts[i, j]:,}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if shares[i, j] > 0.5 else "black",
                    )
    ax.set_xlabel(f"{t.end_run}")
    ax.set_ylabel(f"{t.start_run}")
    ax.set_title(f"{t.scheme}: {t.start_run} → {t.end_run}")
    fig.colorbar(image, ax=ax, label="share of the row")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def transitions_html(t: Transitions, *, lang: Language = "en") -> str:
    """A self-contained HTML page: the matrix with counts, cells shaded by row share."""
    head = "".join(f"<th>{html.escape(label(str(c), lang))}</th>" for c in t.counts.columns)
    body = []
    counts, shares = t.counts.to_numpy(), t.shares.to_numpy()
    for i, name in enumerate(t.counts.index):
        cells = []
        for j in range(counts.shape[1]):
            count, share = counts[i, j], float(shares[i, j])
            colour = f"rgba(33,113,181,{share:.3f})"
            ink = "#fff" if share > 0.5 else "#000"
            cells.append(
                f'<td style="background:{colour};color:{ink}" title="{share:.1%}">{int(count):,}</td>'
            )
        body.append(f"<tr><th>{html.escape(label(str(name), lang))}</th>{''.join(cells)}</tr>")
    title = html.escape(f"{t.scheme}: {t.start_run} → {t.end_run}")
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>'
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>{title}</h1><table><tr><th></th>{head}</tr>{''.join(body)}</table></body></html>"
    )
