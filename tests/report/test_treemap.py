"""The squarified layout tiles the rectangle exactly: areas are shares, no overlaps, no gaps."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.report import squarify

values = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30)
sizes = st.tuples(st.floats(0.2, 5.0), st.floats(0.2, 5.0))


@settings(max_examples=150, deadline=None)
@given(values, sizes)
def test_tiles_partition_the_rectangle_by_value(vs: list[float], size: tuple[float, float]) -> None:
    width, height = size
    tiles = squarify(vs, width, height)
    positive = [i for i, v in enumerate(vs) if v > 0]
    assert [t.index for t in tiles] == positive
    total = sum(vs)
    for t in tiles:
        assert t.w * t.h == pytest.approx(vs[t.index] / total * width * height, rel=1e-6, abs=1e-9)
        assert t.x >= -1e-9 and t.y >= -1e-9
        assert t.x + t.w <= width * (1 + 1e-9) and t.y + t.h <= height * (1 + 1e-9)
    for a, b in itertools.combinations(tiles, 2):
        dx = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
        dy = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
        assert dx <= 1e-7 or dy <= 1e-7, (a, b)  # touching at most
    if tiles:
        assert sum(t.w * t.h for t in tiles) == pytest.approx(width * height)


def test_equal_values_in_a_square_make_squares() -> None:
    tiles = squarify([1, 1, 1, 1], 2.0, 2.0)
    assert {(round(t.w, 9), round(t.h, 9)) for t in tiles} == {(1.0, 1.0)}


def test_the_paper_example_keeps_every_aspect_ratio_below_three() -> None:
    # Bruls et al. (2000), Fig. 2: values 6, 6, 4, 3, 2, 2, 1 in a 6 × 4 rectangle
    tiles = squarify([6, 6, 4, 3, 2, 2, 1], 6.0, 4.0)
    assert max(max(t.w / t.h, t.h / t.w) for t in tiles) < 3
    assert squarify([0, 0], 1.0, 1.0) == []
