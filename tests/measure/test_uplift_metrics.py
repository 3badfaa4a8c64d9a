"""Held-out uplift metrics: the Qini curve and coefficient against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from livebase.measure import qini_curve, qini_summary


def test_qini_curve_matches_a_hand_computation() -> None:
    y = np.array([1, 0, 1, 1, 0, 0])
    w = np.array([1, 0, 0, 1, 1, 0], dtype=bool)
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    q = qini_curve(y, w, score)["qini"].tolist()
    # k=1: Yt=1; k=2: 1-0*1/1=1; k=3: 1-1*1/2=0.5; k=4: 2-1*2/2=1; k=5: 2-1*3/2=0.5; k=6: 2-1=1
    assert q == pytest.approx([0.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.0])


def test_a_perfect_ranking_has_qini_coefficient_one_and_a_reversed_one_is_negative() -> None:
    rng = np.random.default_rng(0)
    w = rng.random(2000) < 0.5
    y = (rng.random(2000) < np.where(w, 0.3, 0.1)).astype(float)
    perfect = y * w - y * ~w
    assert qini_summary(y, w, perfect).qini_coefficient == pytest.approx(1.0)
    assert qini_summary(y, w, -perfect).qini_coefficient < 0


def test_random_scores_give_a_qini_coefficient_near_zero() -> None:
    rng = np.random.default_rng(1)
    w = rng.random(20_000) < 0.5
    y = (rng.random(20_000) < np.where(w, 0.2, 0.1)).astype(float)
    s = qini_summary(y, w, rng.random(20_000))
    assert abs(s.qini_coefficient) < 0.05
    assert s.auuc_random == pytest.approx((y[w].mean() - y[~w].mean()) / 2, rel=1e-6)
