"""CLV predictions as features: p_alive, expected purchases and CLV in rules and KPIs.

On CDNOW_sample with the published BG/NBD and Gamma-Gamma parameters (Fader, Hardie & Lee
2005; Fader, Hardie & Lee 2005b), saved as a fit as of 1997-09-30.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from livebase.errors import RuleError
from livebase.features import FeaturesSettings
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.models import BGNBD, ClvFit, GammaGamma, predict_clv, summarise
from livebase.models.store_io import read_transactions, save_fit
from livebase.segments import RuleSpec, RulesScheme, SegmentsSettings, run_segmentation
from livebase.store import Store

FIT_DAY = date(1997, 9, 30)
AS_OF = date(1998, 6, 30)
RULES = SegmentsSettings.model_validate(
    {
        "schemes": {
            "rfm": {"kind": "quantile"},
            "value": RulesScheme(
                rules=(
                    RuleSpec(name="Fading big spenders", when="p_alive < 0.3 and monetary > 500"),
                    RuleSpec(name="Promising", when="clv_365d > 50"),
                ),
                otherwise="Other",
            ).model_dump(),
        }
    }
)


def _store(cdnow_sample: Path) -> Store:
    store = Store.in_memory()
    load_file(
        store, str(cdnow_sample), LoadOptions(PRESETS["cdnow"], loaded_at=datetime(2000, 1, 1))
    )
    return store


@pytest.fixture(scope="module")
def fitted(cdnow_sample: Path) -> tuple[Store, object]:
    store = _store(cdnow_sample)
    summary = summarise(
        read_transactions(store, until=FIT_DAY),
        FIT_DAY,
        unit="weeks",
        date_col="paid_at",
        amount_col="paid_amount",
    )
    bg = BGNBD(
        r=0.243,
        alpha=4.414,
        a=0.793,
        b=2.426,
        log_likelihood=-9582.4,
        customers=len(summary.table),
        until=FIT_DAY,
    )
    gg = GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=-4055.9, customers=946)
    predictions = predict_clv(summary, bg, gg, horizons_days=(90, 365))
    save_fit(
        store,
        ClvFit(bg, gg),
        predictions,
        fitted_at=datetime(2000, 1, 1),
        monthly_discount_rate=0.01,
        margin=1.0,
    )
    return store, predictions


def test_predictions_become_features_and_rules_use_them(fitted: tuple[Store, object]) -> None:
    store, predictions = fitted
    run = run_segmentation(store, FeaturesSettings(), RULES, AS_OF, ran_at=datetime(2000, 1, 1))
    f = run.features.set_index("customer_id")
    p = predictions.set_index("customer_id")  # type: ignore[attr-defined]
    np.testing.assert_allclose(f.loc[p.index, "p_alive"], p["p_alive"])
    np.testing.assert_allclose(f.loc[p.index, "clv_365d"], p["clv_365d"])
    np.testing.assert_allclose(
        f.loc[p.index, "expected_purchases_90d"], p["expected_purchases_90d"]
    )
    value = run.assignments[run.assignments.scheme == "value"].set_index("customer_id")["segment"]
    fading = (f["p_alive"] < 0.3) & (f["monetary"].astype(float) > 500)
    promising = ~fading & (f["clv_365d"] > 50)
    expected = np.where(fading, "Fading big spenders", np.where(promising, "Promising", "Other"))
    assert (value.loc[f.index].to_numpy() == expected).all()
    assert fading.sum() > 0 and promising.sum() > 0


def test_kpis_carry_mean_and_total_clv_per_segment(fitted: tuple[Store, object]) -> None:
    store, _ = fitted
    run = run_segmentation(store, FeaturesSettings(), RULES, AS_OF, ran_at=datetime(2000, 1, 1))
    f = run.features.set_index("customer_id")
    seg = run.assignments[run.assignments.scheme == "value"].set_index("customer_id")["segment"]
    kpis = run.kpis[run.kpis.scheme == "value"].set_index("segment")
    for name, members in seg.groupby(seg):
        clv = f.loc[members.index, "clv_365d"].dropna()
        assert kpis.loc[name, "total_clv"] == pytest.approx(clv.sum())
        assert kpis.loc[name, "avg_clv"] == pytest.approx(clv.mean())


def test_without_a_fit_clv_columns_are_null_and_rules_say_to_fit(cdnow_sample: Path) -> None:
    store = _store(cdnow_sample)
    plain = SegmentsSettings()
    run = run_segmentation(store, FeaturesSettings(), plain, AS_OF, ran_at=datetime(2000, 1, 1))
    assert run.features["p_alive"].isna().all() and run.features["clv_90d"].isna().all()
    assert run.kpis["avg_clv"].isna().all()
    with pytest.raises(RuleError, match="livebase clv fit") as error:
        run_segmentation(store, FeaturesSettings(), RULES, AS_OF, ran_at=datetime(2000, 1, 1))
    assert "p_alive" in str(error.value) and "Fading big spenders" in str(error.value)


def test_a_fit_after_as_of_is_not_used(fitted: tuple[Store, object]) -> None:
    store, _ = fitted
    with pytest.raises(RuleError, match="no CLV fit as of 1997-06-30"):
        run_segmentation(
            store, FeaturesSettings(), RULES, date(1997, 6, 30), ran_at=datetime(2000, 1, 1)
        )
