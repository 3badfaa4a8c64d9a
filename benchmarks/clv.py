"""CLV benchmark: our BG/NBD fit and predictions against lifetimes (the maintained reference).

Run:  .venv/bin/python benchmarks/clv.py [--fit-customers 1000000] [--predict-customers 10000000]

Simulates customers from a BG/NBD process (seeded; times recorded in whole days and expressed
in weeks, as real order data are), then measures, in one run:

1. our fit on the fit set (target <= 5 s);
2. lifetimes' BetaGeoFitter on the same data, as users call it (one row per customer), and the
   ratio (target: ours >= 10x faster) and the largest relative parameter difference (<= 1e-3);
3. our predictions (P(alive) + expected purchases over 39 weeks) for the predict set
   (target <= 10 s), and the full CLV table (two horizons, monthly discounting) for reference.

Peak memory is the process's maximum resident set size (resource.getrusage).
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
import pandas as pd

from livebase.models import BGNBD, CustomerSummary, GammaGamma, predict_clv, simulate_bgnbd

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW's, per week


def _simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T_days = rng.integers(1, 365, n).astype(np.float64)
    sim = simulate_bgnbd(n, **TRUTH, T=T_days / 7.0, seed=seed)
    # record whole days, at most one purchase a day: t_x in (0, T] days for repeat buyers
    t_days = np.where(sim["x"] > 0, np.clip(np.ceil(sim["t_x"] * 7.0), 1.0, T_days), 0.0)
    return pd.DataFrame({"x": sim["x"], "t_x": t_days / 7.0, "T": T_days / 7.0})


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-customers", type=int, default=1_000_000)
    parser.add_argument("--predict-customers", type=int, default=10_000_000)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    data = _simulate(args.fit_customers, seed=1)
    start = time.perf_counter()
    ours = BGNBD.fit_arrays(data["x"], data["t_x"], data["T"])
    fit_s = time.perf_counter() - start
    print(f"{'step':<44} {'seconds':>9} {'peak RSS MiB':>13}")
    print(
        f"{'ours: fit BG/NBD, ' + format(args.fit_customers, ',') + ' customers':<44} "
        f"{fit_s:9.2f} {_rss_mib():13.0f}"
    )
    print("  ours:      " + ", ".join(f"{k}={v:.6f}" for k, v in ours.params.items()))

    if not args.skip_reference:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import lifetimes
        start = time.perf_counter()
        ref = lifetimes.BetaGeoFitter().fit(data["x"], data["t_x"], data["T"])
        ref_s = time.perf_counter() - start
        ref_params = {k: float(ref.params_[k]) for k in TRUTH}
        diff = max(abs(ours.params[k] - ref_params[k]) / ref_params[k] for k in TRUTH)
        print(
            f"{'lifetimes ' + lifetimes.__version__ + ': BetaGeoFitter.fit, same data':<44} "
            f"{ref_s:9.2f} {_rss_mib():13.0f}"
        )
        print("  lifetimes: " + ", ".join(f"{k}={v:.6f}" for k, v in ref_params.items()))
        print(
            f"  speed-up ours vs lifetimes: {ref_s / fit_s:.1f}x; "
            f"largest relative parameter difference: {diff:.2e}"
        )

    big = _simulate(args.predict_customers, seed=2)
    start = time.perf_counter()
    p_alive = ours.p_alive(big["x"], big["t_x"], big["T"])
    expected = ours.expected_purchases(39.0, big["x"], big["t_x"], big["T"])
    pred_s = time.perf_counter() - start
    assert np.isfinite(p_alive).all() and np.isfinite(expected).all()
    print(
        f"{'ours: P(alive) + E[purchases 39w], ' + format(args.predict_customers, ','):<44} "
        f"{pred_s:9.2f} {_rss_mib():13.0f}"
    )

    summary = CustomerSummary(
        table=big.assign(customer_id=np.arange(len(big)), monetary_value=30.0, monetary_x=big["x"]),
        unit="weeks",
        until=pd.Timestamp("2024-01-01").date(),
    )
    spend = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, customers=0)
    start = time.perf_counter()
    table = predict_clv(summary, ours, spend, horizons_days=(90, 365))
    clv_s = time.perf_counter() - start
    print(
        f"{'ours: full CLV table (90d, 365d), ' + format(len(table), ','):<44} "
        f"{clv_s:9.2f} {_rss_mib():13.0f}"
    )


if __name__ == "__main__":
    main()
