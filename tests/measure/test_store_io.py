"""Experiments in the store: atomic imports, SQL readouts equal to the pandas ones, uplift
models and scores, playbook assignments that never move anyone."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.errors import ExperimentError, ModelError
from livebase.measure import (
    ExperimentFile,
    ReadoutSettings,
    assign_arms,
    evaluate_uplift,
    fit_uplift,
    readout,
    score_customers,
    validate_experiment_frame,
)
from livebase.measure.store_io import (
    default_conversion,
    default_revenue,
    delete_experiment,
    get_experiment,
    list_experiments,
    load_units,
    load_uplift_model,
    read_out,
    read_uplift_scores,
    record_assignments,
    save_experiment,
    save_uplift_model,
    save_uplift_scores,
    stats_from_store,
    uplift_features,
)
from livebase.store import Store

T0 = datetime(2026, 3, 1, 9, 30)
T1 = datetime(2026, 3, 8, 9, 30)
OUTCOMES = ["visit", "buy", "revenue"]


def synthetic(n: int = 600, seed: int = 0, name: str = "spring") -> ExperimentFile:
    """Two treatments and a control; visit and buy 0/1, revenue zero-inflated; features."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["ctl", "email", "sms"], n)
    age = rng.integers(18, 70, n)
    city = rng.choice(["Moscow", "Kazan", "Omsk"], n)
    spend_before = rng.gamma(2.0, 50.0, n).round(2)
    young = age < 35
    effect = np.where(arm == "ctl", 0.0, np.where(young, 0.25, 0.02))
    visit = (rng.random(n) < 0.2 + effect).astype(int)
    buy = (visit == 1) & (rng.random(n) < 0.4)
    revenue = np.where(buy, (rng.gamma(2.0, 40.0, n) + 0.2 * spend_before).round(2), 0.0)
    raw = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "grp": arm,
            "age": age,
            "city": city,
            "spend_before": spend_before,
            "tier": np.where(spend_before > 100, "high", "low"),
            "visit": visit,
            "buy": buy.astype(int),
            "revenue": revenue,
        }
    )
    return validate_experiment_frame(
        raw,
        name=name,
        arm_column="grp",
        control="ctl",
        outcomes=OUTCOMES,
        customer_id_column="id",
        segment_column="tier",
        covariates=["age", "city", "spend_before", "tier"],
    )


@pytest.fixture
def store() -> Store:
    return Store.in_memory()


@pytest.fixture
def stored(store: Store) -> tuple[Store, ExperimentFile]:
    exp = synthetic()
    save_experiment(store, exp, source="file:spring.csv", created_at=T0)
    return store, exp


def counts(store: Store) -> dict[str, int]:
    tables = ["experiments", "experiment_units", "uplift_models", "uplift_scores", "assignments"]
    return {t: int(store.fetch_value(f"SELECT count(*) FROM {t}")) for t in tables}


def test_saved_units_read_back_as_they_were_imported(stored: tuple[Store, ExperimentFile]) -> None:
    store, exp = stored
    info = get_experiment(store, "spring")
    assert info.units == 600 and info.control == "ctl" and info.imported
    assert info.outcomes == tuple(OUTCOMES)
    assert info.covariates == ("age", "city", "spend_before", "tier") and info.has_segment
    assert info.planned_shares == {}  # no plan given: SRM is not checked against the file
    units = load_units(store, "spring")
    expected = exp.units
    assert units["customer_id"].tolist() == expected["customer_id"].tolist()
    assert units["arm"].tolist() == expected["arm"].tolist()
    for col in [*OUTCOMES, "age", "spend_before"]:
        np.testing.assert_allclose(units[col].to_numpy(float), expected[col].to_numpy(float))
    assert units["city"].tolist() == expected["city"].tolist()
    assert units["segment"].tolist() == expected["tier"].tolist()


def test_a_second_import_is_refused_naming_the_first_and_changes_nothing(
    stored: tuple[Store, ExperimentFile],
) -> None:
    store, _ = stored
    before = counts(store)
    other = synthetic(n=300, seed=5)
    with pytest.raises(ExperimentError) as err:
        save_experiment(store, other, source="file:again.csv", created_at=T1)
    message = str(err.value)
    assert "already imported from spring.csv on 2026-03-01 09:30 (600 customers)" in message
    assert "--replace" in message and "nothing was changed" in message
    assert counts(store) == before
    assert get_experiment(store, "spring").created_at == T0


def test_replace_swaps_the_units_and_drops_models_fitted_on_the_old_ones(
    stored: tuple[Store, ExperimentFile],
) -> None:
    store, exp = stored
    model = fit_uplift(
        exp.units, arm_column="arm", control="ctl", outcome="visit",
        features=uplift_features(exp.units, exp.covariates)[0], estimator="logistic",
    )  # fmt: skip
    name = save_uplift_model(
        store, "spring", model, (), test_share=0.3, n_train=600, n_test=0, fitted_at=T0
    )
    scores = score_customers(model, exp.units, id_column="customer_id")
    save_uplift_scores(store, name, scores, model.treatments, T0)
    save_experiment(
        store, synthetic(n=300, seed=5), source="file:v2.csv", created_at=T1, replace=True
    )
    assert counts(store) == {
        "experiments": 1, "experiment_units": 300, "uplift_models": 0, "uplift_scores": 0,
        "assignments": 0,
    }  # fmt: skip
    info = get_experiment(store, "spring")
    assert info.source == "file:v2.csv" and info.created_at == T1


def test_unknown_names_get_a_did_you_mean(stored: tuple[Store, ExperimentFile]) -> None:
    store, _ = stored
    with pytest.raises(ExperimentError, match="no experiment 'sprnig' — did you mean 'spring'"):
        read_out(store, "sprnig")
    with pytest.raises(ExperimentError, match=r"no column 'teir' .*did you mean 'tier'"):
        read_out(store, "spring", segment="teir")
    with pytest.raises(ExperimentError, match="no outcome 'revenu' — did you mean 'revenue'"):
        read_out(store, "spring", revenue="revenu")


def test_an_empty_store_says_how_to_import(store: Store) -> None:
    with pytest.raises(ExperimentError, match=r"no experiments yet.*livebase experiment import"):
        get_experiment(store, "hillstrom")


@pytest.mark.parametrize(
    ("segment", "cuped"), [(None, None), ("city", None), ("tier", "spend_before")]
)
def test_sql_aggregated_readout_equals_the_pandas_readout(
    stored: tuple[Store, ExperimentFile], segment: str | None, cuped: str | None
) -> None:
    store, exp = stored
    welch = ReadoutSettings(revenue_interval="welch")
    from_store = read_out(store, "spring", segment=segment, cuped=cuped, settings=welch)
    reference = readout(
        exp.units,
        control="ctl",
        outcomes=OUTCOMES,
        experiment="spring",
        covariates={o: cuped for o in OUTCOMES} if cuped else None,
        conversion="buy",
        revenue="revenue",
        segment_column=segment or "tier",
        settings=welch,
    )
    assert from_store.segment_column == (segment or "tier")
    assert [c.method for c in from_store.comparisons] == [c.method for c in reference.comparisons]
    assert from_store.srm == reference.srm
    a, b = from_store.table(), reference.table()
    num = ["treatment_mean", "control_mean", "lift", "ci_low", "ci_high", "p_value", "mde"]
    np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=1e-9)
    sa, sb = from_store.segments_table(), reference.segments_table()
    assert sa["segment"].tolist() == sb["segment"].tolist()
    np.testing.assert_allclose(
        sa[["lift", "ci_low", "ci_high"]].to_numpy(float),
        sb[["lift", "ci_low", "ci_high"]].to_numpy(float),
        rtol=1e-9,
    )


def test_revenue_on_a_small_base_gets_the_lognormal_interval_from_sums_alone(
    stored: tuple[Store, ExperimentFile],
) -> None:
    store, exp = stored
    r = read_out(store, "spring")
    methods = {c.outcome: c.method for c in r.comparisons}
    assert methods == {"visit": "newcombe", "buy": "newcombe", "revenue": "lognormal"}
    reference = readout(
        exp.units, control="ctl", outcomes=OUTCOMES, conversion="buy", revenue="revenue",
        segment_column="tier",
    )  # fmt: skip
    np.testing.assert_allclose(
        r.table()[["ci_low", "ci_high"]].to_numpy(float),
        reference.table()[["ci_low", "ci_high"]].to_numpy(float),
    )
    assert [a.aov for a in r.arms] == pytest.approx([a.aov for a in reference.arms])


def test_stats_from_store_sums_match_the_rows(stored: tuple[Store, ExperimentFile]) -> None:
    store, exp = stored
    overall, per_segment = stats_from_store(store, "spring", segment="city")
    for arm, part in exp.units.groupby("arm"):
        s = overall.arms[str(arm)].outcomes["revenue"]
        assert s.n == len(part)
        assert s.total == pytest.approx(part["revenue"].sum())
        assert s.sum_squares == pytest.approx((part["revenue"] ** 2).sum())
    assert sorted(per_segment) == ["Kazan", "Moscow", "Omsk"]
    assert sum(p.arms["ctl"].n for p in per_segment.values()) == overall.arms["ctl"].n
    assert overall.kinds == {"visit": "binary", "buy": "binary", "revenue": "continuous"}


def test_conversion_and_revenue_are_inferred_from_names_and_values() -> None:
    kinds = {"visit": "binary", "buy": "binary", "revenue": "continuous"}
    assert default_conversion(OUTCOMES, kinds) == "buy"  # type: ignore[arg-type]
    assert (
        default_conversion(["opened", "clicked"], {"opened": "binary", "clicked": "binary"})
        == "clicked"
    )
    assert default_revenue(OUTCOMES, kinds) == "revenue"  # type: ignore[arg-type]
    assert default_revenue(["visit"], {"visit": "binary"}) is None


def test_uplift_features_skip_ids_and_gaps() -> None:
    frame = pd.DataFrame(
        {
            "age": [20, 30, 40, 50],
            "city": ["A", "B", "A", "B"],
            "email": [f"u{i}@x" for i in range(4)],
            "score": [1.0, None, 2.0, 3.0],
        }
    )
    spec, skipped = uplift_features(frame, list(frame.columns), max_categories=3)
    assert spec.numeric == ("age",) and spec.categorical == ("city",)
    assert skipped == {
        "email": "text with more than 3 distinct values",
        "score": "has missing values",
    }


def test_uplift_model_and_scores_round_trip_through_the_store(
    stored: tuple[Store, ExperimentFile],
) -> None:
    store, exp = stored
    spec, _ = uplift_features(exp.units, exp.covariates)
    model = fit_uplift(
        exp.units, arm_column="arm", control="ctl", outcome="visit", features=spec,
        estimator="logistic",
    )  # fmt: skip
    evaluations = evaluate_uplift(model, exp.units, "arm")
    name = save_uplift_model(
        store, "spring", model, evaluations, test_share=0.3, n_train=420, n_test=180, fitted_at=T0
    )
    assert name == "spring/visit"
    loaded = load_uplift_model(store, "spring")
    assert loaded.outcome == "visit" and loaded.n_test == 180
    assert [e["arm"] for e in loaded.evaluation] == ["email", "sms"]
    assert loaded.evaluation[0]["qini_coefficient"] == pytest.approx(
        evaluations[0].summary.qini_coefficient
    )
    pd.testing.assert_frame_equal(loaded.model.predict(exp.units), model.predict(exp.units))
    scores = score_customers(loaded.model, exp.units, id_column="customer_id")
    assert save_uplift_scores(store, name, scores, model.treatments, T1) == 600
    back = read_uplift_scores(store, name).set_index("customer_id")
    ref = scores.set_index("customer_id")
    assert back.index.is_unique and len(back) == 600
    assert back["best_arm"].isna().sum() == ref["best_arm"].isna().sum()
    row = back.loc["c7"]
    assert row["uplifts"] == pytest.approx(
        {"email": ref.loc["c7", "uplift[email]"], "sms": ref.loc["c7", "uplift[sms]"]}
    )
    assert row["best_uplift"] == pytest.approx(ref.loc["c7", "best_uplift"])
    # a refit replaces the model and drops its (now stale) scores
    save_uplift_model(
        store, "spring", model, evaluations, test_share=0.5, n_train=300, n_test=300, fitted_at=T1
    )
    assert counts(store)["uplift_models"] == 1 and counts(store)["uplift_scores"] == 0
    with pytest.raises(ModelError, match=r"no uplift model for outcome 'buy'.*visit"):
        load_uplift_model(store, "spring", "buy")


def test_an_experiment_without_a_model_says_how_to_fit_one(
    stored: tuple[Store, ExperimentFile],
) -> None:
    store, _ = stored
    with pytest.raises(ModelError, match="livebase uplift fit --experiment spring"):
        load_uplift_model(store, "spring")


SHARES = {"treatment": 0.9, "holdout": 0.1}


def test_assignments_are_stored_once_and_never_move(store: Store) -> None:
    first = record_assignments(
        store, "welcome", [str(i) for i in range(100)], salt="s1", shares=SHARES, as_of=T0,
        source="playbook:welcome",
    )  # fmt: skip
    assert len(first) == 100
    again = record_assignments(
        store, "welcome", [str(i) for i in range(50, 150)], salt="s1", shares=SHARES, as_of=T1,
        source="playbook:welcome",
    )  # fmt: skip
    assert sorted(again["customer_id"].astype(int)) == list(range(100, 150))
    table = store.con.execute(
        "SELECT customer_id, arm, salt, ts FROM assignments ORDER BY CAST(customer_id AS INT)"
    ).df()
    expected = assign_arms([str(i) for i in range(150)], "welcome", "s1", SHARES)
    assert table["arm"].tolist() == expected["arm"].tolist()
    assert (table["ts"].iloc[:100] == pd.Timestamp(T0)).all()
    assert (table["ts"].iloc[100:] == pd.Timestamp(T1)).all()
    info = get_experiment(store, "welcome")
    assert info.units == 150 and info.control == "holdout" and not info.imported
    assert info.planned_shares == SHARES and info.salt == "s1"


def test_changing_salt_or_shares_mid_experiment_is_refused(store: Store) -> None:
    record_assignments(
        store, "welcome", ["1", "2"], salt="s1", shares=SHARES, as_of=T0, source="playbook:w"
    )
    with pytest.raises(ExperimentError, match="changing them mid-experiment"):
        record_assignments(
            store, "welcome", ["3"], salt="s2", shares=SHARES, as_of=T1, source="playbook:w"
        )
    with pytest.raises(ExperimentError, match="changing them mid-experiment"):
        record_assignments(
            store, "welcome", ["3"], salt="s1", shares={"treatment": 0.5, "holdout": 0.5},
            as_of=T1, source="playbook:w",
        )  # fmt: skip
    with pytest.raises(ExperimentError, match="control arm 'control' is not among"):
        record_assignments(
            store, "other", ["3"], salt="s1", shares=SHARES, as_of=T1, source="playbook:o",
            control="control",
        )  # fmt: skip
    assert counts(store)["assignments"] == 2


def test_imports_and_live_experiments_do_not_share_names(
    stored: tuple[Store, ExperimentFile],
) -> None:
    store, _ = stored
    with pytest.raises(ExperimentError, match=r"imported from spring\.csv"):
        record_assignments(
            store, "spring", ["1"], salt="s", shares=SHARES, as_of=T0, source="playbook:spring"
        )
    record_assignments(
        store, "welcome", ["1", "2", "3"], salt="s", shares=SHARES, as_of=T0, source="playbook:w"
    )
    with pytest.raises(ExperimentError, match="live experiment"):
        save_experiment(
            store, synthetic(name="welcome"), source="file:x.csv", created_at=T1, replace=True
        )
    with pytest.raises(ExperimentError, match="assignments but no outcomes"):
        read_out(store, "welcome")
    listed = list_experiments(store).set_index("name")
    assert listed.loc["spring", "units"] == 600 and listed.loc["welcome", "units"] == 3
    assert listed.loc["spring", "outcomes"] == OUTCOMES
    assert sorted(listed.loc["welcome", "arms"]) == ["holdout", "treatment"]
    delete_experiment(store, "spring")
    assert counts(store)["experiment_units"] == 0
    with pytest.raises(ExperimentError, match="live experiment"):
        delete_experiment(store, "welcome")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(st.integers(0, 300), min_size=0, max_size=40), min_size=1, max_size=4)
)
def test_batches_in_any_order_give_the_arms_of_one_assignment_of_everyone(
    batches: list[list[int]],
) -> None:
    store = Store.in_memory()
    for i, batch in enumerate(batches):
        record_assignments(
            store, "exp", [str(c) for c in batch], salt="k", shares=SHARES,
            as_of=datetime(2026, 1, 1 + i), source="playbook:exp",
        )  # fmt: skip
    stored_rows = store.con.execute("SELECT customer_id, arm FROM assignments").fetchall()
    everyone = sorted({str(c) for b in batches for c in b})
    assert len(stored_rows) == len(everyone)
    direct = dict(zip(everyone, assign_arms(everyone, "exp", "k", SHARES)["arm"], strict=True))
    assert dict(stored_rows) == direct
    store.close()
