"""Which scenario to build first, by the money at stake (what ``livebase priorities`` runs).

For each scenario of livebase.yaml the command finds its audience as of a date (the members of
a segment in the scheme's latest run on or before it, or the customers whose features satisfy
a rule), joins the CLV predictions of the fit that holds on that date, and ranks the scenarios
by ``customers × mean CLV × uplift × (trigger_strength / 5) / effort``. When a scenario names
an experiment with a readout in the store, the measured relative lift of its main outcome
(revenue when measured, else conversion) replaces the guessed uplift.

The date defaults to the day of the store's latest paid order, never the wall clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from livebase.errors import ExperimentError, ModelError, SegmentError, did_you_mean
from livebase.features import FeaturesSettings, feature_columns, features_sql
from livebase.features.paid_days import latest_paid_day
from livebase.measure.readout import Comparison, Readout
from livebase.measure.store_io import (
    default_conversion,
    default_revenue,
    experiment_names,
    read_out,
)
from livebase.models.scenarios import (
    MeasuredUplift,
    ScenarioSettings,
    rank_scenarios,
    split_segment_target,
)
from livebase.models.store_io import latest_fit_id, load_fit, predictions_sql
from livebase.segments import (
    SegmentsSettings,
    check_condition,
    resolve_run,
    segment_order,
    segment_state_sql,
    segments_at,
)
from livebase.segments.labels import Language, labels
from livebase.store import Store

__all__ = ["PriorityRun", "compute_priorities"]

_STATE_SUFFIXES = ("_segment", "_segment_previous", "_segment_since", "_segment_days")


@dataclass(frozen=True)
class PriorityRun:
    """A ranking and what it was computed from."""

    as_of: date
    fit_id: str
    clv_as_of: date
    clv_column: str
    ranking: pd.DataFrame
    """One row per scenario, best first: ``livebase.models.scenarios.RANKING_COLUMNS``."""
    segment_runs: Mapping[str, date] = field(default_factory=dict)
    """Scheme → the run whose members (or segment states) the ranking used."""
    notes: tuple[str, ...] = ()


def _where(lines: Mapping[str, int], index: int, key: str) -> str:
    line = lines.get(f"scenarios.{index}.target.{key}", lines.get(f"scenarios.{index}"))
    return f" (livebase.yaml line {line})" if line is not None else ""


def _clv_column(horizons: Sequence[int], horizon: int | None, fit_id: str) -> str:
    if horizon is None:
        return f"clv_{max(horizons)}d"
    if horizon not in horizons:
        raise ModelError(
            f"--horizon {horizon}: the fit {fit_id} has CLV over "
            f"{', '.join(str(h) for h in horizons)} days; refit with "
            f"'livebase clv fit --horizon {horizon}' or choose one of those"
        )
    return f"clv_{horizon}d"


def _resolve_segment(
    store: Store,
    segments: SegmentsSettings,
    scheme: str,
    name: str,
    lang: Language,
    scenario: str,
    where: str,
) -> str:
    """The segment ``name`` means (stored name or label, any letter case): one the scheme can
    produce, or one its history holds (segments of an earlier configuration)."""
    stored = [
        str(r[0])
        for r in store.con.execute(
            "SELECT DISTINCT segment FROM segment_history WHERE scheme = ? ORDER BY 1", [scheme]
        ).fetchall()
    ]
    known = list(dict.fromkeys([*segment_order(segments.schemes[scheme]), *stored]))
    shown = labels(lang)
    lookup = {s.casefold(): s for s in known}
    lookup.update({shown.get(s, s).casefold(): s for s in known if shown.get(s, s) != s})
    found = lookup.get(name.casefold())
    if found is None:
        candidates = sorted({*known, *(shown.get(s, s) for s in known)})
        listed = ", ".join(known) if len(known) <= 30 else f"{len(known)} segments"
        raise SegmentError(
            f"scenario '{scenario}'{where}: no segment '{name}' in scheme '{scheme}'"
            f"{did_you_mean(name, candidates)}; segments: {listed}"
        )
    return found


def _segment_audiences(
    store: Store,
    scenarios: Sequence[tuple[int, ScenarioSettings]],
    segments: SegmentsSettings,
    as_of: date,
    default_scheme: str,
    lang: Language,
    lines: Mapping[str, int],
    runs: dict[str, date],
    targets: dict[str, str],
) -> list[pd.DataFrame]:
    """Members of each segment target; ``targets`` gets each scenario's resolved label."""
    frames: list[pd.DataFrame] = []
    members_of: dict[str, pd.DataFrame] = {}
    for index, s in scenarios:
        where = _where(lines, index, "segment")
        scheme, name = split_segment_target(str(s.target.segment), default_scheme)
        if scheme not in segments.schemes:
            schemes = list(segments.schemes)
            raise SegmentError(
                f"scenario '{s.name}'{where}: unknown scheme '{scheme}'"
                f"{did_you_mean(scheme, schemes)}; schemes: {', '.join(schemes)} (write the "
                "target as 'scheme:segment', e.g. 'named:At Risk')"
            )
        if scheme not in runs:
            runs[scheme] = resolve_run(store.con, scheme, as_of)
        if scheme not in members_of:
            members_of[scheme] = segments_at(store.con, scheme, runs[scheme])
        stored = _resolve_segment(store, segments, scheme, name, lang, s.name, where)
        members = members_of[scheme]
        chosen = members.loc[members["segment"] == stored, ["customer_id"]]
        targets[s.name] = f"{scheme}:{stored}"
        frames.append(chosen.assign(target=targets[s.name]))
    return frames


def _rule_audiences(
    store: Store,
    scenarios: Sequence[tuple[int, ScenarioSettings]],
    features: FeaturesSettings,
    segments: SegmentsSettings,
    as_of: date,
    fit_id: str,
    horizons: Sequence[int],
    lines: Mapping[str, int],
    runs: dict[str, date],
) -> list[pd.DataFrame]:
    """Evaluate every rule in one pass over features, predictions and segment states."""
    if not scenarios:
        return []
    known = feature_columns(features)
    # the CLV columns come from the fit this ranking values customers with, even when the
    # features carry CLV predictions of their own
    prediction_columns = ["p_alive", "expected_aov"] + [
        f"{kind}_{h}d" for h in horizons for kind in ("expected_purchases", "clv")
    ]
    overlap = [c for c in prediction_columns if c in known]
    state_columns = [n + suffix for n in segments.schemes for suffix in _STATE_SUFFIXES]
    columns = list(dict.fromkeys([*known, *prediction_columns, *state_columns]))
    checked = [
        check_condition(
            str(s.target.rule),
            columns,
            rule=f"scenario {s.name}",
            line=lines.get(f"scenarios.{i}.target.rule"),
        )
        for i, s in scenarios
    ]
    used = [n for n in segments.schemes if any(f"{n}_segment" in sql for sql in checked)]
    for name in used:
        if name not in runs:
            runs[name] = resolve_run(store.con, name, as_of)
    ctes = [
        f"f AS (\n{features_sql(features, as_of)}\n)",
        f"p AS (\n{predictions_sql(fit_id, horizons)}\n)",
        *(f"st_{n} AS (\n{segment_state_sql(n, as_of)}\n)" for n in used),
    ]
    joins = "\n".join(f"LEFT JOIN st_{n} ON st_{n}.customer_id = f.customer_id" for n in used)
    states = "".join(f", st_{n}.{n}{suffix}" for n in used for suffix in _STATE_SUFFIXES)
    flags = ",\n    ".join(f"COALESCE(({sql}), FALSE) AS r{k}" for k, sql in enumerate(checked))
    with_clause = ",\n".join(ctes)
    own = f"f.* EXCLUDE ({', '.join(overlap)})" if overlap else "f.*"
    clv = "".join(f", p.{c}" for c in prediction_columns)
    sql = (
        "-- Audiences of the rule scenarios (livebase priorities): one flag per rule\n"
        f"WITH {with_clause},\n"
        "inputs AS (\n"
        f"SELECT {own}{clv}{states}\n"
        "FROM f\nLEFT JOIN p ON p.customer_id = f.customer_id\n"
        f"{joins}\n)\n"
        f"SELECT customer_id,\n    {flags}\nFROM inputs"
    )
    flagged: pd.DataFrame = store.con.execute(sql).df()
    # a rule's label names no scheme: "rule: <condition>"
    return [
        flagged.loc[flagged[f"r{k}"].astype(bool), ["customer_id"]].assign(
            target=s.target_label("")
        )
        for k, (_, s) in enumerate(scenarios)
    ]


def _main_comparison(result: Readout) -> Comparison | None:
    """The first treatment arm's comparison on the main outcome: revenue, else conversion."""
    overall = [c for c in result.comparisons if c.segment is None]
    if not overall:
        return None
    outcomes = list(dict.fromkeys(c.outcome for c in overall))
    kinds = {c.outcome: c.kind for c in overall}
    main = default_revenue(outcomes, kinds) or default_conversion(outcomes, kinds) or outcomes[0]
    return next(c for c in overall if c.outcome == main)


def _measured(
    store: Store, scenarios: Sequence[ScenarioSettings]
) -> tuple[dict[str, MeasuredUplift], list[str]]:
    measured: dict[str, MeasuredUplift] = {}
    notes: list[str] = []
    wanted = [s for s in scenarios if s.experiment is not None]
    if not wanted:
        return measured, notes
    names = experiment_names(store)
    for s in wanted:
        name = str(s.experiment)
        if name not in names:
            notes.append(
                f"scenario '{s.name}': experiment '{name}' has no readout in the store yet"
                f"{did_you_mean(name, names)}; the guessed uplift is used"
            )
            continue
        try:
            result = read_out(store, name)
        except ExperimentError as exc:
            notes.append(f"scenario '{s.name}': {exc}; the guessed uplift is used")
            continue
        comparison = _main_comparison(result)
        if comparison is None or comparison.reason or not math.isfinite(comparison.relative_lift):
            why = comparison.reason if comparison is not None else "no comparison"
            notes.append(
                f"scenario '{s.name}': experiment '{name}' gives no relative lift ({why}); "
                "the guessed uplift is used"
            )
            continue
        measured[s.name] = MeasuredUplift(
            experiment=name,
            arm=comparison.arm,
            outcome=comparison.outcome,
            relative_lift=float(comparison.relative_lift),
            ci_low=float(comparison.relative_ci_low),
            ci_high=float(comparison.relative_ci_high),
            significant=bool(comparison.significant),
        )
        if len({c.arm for c in result.comparisons}) > 1:
            notes.append(
                f"scenario '{s.name}': experiment '{name}' has several treatment arms; the "
                f"lift of arm '{comparison.arm}' is used"
            )
    return measured, notes


def compute_priorities(
    store: Store,
    scenarios: Sequence[ScenarioSettings],
    *,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    language: Language = "en",
    as_of: date | None = None,
    scheme: str = "named",
    horizon: int | None = None,
    lines: Mapping[str, int] | None = None,
) -> PriorityRun:
    """Size each scenario's audience as of ``as_of``, value it with CLV, and rank them.

    ``as_of`` defaults to the day of the latest paid order; ``scheme`` is the scheme of
    segment targets written without ``scheme:``; ``horizon`` picks the CLV horizon in days
    (default: the longest the fit predicted); ``lines`` is ``yaml_lines(livebase.yaml)`` so
    that errors name the line of the scenario.
    """
    if not scenarios:
        raise ModelError(
            "no scenarios in livebase.yaml: add a 'scenarios:' list (name, target, "
            "expected_uplift, trigger_strength, effort); the workspace templates show one"
        )
    where = dict(lines or {})
    day = as_of if as_of is not None else latest_paid_day(store)
    fit_id = latest_fit_id(store, as_of=day)
    if fit_id is None:
        raise ModelError(
            f"no CLV predictions as of {day.isoformat()} or earlier: fit the model first with "
            f"'livebase clv fit' (or 'livebase clv fit --until {day.isoformat()}')"
        )
    stored = load_fit(store, fit_id=fit_id)
    clv_column = _clv_column(stored.horizons_days, horizon, fit_id)
    predictions: pd.DataFrame = store.con.execute(
        predictions_sql(fit_id, stored.horizons_days)
    ).df()
    runs: dict[str, date] = {}
    indexed = list(enumerate(scenarios))
    by_segment = [(i, s) for i, s in indexed if s.target.kind == "segment"]
    by_rule = [(i, s) for i, s in indexed if s.target.kind == "rule"]
    targets: dict[str, str] = {}
    frames = _segment_audiences(
        store, by_segment, segments, day, scheme, language, where, runs, targets
    )
    frames += _rule_audiences(
        store, by_rule, features, segments, day, fit_id, stored.horizons_days, where, runs
    )
    audiences = pd.concat(
        [pd.DataFrame({"customer_id": pd.Series(dtype=str), "target": pd.Series(dtype=str)})]
        + [f for f in frames if len(f)],
        ignore_index=True,
    )
    measured, notes = _measured(store, scenarios)
    ranking = rank_scenarios(
        scenarios,
        audiences,
        predictions,
        clv_column=clv_column,
        default_scheme=scheme,
        measured=measured,
        targets=targets,
    )
    for row in ranking.itertuples(index=False):
        if row.customers == 0:
            notes.append(f"scenario '{row.scenario}': its audience is empty on {day.isoformat()}")
    return PriorityRun(
        as_of=day,
        fit_id=fit_id,
        clv_as_of=stored.as_of,
        clv_column=clv_column,
        ranking=ranking,
        segment_runs=dict(sorted(runs.items())),
        notes=tuple(notes),
    )
