from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import approx_fprime
from scipy.special import betaln
from scipy.stats import gamma as gamma_dist

from livebase.errors import ModelError
from livebase.models import MBGNBD, CustomerSummary, mbgnbd_log_likelihood, simulate_mbgnbd
from livebase.models import mbgnbd as mbgnbd_module


def _likelihood_by_integration(
    r: float, alpha: float, a: float, b: float, x: int, t_x: float, T: float
) -> float:
    """Dropout chance after every purchase: p by its Beta moments, lambda integrated numerically."""
    alive_p = float(np.exp(betaln(a, b + x + 1) - betaln(a, b)))  # E[(1-p)^(x+1)]
    dead_p = float(np.exp(betaln(a + 1, b + x) - betaln(a, b)))  # E[p (1-p)^x]

    def given_lam(lam: float) -> float:
        alive = alive_p * lam**x * np.exp(-lam * T)
        dead = dead_p * lam**x * np.exp(-lam * t_x)
        return float((alive + dead) * gamma_dist.pdf(lam, r, scale=1 / alpha))

    return float(quad(given_lam, 0, np.inf, limit=200, epsrel=1e-10)[0])


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 30.0), (3, 12.0, 38.0)])
def test_likelihood_equals_the_integrated_individual_likelihood(
    x: int, t_x: float, T: float
) -> None:
    params = (0.8, 6.0, 1.5, 3.0)
    closed = float(np.exp(mbgnbd_log_likelihood(*params, [x], [t_x], [T])[0]))
    assert closed == pytest.approx(_likelihood_by_integration(*params, x, t_x, T), rel=1e-6)


def test_analytic_gradient_matches_finite_differences() -> None:
    s = simulate_mbgnbd(2000, r=0.5, alpha=5, a=0.8, b=2.5, T=np.linspace(10, 40, 2000), seed=3)
    x, t_x, T = (s[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    w = np.ones_like(x)
    z = np.log([0.7, 3.0, 1.3, 2.0])
    _, grad = mbgnbd_module._neg_ll_and_grad(z, x, t_x, T, w)
    numeric = approx_fprime(z, lambda v: mbgnbd_module._neg_ll_and_grad(v, x, t_x, T, w)[0], 1e-7)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def test_fit_recovers_the_parameters_of_simulated_data() -> None:
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    s = simulate_mbgnbd(40_000, **truth, T=np.linspace(20, 52, 40_000), seed=12)
    m = MBGNBD.fit_arrays(s["x"], s["t_x"], s["T"])
    for name, value in truth.items():
        assert m.params[name] == pytest.approx(value, rel=0.12), name


def test_expected_purchases_new_matches_the_simulated_mean() -> None:
    m = MBGNBD(r=0.6, alpha=5.0, a=0.9, b=2.5, log_likelihood=0.0, customers=0)
    sim = simulate_mbgnbd(200_000, **m.params, T=26.0, seed=8)
    assert float(sim["x"].mean()) == pytest.approx(m.expected_purchases_new([26.0])[0], rel=0.02)


def test_conditional_expectations_average_to_the_unconditional_increment() -> None:
    m = MBGNBD(r=0.6, alpha=5.0, a=0.9, b=2.5, log_likelihood=0.0, customers=0)
    calib = simulate_mbgnbd(200_000, **m.params, T=30.0, seed=5)
    increment = m.expected_purchases_new([60.0])[0] - m.expected_purchases_new([30.0])[0]
    cond = m.expected_purchases(30.0, calib["x"], calib["t_x"], calib["T"])
    assert float(cond.mean()) == pytest.approx(increment, rel=0.02)


def test_one_time_buyers_may_be_gone_unlike_bgnbd(cdnow_summary: CustomerSummary) -> None:
    m = MBGNBD.fit(cdnow_summary)
    p = m.p_alive([0], [0.0], [38.86])[0]
    assert 0.0 < p < 1.0
    assert m.log_likelihood < 0 and m.customers == 2357


def test_nobody_buying_twice_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="nobody made a repeat purchase"):
        MBGNBD.fit_arrays([0, 0], [0.0, 0.0], [3.0, 4.0])


def test_save_and_load_round_trip() -> None:
    m = MBGNBD(r=0.5, alpha=5.0, a=1.2, b=3.0, log_likelihood=-10.0, customers=5)
    assert MBGNBD.from_dict(m.to_dict()) == m
