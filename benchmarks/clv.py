"""CLV benchmark: our BG/NBD fit and predictions against lifetimes (the maintained reference).

Run:  .venv/bin/python benchmarks/clv.py [--fit-customers 1000000] [--predict-customers 10000000]

Simulates customers from a BG/NBD process (seeded; times recorded in whole days and expressed
in weeks, as real order data are), saves them under ``benchmarks/.data/``, then measures, with
the contenders interleaved (A B C D A B C D …) ``--runs`` times each (default 5), each run in a
fresh process (its peak memory is its own, VmHWM):

1. our fit on the fit set (target <= 5 s) against lifetimes' ``BetaGeoFitter.fit`` on the same
   data, as users call it (target: ours >= 10x faster; the largest relative parameter
   difference, <= 1e-3, is printed);
2. our predictions (P(alive) + expected purchases over 39 weeks) for the predict set (target
   <= 10 s) against lifetimes' ``conditional_probability_alive`` +
   ``conditional_expected_number_of_purchases_up_to_time`` with the same parameters;
3. our full CLV table (two horizons, monthly discounting), for reference.

Only the computation is timed: loading the simulated data in the child is left out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import DATA, Measurement, interleave, median_seconds, print_interleaved, run_step

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW's, per week


def _simulate(n: int, seed: int) -> Path:
    """The simulated (x, t_x, T) arrays of ``n`` customers, saved once under DATA."""
    path = DATA / f"bgnbd_{n}_{seed}.npz"
    if path.exists():
        return path
    from livebase.models import simulate_bgnbd

    rng = np.random.default_rng(seed)
    t_days_total = rng.integers(1, 365, n).astype(np.float64)
    sim = simulate_bgnbd(n, **TRUTH, T=t_days_total / 7.0, seed=seed)
    # record whole days, at most one purchase a day: t_x in (0, T] days for repeat buyers
    t_days = np.where(sim["x"] > 0, np.clip(np.ceil(sim["t_x"] * 7.0), 1.0, t_days_total), 0.0)
    DATA.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=np.asarray(sim["x"]), t_x=t_days / 7.0, T=t_days_total / 7.0)
    return path


def _load(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.load(path)
    return data["x"], data["t_x"], data["T"]


# -- the measured steps (each runs in a fresh process, timing itself) ---------------------------


def step_fit_ours(path: str) -> tuple[float, str]:
    from livebase.models import BGNBD

    x, t_x, T = _load(path)
    started = time.perf_counter()
    fitted = BGNBD.fit_arrays(x, t_x, T)
    seconds = time.perf_counter() - started
    return seconds, json.dumps({k: round(v, 6) for k, v in fitted.params.items()})


def step_fit_lifetimes(path: str) -> tuple[float, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

        x, t_x, T = _load(path)
        started = time.perf_counter()
        fitted = lifetimes.BetaGeoFitter().fit(x, t_x, T)
        seconds = time.perf_counter() - started
    return seconds, json.dumps({k: round(float(fitted.params_[k]), 6) for k in TRUTH})


def step_predict_ours(path: str) -> tuple[float, str]:
    from livebase.models import BGNBD

    x, t_x, T = _load(path)
    model = BGNBD(**TRUTH, log_likelihood=0.0, customers=0)
    started = time.perf_counter()
    p_alive = model.p_alive(x, t_x, T)
    expected = model.expected_purchases(39.0, x, t_x, T)
    seconds = time.perf_counter() - started
    assert np.isfinite(p_alive).all() and np.isfinite(expected).all()
    return seconds, f"sum E[purchases 39w] {float(np.sum(expected)):,.0f}"


def step_predict_lifetimes(path: str) -> tuple[float, str]:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

        x, t_x, T = _load(path)
        model = lifetimes.BetaGeoFitter()
        model.params_ = pd.Series(TRUTH)
        started = time.perf_counter()
        p_alive = model.conditional_probability_alive(x, t_x, T)
        expected = model.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T)
        seconds = time.perf_counter() - started
    assert np.isfinite(p_alive).all()
    return seconds, f"sum E[purchases 39w] {float(np.nansum(expected)):,.0f}"


def step_clv_table_ours(path: str) -> tuple[float, str]:
    import pandas as pd

    from livebase.models import BGNBD, CustomerSummary, GammaGamma, predict_clv

    x, t_x, T = _load(path)
    summary = CustomerSummary(
        table=pd.DataFrame(
            {
                "customer_id": np.arange(len(x)),
                "x": x,
                "t_x": t_x,
                "T": T,
                "monetary_value": 30.0,
                "monetary_x": x,
            }
        ),
        unit="weeks",
        until=pd.Timestamp("2024-01-01").date(),
    )
    model = BGNBD(**TRUTH, log_likelihood=0.0, customers=0)
    spend = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, customers=0)
    started = time.perf_counter()
    table = predict_clv(summary, model, spend, horizons_days=(90, 365))
    seconds = time.perf_counter() - started
    return seconds, f"{len(table):,} customers, 90 d and 365 d"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-customers", type=int, default=1_000_000)
    parser.add_argument("--predict-customers", type=int, default=10_000_000)
    parser.add_argument(
        "--runs", type=int, default=5, help="interleaved runs per step; the median counts"
    )
    args = parser.parse_args()
    fit_data = str(_simulate(args.fit_customers, seed=1))
    predict_data = str(_simulate(args.predict_customers, seed=2))

    def step(name: str, function: str, path: str) -> Callable[[], Measurement]:
        return partial(run_step, name, "clv", function, path, self_timed=True)

    fit = interleave(
        {
            "lifetimes fit": step("lifetimes fit", "step_fit_lifetimes", fit_data),
            "livebase fit": step("livebase fit", "step_fit_ours", fit_data),
        },
        args.runs,
    )
    print_interleaved(
        f"BG/NBD fit, {args.fit_customers:,} customers: {args.runs} interleaved runs",
        fit,
        "lifetimes fit",
    )
    ours = json.loads(fit["livebase fit"][-1].measurement.detail)
    ref = json.loads(fit["lifetimes fit"][-1].measurement.detail)
    diff = max(abs(ours[k] - ref[k]) / ref[k] for k in TRUTH)
    speed_up = median_seconds(fit["lifetimes fit"]) / median_seconds(fit["livebase fit"])
    print(f"livebase is {speed_up:.1f}x faster; largest relative parameter difference {diff:.2e}")

    predict = interleave(
        {
            "lifetimes predict": step("lifetimes", "step_predict_lifetimes", predict_data),
            "livebase predict": step("livebase", "step_predict_ours", predict_data),
            "livebase CLV table": step("CLV table", "step_clv_table_ours", predict_data),
        },
        args.runs,
    )
    print_interleaved(
        f"P(alive) + expected purchases, {args.predict_customers:,} customers: "
        f"{args.runs} interleaved runs",
        predict,
        "lifetimes predict",
    )


if __name__ == "__main__":
    main()
