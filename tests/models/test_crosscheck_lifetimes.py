"""Cross-check with a maintained library: lifetimes 0.11.3 on the same data.

lifetimes is a test-only dependency (``pip install lifetimes==0.11.3``); without it these tests
are skipped with that reason (and fail under CI=true, where the comparison must run).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from livebase.models import BGNBD, MBGNBD, CustomerSummary, GammaGamma, simulate_mbgnbd


def _lifetimes():  # type: ignore[no-untyped-def]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import lifetimes
    except Exception as exc:  # not installed, or broken on this numpy/pandas
        reason = f"lifetimes is not usable here ({type(exc).__name__}: {exc})"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    return lifetimes


def test_bgnbd_parameters_and_predictions_agree_with_lifetimes(
    cdnow_summary: CustomerSummary,
) -> None:
    lt = _lifetimes()
    s = cdnow_summary.table
    ref = lt.BetaGeoFitter().fit(s["x"], s["t_x"], s["T"])
    ours = BGNBD.fit(cdnow_summary)
    for name in ("r", "alpha", "a", "b"):
        assert ours.params[name] == pytest.approx(float(ref.params_[name]), rel=1e-3), name
    theirs_e = ref.conditional_expected_number_of_purchases_up_to_time(39, s["x"], s["t_x"], s["T"])
    ours_e = ours.expected_purchases(39, s["x"], s["t_x"], s["T"])
    assert ours_e == pytest.approx(np.asarray(theirs_e), rel=2e-3)
    theirs_p = ref.conditional_probability_alive(s["x"], s["t_x"], s["T"])
    assert ours.p_alive(s["x"], s["t_x"], s["T"]) == pytest.approx(np.asarray(theirs_p), rel=2e-3)


def test_gamma_gamma_agrees_with_lifetimes(cdnow_summary: CustomerSummary) -> None:
    lt = _lifetimes()
    s = cdnow_summary.table
    s = s[s["monetary_x"] > 0]
    ref = lt.GammaGammaFitter().fit(s["monetary_x"], s["monetary_value"])
    ours = GammaGamma.fit(cdnow_summary)
    for name in ("p", "q", "v"):
        assert ours.params[name] == pytest.approx(float(ref.params_[name]), rel=1e-3), name
    theirs = ref.conditional_expected_average_profit(s["monetary_x"], s["monetary_value"])
    ours_aov = ours.expected_aov(s["monetary_x"], s["monetary_value"])
    assert ours_aov == pytest.approx(np.asarray(theirs), rel=1e-3)


def test_mbgnbd_agrees_with_lifetimes_on_simulated_data() -> None:
    lt = _lifetimes()
    s = simulate_mbgnbd(5000, r=0.5, alpha=5.0, a=0.8, b=2.5, T=np.linspace(20, 40, 5000), seed=3)
    ref = lt.ModifiedBetaGeoFitter().fit(s["x"], s["t_x"], s["T"])
    ours = MBGNBD.fit_arrays(s["x"], s["t_x"], s["T"])
    for name in ("r", "alpha", "a", "b"):
        assert ours.params[name] == pytest.approx(float(ref.params_[name]), rel=1e-3), name
    theirs_new = ref.expected_number_of_purchases_up_to_time(pd.Series([1.0, 10.0, 50.0]))
    assert ours.expected_purchases_new([1.0, 10.0, 50.0]) == pytest.approx(
        np.asarray(theirs_new), rel=1e-4
    )
