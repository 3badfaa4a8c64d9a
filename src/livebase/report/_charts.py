"""The report's charts as inline SVG (matplotlib, text drawn as paths: no fonts, no network).

Each chart's element ids get a prefix of its own, so several SVGs live in one HTML page
without clashing ``id``/``href="#…"`` references.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from livebase.report._data import TREEMAP_SIZE
from livebase.segments import Transitions
from livebase.segments.settings import NAMED_ORDER

__all__ = [
    "grid_svg",
    "history_svg",
    "segment_colours",
    "transitions_svg",
    "treemap_svg",
]

_RC = {
    "svg.fonttype": "path",
    "svg.hashsalt": "livebase-report",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
GROUP_COLOURS = {
    "core": "#1a9850",
    "growing": "#66bd63",
    "pre_churn": "#f46d43",
    "churn": "#a50026",
}
_NAMED_COLOURS = dict(
    zip(
        NAMED_ORDER,
        (
            "#1a9850",
            "#4daf4a",
            "#91cf60",
            "#74add1",
            "#abd9e9",
            "#fee08b",
            "#fdae61",
            "#f46d43",
            "#d73027",
            "#9e7a5a",
            "#7f7f7f",
        ),
        strict=True,
    )
)
_NEUTRAL = "#d9d9d9"


def segment_colours(segments: Sequence[str]) -> dict[str, str]:
    """A colour per segment: the named map's own palette (green best … grey lost); other
    names along the same green-to-red scale in their order; the no-purchase segment grey."""
    from matplotlib import colormaps, colors

    out: dict[str, str] = {}
    others = [s for s in segments if s not in _NAMED_COLOURS]
    scale = colormaps["RdYlGn_r"]
    for s in segments:
        if s in _NAMED_COLOURS:
            out[s] = _NAMED_COLOURS[s]
    for i, s in enumerate(others):
        out[s] = colors.to_hex(scale(0.1 + 0.8 * i / max(1, len(others) - 1)))
    if segments and segments[-1] in others:
        out[segments[-1]] = _NEUTRAL  # the no-purchase segment closes every order
    return out


def _svg(draw: Callable[[Any], Any], prefix: str, size: tuple[float, float]) -> str:
    """Run ``draw(fig)`` on a new figure and return the ``<svg>`` element, ids prefixed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with matplotlib.rc_context(cast(Any, _RC)):
        fig = plt.figure(figsize=size)
        try:
            draw(fig)
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        finally:
            plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", text)
    # scale with the page: drop the fixed size of the root element, keep its viewBox
    head, rest = text.split(">", 1)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    return f'{head} class="chart" role="img">{rest}'


def _ink(colour: str) -> str:
    from matplotlib import colors

    r, g, b = colors.to_rgb(colour)
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 0.55 else "#1a1a1a"


def treemap_svg(
    tiles: pd.DataFrame,
    names: dict[str, str],
    colours: dict[str, str],
    titles: dict[str, str],
    fmt: dict[str, Callable[[float], str]],
) -> str:
    """Two treemaps side by side (``measure`` customers and revenue) from the layout tiles.

    ``names``: segment → label; ``titles`` and ``fmt``: per measure, the panel title and the
    value formatter (``fmt["share"]`` formats shares).
    """
    width, height = TREEMAP_SIZE
    measures = [m for m in ("customers", "revenue") if m in titles]

    def draw(fig: Any) -> None:
        from matplotlib.patches import Rectangle

        axes = fig.subplots(1, len(measures))
        for ax, measure in zip(np.atleast_1d(axes), measures, strict=True):
            ax.set_xlim(0, width)
            ax.set_ylim(height, 0)
            ax.set_axis_off()
            ax.set_title(titles[measure], loc="left", fontsize=11, fontweight="bold")
            for tile in tiles[tiles["measure"] == measure].to_dict("records"):
                x, y = float(tile["x"]), float(tile["y"])
                w, h = float(tile["w"]), float(tile["h"])
                colour = colours.get(str(tile["segment"]), _NEUTRAL)
                ax.add_patch(Rectangle((x, y), w, h, facecolor=colour, edgecolor="white", lw=2))
                area = w * h / (width * height)
                if area < 0.012 or min(w, h) < 0.07:
                    continue
                big = area > 0.06 and w > 0.3
                size = 10 if big else 7.5
                # panel ≈ 3.7 in per layout unit; a DejaVu character ≈ 0.6 em wide
                chars = max(6, int(w * 3.7 * 72 / (0.62 * size)))
                segment = str(tile["segment"])
                name = textwrap.fill(names.get(segment, segment), chars)
                value = fmt[measure](float(tile["value"]))
                share = fmt["share"](float(tile["share"]))
                label = f"{name}\n{value}\n{share}" if h > 0.16 else name
                ax.text(
                    x + 0.012,
                    y + 0.015,
                    label,
                    va="top",
                    ha="left",
                    fontsize=size,
                    color=_ink(colour),
                    fontweight="bold" if big else "normal",
                    clip_on=True,
                )
        fig.tight_layout(w_pad=2)

    return _svg(draw, "treemap", (12.5, 4.4))


def grid_svg(
    grid: pd.DataFrame,
    m_titles: dict[str, str],
    axis: tuple[str, str],
    colour_group: dict[str, str],
    fmt_customers: Callable[[int], str],
    fmt_share: Callable[[float], str],
) -> str:
    """The 27-cell A/B/C grid: one 3×3 square (R rows × F columns) per M letter.

    Cells are shaded by customers; a frame in the colour of the cell's strategic group.
    ``axis``: the R and F axis titles; ``m_titles``: M letter → square title.
    """
    top = max(1, int(grid["customers"].max())) if len(grid) else 1

    def draw(fig: Any) -> None:
        from matplotlib import colormaps
        from matplotlib.patches import Rectangle

        cmap = colormaps["Blues"]
        axes = fig.subplots(1, 3)
        for ax, m in zip(axes, "ABC", strict=True):
            ax.set_xlim(-0.5, 2.5)
            ax.set_ylim(2.5, -0.5)
            ax.set_aspect("equal")
            ax.set_xticks(range(3), ["A", "B", "C"])
            ax.set_yticks(range(3), ["A", "B", "C"])
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_xlabel(axis[1])
            ax.set_ylabel(axis[0])
            ax.xaxis.set_label_position("top")
            ax.xaxis.tick_top()
            ax.set_title(m_titles[m], fontsize=11, fontweight="bold", y=-0.14)
            for row in grid[grid["m"] == m].to_dict("records"):
                i, j = "ABC".index(str(row["r"])), "ABC".index(str(row["f"]))
                customers = int(row["customers"])
                level = 0.08 + 0.82 * (customers / top) ** 0.5
                face = cmap(level) if customers else "#f7f7f7"
                ax.add_patch(
                    Rectangle(
                        (j - 0.46, i - 0.46),
                        0.92,
                        0.92,
                        facecolor=face,
                        edgecolor=colour_group[str(row["group"])],
                        lw=3,
                    )
                )
                ink = "white" if customers and level > 0.55 else "#1a1a1a"
                ax.text(
                    j, i - 0.22, str(row["cell"]), ha="center", va="center", fontsize=8, color=ink
                )
                ax.text(
                    j,
                    i + 0.02,
                    fmt_customers(customers),
                    ha="center",
                    va="center",
                    fontsize=10,
                    fontweight="bold",
                    color=ink,
                )
                ax.text(
                    j,
                    i + 0.25,
                    fmt_share(float(row["revenue_share"])),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=ink,
                )
        fig.tight_layout(w_pad=3)

    return _svg(draw, "grid", (11.5, 4.3))


def transitions_svg(
    t: Transitions, names: dict[str, str], axis: tuple[str, str], colour_label: str
) -> str:
    """The transition matrix: cells shaded by row share, customers written in them."""
    shares = t.shares.to_numpy()
    counts = t.counts.to_numpy()
    rows = [names.get(str(x), str(x)) for x in t.shares.index]
    cols = [names.get(str(x), str(x)) for x in t.shares.columns]
    n = max(len(rows), len(cols))
    size = (min(10.0, 2.6 + 0.48 * len(cols)), min(8.0, 1.4 + 0.36 * len(rows)))

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(cols)), cols, rotation=35, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if n <= 20:
            for i in range(len(rows)):
                for j in range(len(cols)):
                    if counts[i, j]:
                        ax.text(
                            j,
                            i,
                            f"{counts[i, j]:,}".replace(",", " "),
                            ha="center",
                            va="center",
                            fontsize=7.5,
                            color="white" if shares[i, j] > 0.55 else "#1a1a1a",
                        )
        ax.set_xlabel(axis[1])
        ax.set_ylabel(axis[0])
        fig.colorbar(image, ax=ax, label=colour_label, fraction=0.035, pad=0.02)
        fig.tight_layout()

    return _svg(draw, "transitions", size)


def history_svg(
    history: pd.DataFrame,
    names: dict[str, str],
    colours: dict[str, str],
    axis: str,
) -> str:
    """Stacked bars: customers per segment at each run (best segment at the bottom)."""
    wide = history.pivot_table(
        index="as_of", columns="segment", values="customers", aggfunc="sum", fill_value=0
    )
    order = (
        history.drop_duplicates("segment").sort_values(["position", "segment"])["segment"].tolist()
    )
    wide = wide.reindex(columns=order, fill_value=0)

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        x = np.arange(len(wide.index))
        bottom = np.zeros(len(wide.index))
        for segment in wide.columns:
            values = wide[segment].to_numpy(dtype=float)
            ax.bar(
                x,
                values,
                bottom=bottom,
                color=colours.get(str(segment), _NEUTRAL),
                label=names.get(str(segment), str(segment)),
                width=0.7,
                edgecolor="white",
                linewidth=0.5,
            )
            bottom += values
        ax.set_xticks(x, [d.isoformat() for d in wide.index], rotation=30, ha="right")
        ax.set_ylabel(axis)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}".replace(",", " "))
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False
        )
        fig.tight_layout()

    return _svg(draw, "history", (10.5, 3.8))
