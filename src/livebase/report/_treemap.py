"""Squarified treemap layout: rectangles with areas proportional to values, close to square.

The algorithm of Bruls, Huizing & van Wijk (2000), "Squarified Treemaps", Proc. Joint
Eurographics and IEEE TCVG Symposium on Visualization, pp. 33–42: values sorted from the
largest, rectangles are added to the current row along the shorter side of the free space while
the worst aspect ratio of the row improves (the ``worst`` function, p. 36); then the row is
laid out and the free space shrinks.

>>> tiles = squarify([6, 6, 4, 3, 2, 2, 1], 6.0, 4.0)
>>> [round(t.w * t.h, 6) for t in tiles]
[6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Tile", "squarify"]


@dataclass(frozen=True)
class Tile:
    """One rectangle: the index of its value in the input, its corner and size."""

    index: int
    x: float
    y: float
    w: float
    h: float


def _worst(row: Sequence[float], side: float) -> float:
    """The largest aspect ratio of ``row`` (areas) laid along a side of length ``side``."""
    total = sum(row)
    big, small = max(row), min(row)
    if small <= 0 or total <= 0:  # an area too small to draw (underflow)
        return math.inf
    ratio = side / total  # written so that tiny areas neither underflow nor divide by zero
    return max(
        big * ratio * ratio, 1 / (ratio * ratio * small) if ratio * ratio * small else math.inf
    )


def squarify(values: Sequence[float], width: float, height: float) -> list[Tile]:
    """Tiles of the ``width`` × ``height`` rectangle, one per positive value, in input order.

    Zero and negative values get no tile. Areas are ``value / sum(values) * width * height``.
    """
    items = sorted(
        ((float(v), i) for i, v in enumerate(values) if v > 0), key=lambda p: (-p[0], p[1])
    )
    if not items or width <= 0 or height <= 0:
        return []
    peak = items[0][0]  # relative to the largest value: no overflow for tiny or huge inputs
    total = sum(v / peak for v, _ in items)
    areas = [(v / peak / total * width * height, i) for v, i in items]
    tiles: list[Tile] = []
    x, y, w, h = 0.0, 0.0, float(width), float(height)
    start = 0
    while start < len(areas):
        side = min(w, h)
        end = start + 1
        while end < len(areas) and _worst([a for a, _ in areas[start : end + 1]], side) <= _worst(
            [a for a, _ in areas[start:end]], side
        ):
            end += 1
        row = areas[start:end]
        row_area = sum(a for a, _ in row)
        last = end == len(areas)
        along = h if w >= h else w  # the side the row is laid along
        # thickness from the area (the remaining space for the last row); the side is split
        # in proportion to the areas, so the row fills it exactly
        room = w if w >= h else h
        thick = room if last or along <= 0 else min(room, row_area / along)
        offset = 0.0
        for a, i in row:
            length = along * (a / row_area if row_area > 0 else 1 / len(row))
            if w >= h:  # the row is a column on the left of the free space
                tiles.append(Tile(i, x, y + offset, thick, length))
            else:  # the row is a band along the top of the free space
                tiles.append(Tile(i, x + offset, y, length, thick))
            offset += length
        if w >= h:
            x, w = x + thick, max(0.0, w - thick)
        else:
            y, h = y + thick, max(0.0, h - thick)
        start = end
    return sorted(tiles, key=lambda t: t.index)
