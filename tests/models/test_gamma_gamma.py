from __future__ import annotations

import contextlib
import warnings
from datetime import date

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import approx_fprime
from scipy.stats import gamma as gamma_dist

from livebase.errors import ConvergenceError, ModelError
from livebase.models import (
    CustomerSummary,
    FrequencyValueCorrelationWarning,
    GammaGamma,
    gamma_gamma_log_likelihood,
)
from livebase.models import gamma_gamma as gg_module


def test_cdnow_fit_matches_fader_hardies_note(cdnow_summary: CustomerSummary) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FrequencyValueCorrelationWarning)
        m = GammaGamma.fit(cdnow_summary)
    assert (round(m.p, 2), round(m.q, 2), round(m.v, 2)) == (6.25, 3.74, 15.44)
    assert m.customers == 946
    assert m.correlation == pytest.approx(0.11, abs=0.01)  # the note reports r = 0.11


def test_likelihood_equals_integration_over_the_customer_scale() -> None:
    p, q, v, x, m = 6.25, 3.74, 15.44, 3, 22.35

    def integrand(nu: float) -> float:
        # the mean of x Gamma(p, nu) values is Gamma(px, x·nu); nu ~ Gamma(q, v)
        return float(
            gamma_dist.pdf(m, p * x, scale=1 / (x * nu)) * gamma_dist.pdf(nu, q, scale=1 / v)
        )

    expected = np.log(quad(integrand, 0, np.inf)[0])
    got = gamma_gamma_log_likelihood(p, q, v, [x], [m])[0]
    assert got == pytest.approx(expected, rel=1e-7)


def test_analytic_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 8, 500).astype(float)
    m = rng.gamma(3.0, 10.0, 500)
    w = np.ones_like(x)
    z = np.log([2.0, 3.0, 10.0])
    _, grad = gg_module._neg_ll_and_grad(z, x, m, w)
    numeric = approx_fprime(z, lambda v: gg_module._neg_ll_and_grad(v, x, m, w)[0], 1e-7)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def test_fit_recovers_parameters_of_simulated_spend() -> None:
    rng = np.random.default_rng(4)
    n, p, q, v = 100_000, 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, n)
    x = rng.integers(1, 10, n)
    m = rng.gamma(p * x, 1 / (x * nu))  # mean of x Gamma(p, nu) draws
    fit = GammaGamma.fit_arrays(x, m)
    assert fit.p == pytest.approx(p, rel=0.1)
    assert fit.q == pytest.approx(q, rel=0.1)
    assert fit.v == pytest.approx(v, rel=0.15)


def test_correlated_frequency_and_value_warns_with_the_correlation() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(1, 10, 2000)
    m = 10.0 * x + rng.gamma(2.0, 2.0, 2000)
    # the warning comes before the fit; the fit itself may not converge on such data (it does
    # not identify the model), which is then a ConvergenceError, not a silent forecast
    with (
        pytest.warns(FrequencyValueCorrelationWarning, match=r"Pearson r = 0\.9"),
        contextlib.suppress(ConvergenceError),
    ):
        GammaGamma.fit_arrays(x, m)


def test_expected_aov_shrinks_the_customer_mean_toward_the_population_mean() -> None:
    m = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, customers=1)
    pop = m.population_mean
    low, high, none = m.expected_aov([2, 2, 0], [5.0, 500.0, 0.0])
    assert 5.0 < low < pop < high < 500.0
    assert none == pytest.approx(pop)
    # more transactions: closer to the customer's own mean
    assert m.expected_aov([20], [500.0])[0] > high


def test_extreme_outliers_still_give_finite_expected_values() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(1, 5, 500)
    m = rng.gamma(5.0, 8.0, 500)
    m[:3] = [1e7, 5e8, 2e9]
    fit = GammaGamma.fit_arrays(x, m)
    try:
        values = fit.expected_aov(np.r_[x, 0], np.r_[m, 0.0])
    except ModelError as exc:  # documented: a tail too heavy for a finite mean is an error
        assert "no finite mean" in str(exc)
    else:
        assert np.isfinite(values).all()


def test_too_few_repeat_buyers_or_no_spread_are_clear_errors() -> None:
    with pytest.raises(ModelError, match="at least 10"):
        GammaGamma.fit_arrays([1, 2], [3.0, 4.0])
    with pytest.raises(ModelError, match="same average order value"):
        GammaGamma.fit_arrays([1] * 20, [5.0] * 20)
    with pytest.raises(ModelError, match="monetary_x > 0"):
        GammaGamma.fit_arrays([0, 1], [0.0, 2.0])


def test_heavy_tail_without_a_mean_is_an_error_not_nan() -> None:
    m = GammaGamma(p=2.0, q=0.8, v=10.0, log_likelihood=0.0, customers=1)
    with pytest.raises(ModelError, match="no finite mean"):
        m.expected_aov([0], [0.0])


def test_save_and_load_keeps_the_correlation() -> None:
    m = GammaGamma(
        p=6.25,
        q=3.74,
        v=15.44,
        correlation=0.11,
        log_likelihood=-1.0,
        customers=946,
        until=date(1997, 9, 30),
    )
    assert GammaGamma.from_dict(m.to_dict()) == m
