"""Coverage of the readout's intervals on the grid of issue 12, beside Welch's (the table of
STATISTICS.md).

Run: ``.venv/bin/python benchmarks/coverage.py [--sims 2000] [--draws 2000] [--seed 12]``.
Prints one markdown table: per cell, the coverage of each interval the readout shows (and how
often it is shown), and what Welch's interval would have covered on the same experiments.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats as sps

from livebase.measure.coverage import ISSUE_12_GRID, coverage_table, simulate_arm


def welch_coverage(sims: int, seed: int) -> list[float]:
    """Welch's 95% interval of revenue per customer on freshly simulated experiments."""
    rng = np.random.default_rng(seed)
    out = []
    for cell in ISSUE_12_GRID:
        t = simulate_arm(cell.n_treatment, cell.conversion * (1 + cell.lift), 3.0, 1.5, sims, rng)
        c = simulate_arm(cell.n_control, cell.conversion, 3.0, 1.5, sims, rng)
        mt, mc = t.total / t.n, c.total / c.n
        vt = (t.sum_squares - t.n * mt**2) / (t.n - 1) / t.n
        vc = (c.sum_squares - c.n * mc**2) / (c.n - 1) / c.n
        se = np.sqrt(vt + vc)
        with np.errstate(divide="ignore", invalid="ignore"):
            df = (vt + vc) ** 2 / (vt**2 / (t.n - 1) + vc**2 / (c.n - 1))
            q = sps.t.ppf(0.975, df)
            ok = se > 0
            covered = np.abs(mt - mc - cell.true_difference) <= q * se
        out.append(float(covered[ok].mean()) if ok.any() else math.nan)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    table = coverage_table(ISSUE_12_GRID, sims=args.sims, draws=args.draws, seed=args.seed)
    welch = welch_coverage(args.sims, args.seed + 1)
    print(
        "| treated / holdout | conversion | lift | conversion (Newcombe) | relative (MOVER-R) "
        "| revenue: method, shown | revenue | revenue relative | Welch on revenue |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for i, cell in enumerate(ISSUE_12_GRID):
        rows = table.iloc[4 * i : 4 * i + 4].set_index("interval")
        rev = rows.loc["revenue"]
        print(
            f"| {cell.n_treatment:,} / {cell.n_control:,} | {cell.conversion:.1%} "
            f"| {cell.lift:+.0%} | {rows.loc['conversion', 'coverage']:.1%} "
            f"| {rows.loc['conversion relative', 'coverage']:.1%} "
            f"| {rev['method']}, {rev['shown']:.0%} | {rev['coverage']:.1%} "
            f"| {rows.loc['revenue relative', 'coverage']:.1%} | {welch[i]:.1%} |"
        )


if __name__ == "__main__":
    main()
