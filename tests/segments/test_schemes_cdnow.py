"""Scores, named segments, the A/B/C grid and KPIs of every CDNOW customer as of two dates
agree with an independent pandas computation (from the run's own features, which
tests/features checks against the raw file)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from livebase.segments import SegmentationRun, segments_at
from livebase.store import Store

CDNOW_DATES = (date(1998, 6, 30), date(1997, 9, 30))

# The named map written out cell by cell (R score, F score) → segment.
NAMED = {}
for r in range(1, 6):
    for f in range(1, 6):
        if r == 5 and f >= 4:
            NAMED[(r, f)] = "Champions"
        elif r in (3, 4) and f >= 4:
            NAMED[(r, f)] = "Loyal"
        elif r >= 4 and f in (2, 3):
            NAMED[(r, f)] = "Potential Loyalists"
        elif (r, f) == (5, 1):
            NAMED[(r, f)] = "New"
        elif (r, f) == (4, 1):
            NAMED[(r, f)] = "Promising"
        elif (r, f) == (3, 3):
            NAMED[(r, f)] = "Need Attention"
        elif r == 3:
            NAMED[(r, f)] = "About to Sleep"
        elif f in (3, 4):
            NAMED[(r, f)] = "At Risk"
        elif f == 5:
            NAMED[(r, f)] = "Can't Lose"
        elif (r, f) == (1, 1):
            NAMED[(r, f)] = "Lost"
        else:
            NAMED[(r, f)] = "Hibernating"


def score(values: pd.Series, bins: int = 5) -> pd.Series:
    """1 + floor(bins * (min rank - 1) / n): ties take the lowest score of their block."""
    rank = values.rank(method="min")
    return (1 + np.floor(bins * (rank - 1) / len(values))).astype(int)


def reference(run: SegmentationRun) -> pd.DataFrame:
    f = run.features.set_index("customer_id")
    buyers = f[f["orders_total"] > 0].copy()
    buyers["r"] = score(-buyers["recency_days"].astype(float))
    buyers["f"] = score(buyers["frequency"].astype(float))
    buyers["m"] = score(buyers["monetary"].astype(float))
    buyers["rfm"] = buyers["r"].astype(str) + buyers["f"].astype(str) + buyers["m"].astype(str)
    buyers["named"] = [NAMED[(r, f)] for r, f in zip(buyers["r"], buyers["f"], strict=True)]
    rec = buyers["recency_days"]
    buyers["ra"] = np.where(rec <= 90, "A", np.where(rec <= 365, "B", "C"))
    fr = buyers["frequency"]
    buyers["fa"] = np.where(fr >= 3, "A", np.where(fr >= 2, "B", "C"))
    money = buyers["monetary"].astype(float).round(2)
    per_value = money.groupby(money).sum().sort_index(ascending=False)
    above = per_value.cumsum() - per_value  # revenue of strictly bigger spenders
    share_above = money.map(above) / money.sum()
    buyers["ma"] = np.where(share_above < 0.8, "A", np.where(share_above < 0.95, "B", "C"))
    buyers["abc"] = buyers["ra"] + buyers["fa"] + buyers["ma"]
    out = f[[]].join(buyers[["rfm", "named", "abc", "r", "f", "m"]])
    for column in ("rfm", "named", "abc"):
        out[column] = out[column].fillna("Prospects")
    return out


def assigned(run: SegmentationRun, scheme: str) -> pd.Series:
    a = run.assignments
    return a[a["scheme"] == scheme].set_index("customer_id")["segment"]


@pytest.mark.parametrize("day", CDNOW_DATES, ids=str)
def test_scores_and_segments_of_every_customer_match_pandas(
    cdnow_runs: dict[date, SegmentationRun], day: date
) -> None:
    run = cdnow_runs[day]
    ref = reference(run)
    assert run.customers == len(ref) == 23_570
    for scheme in ("rfm", "named", "abc"):
        ours = assigned(run, scheme).reindex(ref.index)
        mismatched = ours[ours != ref[scheme]]
        assert mismatched.empty, (scheme, mismatched.head())


@pytest.mark.parametrize("day", CDNOW_DATES, ids=str)
def test_equal_values_always_get_equal_scores(
    cdnow_runs: dict[date, SegmentationRun], day: date
) -> None:
    run = cdnow_runs[day]
    a = run.assignments[(run.assignments["scheme"] == "rfm") & run.assignments["scores"].notna()]
    scores = pd.DataFrame([json.loads(s) for s in a["scores"]], index=a["customer_id"])
    f = run.features.set_index("customer_id").loc[scores.index]
    assert (scores.groupby(f["frequency"].to_numpy())["f"].nunique() == 1).all()
    assert (scores.groupby(f["recency_days"].to_numpy())["r"].nunique() == 1).all()


def test_thresholds_cover_scores_without_overlap(cdnow_runs: dict[date, SegmentationRun]) -> None:
    t = cdnow_runs[date(1998, 6, 30)].thresholds
    for dim, rows in t.groupby("dimension"):
        rows = rows.sort_values("min_value")
        assert (rows["min_value"].to_numpy()[1:] > rows["max_value"].to_numpy()[:-1]).all(), dim
        assert rows["customers"].sum() == 23_570 - 68  # buyers only
    f = t[t["dimension"] == "F"]
    assert list(f["score"]) == [1, 3, 4, 5]  # half bought once: score 2 stays empty


@pytest.mark.parametrize("day", CDNOW_DATES, ids=str)
def test_named_kpis_match_pandas(cdnow_runs: dict[date, SegmentationRun], day: date) -> None:
    run = cdnow_runs[day]
    f = run.features.set_index("customer_id")
    f["segment"] = assigned(run, "named")
    d30, d90 = pd.Timestamp(day - timedelta(days=30)), pd.Timestamp(day - timedelta(days=90))
    first = pd.to_datetime(f["first_paid_date"])
    f["old30"], f["old90"] = first <= d30, first <= d90
    f["ret30"] = f["old30"] & (f["paid_orders_30d"] > 0)
    f["ret90"] = f["old90"] & (f["paid_orders_90d"] > 0)
    f["monetary"], f["ltv"] = f["monetary"].astype(float), f["ltv"].astype(float)
    g = f.groupby("segment")
    ref = pd.DataFrame(
        {
            "customers": g.size(),
            "revenue": g["monetary"].sum(),
            "avg_ltv": g["ltv"].mean(),
            "aov": g["monetary"].sum() / g["frequency"].sum().replace(0, np.nan),
            "mean_interpurchase_days": g["mean_interpurchase_days"].mean(),
            "repeat_rate": g.apply(
                lambda x: (
                    (x["orders_total"] >= 2).sum() / max((x["orders_total"] >= 1).sum(), 1)
                    if (x["orders_total"] >= 1).any()
                    else np.nan
                )
            ),
            "retention_30": g["ret30"].sum() / g["old30"].sum().replace(0, np.nan),
            "retention_90": g["ret90"].sum() / g["old90"].sum().replace(0, np.nan),
        }
    )
    ref["share"] = ref["customers"] / ref["customers"].sum()
    ref["revenue_share"] = ref["revenue"] / ref["revenue"].sum()
    ours = run.kpis[run.kpis["scheme"] == "named"].set_index("segment").loc[ref.index]
    assert (ours["customers"].to_numpy() == ref["customers"].to_numpy()).all()
    for column in (
        "share",
        "revenue",
        "revenue_share",
        "avg_ltv",
        "aov",
        "mean_interpurchase_days",
        "repeat_rate",
        "retention_30",
        "retention_90",
    ):
        np.testing.assert_allclose(
            ours[column].astype(float).to_numpy(),
            ref[column].astype(float).to_numpy(),
            rtol=1e-9,
            equal_nan=True,
            err_msg=column,
        )
    assert next(iter(run.kpis[run.kpis["scheme"] == "named"]["segment"])) == "Champions"


def test_history_gives_back_each_run_whatever_the_order(
    cdnow_store: Store, cdnow_runs: dict[date, SegmentationRun]
) -> None:
    for scheme in ("rfm", "abc", "named"):
        for day, run in cdnow_runs.items():
            held = segments_at(cdnow_store.con, scheme, day).set_index("customer_id")["segment"]
            assert held.sort_index().equals(assigned(run, scheme).sort_index()), (scheme, day)


def test_snapshots_match_kpis(cdnow_store: Store, cdnow_runs: dict[date, SegmentationRun]) -> None:
    for day, run in cdnow_runs.items():
        snap = (
            cdnow_store.con.execute(
                "SELECT segment, customers FROM segment_snapshots WHERE scheme = 'named' AND as_of = ?",
                [day],
            )
            .df()
            .set_index("segment")["customers"]
        )
        kpis = run.kpis[run.kpis["scheme"] == "named"].set_index("segment")["customers"]
        assert snap.sort_index().to_dict() == kpis.sort_index().to_dict()
