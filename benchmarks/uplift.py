"""Honest uplift on Hillstrom: Qini over repeated seeded splits, model vs best single feature vs
random (the figures of README.md and BENCHMARKS.md).

Run: ``.venv/bin/python benchmarks/uplift.py [--splits 10] [--outcome visit]``
(~10 minutes on two cores: ten gradient-boosting T-learner fits).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from livebase.measure import repeated_uplift_evaluation

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hillstrom.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--outcome", default="visit")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    frame = pd.read_csv(args.data)
    r = repeated_uplift_evaluation(
        frame, arm_column="segment", control="No E-Mail", outcome=args.outcome,
        n_splits=args.splits,
    )  # fmt: skip
    print("| arm | ranking | Qini coefficient | normalised AUUC |")
    print("|---|---|---|---|")
    for row in r.summary().to_dict("records"):
        name = row["ranking"] + (f" ({row['feature']})" if row["ranking"] == "heuristic" else "")
        print(
            f"| {row['arm']} | {name} | {row['qini_mean']:.4f} ± {row['qini_sd']:.4f} "
            f"| {row['auuc_normalized_mean']:.4f} ± {row['auuc_normalized_sd']:.4f} |"
        )


if __name__ == "__main__":
    main()
