"""Playbook readouts over the analytics store: the holdout, the steps, the funnel, the
global holdout; reason codes when a readout cannot be read yet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from livebase.measure.playbook_readout import counts, playbook_readout_from_sums
from livebase.measure.playbook_store import (
    PlaybookSpec,
    read_funnel,
    read_global_holdout,
    read_playbook,
)
from livebase.measure.settings import LearnSettings
from livebase.store import Store

from ._playbook_data import START, Truth, fill

SPEC = PlaybookSpec(
    "winback",
    holdout=0.1,
    steps=("email", "sms"),
    step_channels={"email": "email", "sms": "sms"},
    step_holdouts={"sms": 0.2},
)
AS_OF = START + timedelta(days=120)


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with Store.in_memory() as s:
        fill(s)
        yield s


def test_readout_covers_the_true_incremental_purchases(store: Store) -> None:
    r = read_playbook(store, SPEC, as_of=AS_OF)
    assert r.reason is None
    n_t = r.entrants["treatment"]
    truth = Truth()
    # e-mail to everyone treated, SMS to the ~60% who reach it, 80% of them sent
    true_inc = n_t * (truth.email + 0.8 * 0.9 * (1 - truth.base * 0.4 - truth.email) * truth.sms)
    assert r.incremental_conversions_low is not None
    assert r.incremental_conversions_high is not None
    assert r.incremental_conversions_low <= true_inc <= r.incremental_conversions_high
    assert r.readout is not None and r.readout.srm is not None
    assert r.readout.srm.checked and not r.readout.srm.mismatch
    assert r.stratified is not None and len(r.stratified.strata) >= 2  # two occurrences
    assert r.cost > 0 and r.cost_per_incremental_conversion is not None
    assert r.to_dict()["playbook"] == "winback"


def test_sms_step_with_a_small_effect_is_dropped(store: Store) -> None:
    r = read_playbook(store, SPEC, as_of=AS_OF, settings=LearnSettings(margin=0.3))
    (sms,) = r.steps
    assert sms.step == "sms" and sms.channel == "sms"
    assert sms.n_holdout > 0 and sms.cost > 0
    assert sms.recommendation == "drop", sms.why


def test_window_not_over_and_too_few_entrants() -> None:
    with Store.in_memory() as s:
        fill(s, n=400)
        early = read_playbook(s, SPEC, as_of=START - timedelta(days=1))
        assert early.reason == "no_entrants"
        mid = read_playbook(s, SPEC, as_of=START + timedelta(days=5))
        assert mid.reason in {"window_not_over", "too_few_entrants"}
        few = read_playbook(s, SPEC, as_of=AS_OF, settings=LearnSettings(min_entrants=500))
        assert few.reason == "too_few_entrants" and few.incremental_conversions is None


def test_funnel_counts_steps_cost_and_dropouts(store: Store) -> None:
    entered, steps = read_funnel(store, SPEC)
    assert entered["treatment"] > entered["holdout"] > 0
    email, sms = steps
    assert email.step == "email" and email.sent == email.due > sms.due
    assert email.opened < email.sent
    assert sms.held_out > 0 and sms.dropped["no_consent"] > 0
    assert sms.dropped["converted_earlier"] > 0
    assert sms.cost == pytest.approx(sms.sent * 6.0)


def test_global_holdout_per_month(store: Store) -> None:
    g = read_global_holdout(store, as_of=AS_OF, share=0.1, settings=LearnSettings(min_entrants=5))
    assert [m.month for m in g.months][:2] == ["2026-01", "2026-02"]
    assert g.months[-1].partial
    assert g.total is not None and g.total.n_holdout > 0


def test_no_holdout_is_a_reason_not_a_number() -> None:
    r = playbook_readout_from_sums("x", {1: {"treatment": counts(100, 10)}}, holdout_share=0.0)
    assert r.reason == "no_holdout" and r.incremental_conversions is None
    assert datetime(2026, 1, 1)  # as_of is always a parameter


def test_priorities_use_the_measured_lift_of_a_playbook(store: Store) -> None:
    from livebase.measure.priorities import _measured
    from livebase.models.settings import ScenarioSettings

    scenario = ScenarioSettings.model_validate(
        {"name": "Win back", "target": {"segment": "named:At Risk"}, "expected_uplift": 0.05,
         "trigger_strength": 3, "effort": 2, "experiment": "playbook:winback"}
    )  # fmt: skip
    measured, notes = _measured(store, [scenario], AS_OF.date())
    m = measured["Win back"]
    assert notes == [] and m.experiment == "playbook:winback" and m.outcome == "revenue"
    assert m.ci_low < m.relative_lift < m.ci_high and m.significant
    early, notes = _measured(store, [scenario], START.date())
    assert early == {} and "cannot be read out yet" in notes[0]
