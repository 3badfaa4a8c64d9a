"""``livebase priorities`` on CDNOW: audiences, CLV, measured uplift, errors a user can act on.

The workspace is prepared with the library (ingest, segmentation, CLV fit, an experiment
import), not with other commands, and every number of the ranking is recomputed here with
pandas from the store's own tables.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from rich.markup import escape
from ruamel.yaml import YAML

import livebase.cli.priorities as priorities_cli
from livebase.cli._common import console, err_console, state
from livebase.cli.priorities import register
from livebase.errors import LivebaseError, ModelError
from livebase.features import compute_features
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.measure.experiment_file import validate_experiment_frame
from livebase.measure.store_io import save_experiment
from livebase.models import fit_clv, predict_clv, summarise
from livebase.models.priorities import PRIORITY_FORMULA
from livebase.models.scenarios import (
    RANKING_COLUMNS,
    ScenarioList,
    ScenarioSettings,
    ScenarioTarget,
    rank_scenarios,
)
from livebase.models.store_io import read_transactions, save_fit
from livebase.segments import run_segmentation
from livebase.workspace import Workspace, init_workspace

Run = Callable[..., tuple[int, str, str]]

END = date(1998, 6, 30)
EARLIER = date(1998, 3, 31)
CLOCK = datetime(2026, 1, 15)

SCENARIOS = """
scenarios:
  - name: Win back At Risk
    target: {segment: "named:At Risk"}
    expected_uplift: 0.05
    trigger_strength: 4
    effort: 2
  - name: VIP early access
    target: {segment: "Champions"}
    expected_uplift: 0.03
    trigger_strength: 3
    effort: 1
  - name: Save the fading repeat buyers
    target: {rule: "p_alive < 0.3 and frequency >= 2"}
    expected_uplift: 0.08
    trigger_strength: 5
    effort: 3
  - name: Call the loyal big spenders
    target:
      rule: "named_segment = 'Loyal' and monetary >= 100"
    expected_uplift: 0.10
    trigger_strength: 4
    effort: 4
"""

# (the scenario's name, a pandas condition over features + predictions + named segment)
RULES = {
    "Save the fading repeat buyers": lambda f: (f["p_alive"] < 0.3) & (f["frequency"] >= 2),
    "Call the loyal big spenders": lambda f: (
        (f["named_segment"] == "Loyal") & (f["monetary"] >= 100)
    ),
}
SEGMENTS = {"Win back At Risk": "At Risk", "VIP early access": "Champions"}


def _load(root: Path) -> Workspace:
    return Workspace.load(root)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``livebase -w WORKSPACE priorities …`` with the CLI's single error handler."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(app)

    @app.callback()
    def _root() -> None:
        """livebase (test app)"""

    def invoke(workspace: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(state, "workspace", workspace)
        monkeypatch.setattr(priorities_cli, "workspace", lambda: _load(workspace))
        try:
            app(args=list(args), prog_name="livebase")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except LivebaseError as exc:
            err_console.print(f"error: {escape(str(exc))}", highlight=False, soft_wrap=True)
            code = 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _experiment_frame() -> pd.DataFrame:
    """200 customers per arm; revenue means 11 (treatment) and 10 (control): lift +10 %."""
    return pd.DataFrame(
        {
            "arm": ["treatment"] * 200 + ["control"] * 200,
            "converted": [1, 0] * 200,
            "revenue": [22.0, 0.0] * 100 + [20.0, 0.0] * 100,
        }
    )


@pytest.fixture(scope="module")
def cdnow_template(cdnow_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CDNOW sample: segmented as of two dates, a CLV fit as of each, one experiment."""
    ws = init_workspace(tmp_path_factory.mktemp("prio") / "shop")
    with ws.open_store() as store:
        load_file(store, str(cdnow_sample), LoadOptions(PRESETS["cdnow"], loaded_at=CLOCK))
        for day in (EARLIER, END):
            run_segmentation(
                store, ws.config.features, ws.config.segments, day, ran_at=CLOCK, collect=False
            )
            transactions = read_transactions(store, until=day)
            summary = summarise(
                transactions, day, unit="weeks", date_col="paid_at", amount_col="paid_amount"
            )
            fit = fit_clv(summary)
            predictions = predict_clv(summary, fit.purchases, fit.spend, horizons_days=(90, 365))
            save_fit(
                store,
                fit,
                predictions,
                fitted_at=CLOCK,
                monthly_discount_rate=0.01,
                margin=1.0,
            )
        experiment = validate_experiment_frame(
            _experiment_frame(),
            name="winback_email",
            arm_column="arm",
            control="control",
            outcomes=["converted", "revenue"],
        )
        save_experiment(store, experiment, source="file:winback.csv", created_at=CLOCK)
    return ws.root


@pytest.fixture
def shop(cdnow_template: Path, tmp_path: Path) -> Iterator[Path]:
    root = Path(shutil.copytree(cdnow_template, tmp_path / "shop"))
    yield root


def _with_scenarios(root: Path, block: str = SCENARIOS) -> Path:
    path = root / "livebase.yaml"
    path.write_text(path.read_text(encoding="utf-8") + block, encoding="utf-8")
    return root


def _query(root: Path, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    with duckdb.connect(str(root / "livebase.duckdb"), read_only=True) as con:
        frame: pd.DataFrame = con.execute(sql, params or []).df()
        return frame


def _expected(root: Path, day: date, scenarios: list[dict[str, object]]) -> pd.DataFrame:
    """The ranking recomputed with pandas from segment_history, clv_predictions, features."""
    fit = _query(
        root,
        "SELECT fit_id FROM clv_models WHERE model = 'bgnbd' AND as_of <= ? "
        "ORDER BY as_of DESC LIMIT 1",
        [day],
    )["fit_id"][0]
    long = _query(root, "SELECT * FROM clv_predictions WHERE fit_id = ?", [fit])
    clv = long[long["horizon_days"] == 365].set_index("customer_id")
    run = _query(
        root,
        "SELECT max(as_of) AS d FROM segment_runs WHERE scheme = 'named' AND as_of <= ?",
        [day],
    )["d"][0]
    history = _query(
        root,
        "SELECT customer_id, segment FROM segment_history WHERE scheme = 'named' "
        "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
        [run, run],
    ).set_index("customer_id")["segment"]
    with duckdb.connect(str(root / "livebase.duckdb"), read_only=True) as con:
        features = compute_features(con, _load(root).config.features, day).set_index("customer_id")
    features["p_alive"] = clv["p_alive"].reindex(features.index)
    features["named_segment"] = history.reindex(features.index)
    rows = []
    for s in scenarios:
        name = str(s["name"])
        if name in SEGMENTS:
            members = history.index[history == SEGMENTS[name]]
        else:
            members = features.index[RULES[name](features).fillna(False).astype(bool)]
        values = clv["clv"].reindex(members).fillna(0.0)
        customers = len(members)
        mean_clv = float(values.mean()) if customers else 0.0
        uplift = float(s["uplift"])  # type: ignore[arg-type]
        trigger, effort = int(s["trigger_strength"]), int(s["effort"])  # type: ignore[call-overload]
        value = customers * mean_clv * uplift * (trigger / 5) / effort
        rows.append((name, customers, mean_clv, value))
    frame = pd.DataFrame(rows, columns=["scenario", "customers", "mean_clv", "value"])
    return frame.sort_values(["value", "scenario"], ascending=[False, True]).reset_index(drop=True)


def _config_scenarios() -> list[dict[str, object]]:
    data = YAML(typ="safe").load(SCENARIOS)["scenarios"]
    return [
        {
            "name": d["name"],
            "uplift": d["expected_uplift"],
            "trigger_strength": d["trigger_strength"],
            "effort": d["effort"],
        }
        for d in data
    ]


def test_json_ranking_matches_an_independent_pandas_computation(run: Run, shop: Path) -> None:
    code, out, err = run(_with_scenarios(shop), "priorities", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["as_of"] == "1998-06-30"  # the latest paid order, not the clock
    assert result["clv"] == {
        "fit_id": result["clv"]["fit_id"],
        "as_of": "1998-06-30",
        "column": "clv_365d",
    }
    assert result["segment_runs"] == {"named": "1998-06-30"}
    assert result["formula"] == f"expected_incremental_value = {PRIORITY_FORMULA}"
    got = result["scenarios"]
    expected = _expected(shop, END, _config_scenarios())
    assert [r["scenario"] for r in got] == expected["scenario"].tolist()
    assert [r["rank"] for r in got] == [1, 2, 3, 4]
    for row, want in zip(got, expected.itertuples(index=False), strict=True):
        assert row["customers"] == want.customers > 0
        assert math.isclose(row["mean_clv"], want.mean_clv, rel_tol=1e-9)
        assert math.isclose(row["expected_incremental_value"], want.value, rel_tol=1e-9)
        assert row["uplift_source"] == "guess" and row["uplift_ci_low"] is None
        assert set(row) == set(RANKING_COLUMNS)
    targets = {r["scenario"]: (r["target"], r["target_kind"]) for r in got}
    assert targets["VIP early access"] == ("named:Champions", "segment")
    assert targets["Save the fading repeat buyers"] == (
        "rule: p_alive < 0.3 and frequency >= 2",
        "rule",
    )
    assert result["notes"] == []


def test_as_of_uses_the_latest_run_and_fit_on_or_before_the_date(run: Run, shop: Path) -> None:
    code, out, err = run(
        _with_scenarios(shop), "priorities", "--as-of", "1998-04-15", "--format", "json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["segment_runs"] == {"named": "1998-03-31"}
    assert result["clv"]["as_of"] == "1998-03-31"
    expected = _expected(shop, date(1998, 4, 15), _config_scenarios())
    got = result["scenarios"]
    assert [r["scenario"] for r in got] == expected["scenario"].tolist()
    assert [r["customers"] for r in got] == expected["customers"].tolist()
    for row, want in zip(got, expected.itertuples(index=False), strict=True):
        assert math.isclose(row["expected_incremental_value"], want.value, rel_tol=1e-9)


def test_table_prints_the_formula_and_the_reasoning_columns(
    run: Run, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 80)
    code, out, err = run(_with_scenarios(shop), "priorities", "--horizon", "90")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80  # fits an 80-column terminal
    monkeypatch.setattr(console, "width", 160)
    code, out, err = run(shop, "priorities", "--horizon", "90")
    flat = " ".join(out.split())
    assert f"value = {PRIORITY_FORMULA}" in flat
    assert "CLV over 90 days" in flat and "named run of 1998-06-30" in flat
    for head in ("scenario", "target", "customers", "mean CLV", "uplift", "from", "trigger"):
        assert head in out
    assert "effort" in out and "value" in out
    result = json.loads(run(shop, "priorities", "--horizon", "90", "--format", "json")[1])
    for row in result["scenarios"]:
        assert f"{row['rank']} {row['scenario']}" in flat
        assert f"{row['customers']:,}".replace(",", " ") in flat
        assert f"{row['mean_clv']:,.2f}".replace(",", " ") in flat
        assert f"{row['trigger_strength']}/5" in flat
    assert "named:At Risk" in flat and "+5.0 %" in flat and "guess" in flat


def test_a_measured_experiment_replaces_the_guess_with_its_revenue_lift(
    run: Run, shop: Path
) -> None:
    block = """
scenarios:
  - name: Win back At Risk
    target: {segment: "named:At Risk"}
    expected_uplift: 0.5
    trigger_strength: 4
    effort: 2
    experiment: winback_email
  - name: Win back, not yet tested
    target: {segment: "named:At Risk"}
    expected_uplift: 0.05
    trigger_strength: 4
    effort: 2
    experiment: winback_emial_v2
"""
    code, out, err = run(_with_scenarios(shop, block), "priorities", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    rows = {r["scenario"]: r for r in result["scenarios"]}
    measured = rows["Win back At Risk"]
    frame = _experiment_frame()
    means = frame.groupby("arm")["revenue"].mean()
    lift = means["treatment"] / means["control"] - 1  # revenue, the main outcome: +10 %
    assert measured["uplift_source"] == "measured"
    assert math.isclose(measured["uplift"], lift, rel_tol=1e-9)
    assert (measured["experiment"], measured["experiment_arm"]) == ("winback_email", "treatment")
    assert measured["experiment_outcome"] == "revenue"
    assert measured["uplift_ci_low"] < lift < measured["uplift_ci_high"]
    expected_value = measured["customers"] * measured["mean_clv"] * lift * (4 / 5) / 2
    assert math.isclose(measured["expected_incremental_value"], expected_value, rel_tol=1e-9)
    guessed = rows["Win back, not yet tested"]
    assert guessed["uplift_source"] == "guess" and guessed["uplift"] == 0.05
    assert [r["scenario"] for r in result["scenarios"]] == [
        "Win back At Risk",
        "Win back, not yet tested",
    ]
    assert any(
        "winback_emial_v2" in n and "did you mean 'winback_email'" in n for n in result["notes"]
    )
    code, out, _ = run(shop, "priorities")
    assert code == 0
    assert (
        "Win back At Risk: uplift measured by experiment winback_email (arm treatment, "
        "revenue: +10.0 %, CI"
    ) in " ".join(out.split())


def test_an_unknown_segment_suggests_the_closest_name_and_the_line(run: Run, shop: Path) -> None:
    block = """
scenarios:
  - name: Win back
    target: {segment: "named:At Rsk"}
    expected_uplift: 0.05
    trigger_strength: 4
    effort: 2
"""
    code, _, err = run(_with_scenarios(shop, block), "priorities")
    assert code == 1
    flat = " ".join(err.split())
    assert "scenario 'Win back'" in flat and "no segment 'At Rsk' in scheme 'named'" in flat
    assert "did you mean 'At Risk'?" in flat
    text = (shop / "livebase.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if "At Rsk" in t)
    assert f"line {line}" in flat


def test_an_unknown_scheme_and_an_unknown_rule_column_are_named(run: Run, shop: Path) -> None:
    block = """
scenarios:
  - name: Win back
    target: {segment: "nmed:At Risk"}
    expected_uplift: 0.05
    trigger_strength: 4
    effort: 2
"""
    code, _, err = run(_with_scenarios(shop, block), "priorities")
    assert code == 1 and "unknown scheme 'nmed' — did you mean 'named'?" in err
    block = block.replace('segment: "nmed:At Risk"', 'rule: "p_alvie < 0.3"')
    root = shop.parent / "other"
    shutil.copytree(shop, root)
    (root / "livebase.yaml").write_text(
        (shop / "livebase.yaml").read_text(encoding="utf-8").split("\nscenarios:")[0] + block,
        encoding="utf-8",
    )
    code, _, err = run(root, "priorities")
    flat = " ".join(err.split())
    assert code == 1 and "scenario Win back" in flat and "did you mean 'p_alive'?" in flat


def test_without_a_clv_fit_the_error_says_to_run_clv_fit(run: Run, shop: Path) -> None:
    with duckdb.connect(str(shop / "livebase.duckdb")) as con:
        con.execute("DELETE FROM clv_predictions")
        con.execute("DELETE FROM clv_models")
    code, _, err = run(_with_scenarios(shop), "priorities")
    assert code == 1 and "livebase clv fit" in err


def test_a_date_before_any_segmentation_run_says_to_run_segment(run: Run, shop: Path) -> None:
    code, _, err = run(_with_scenarios(shop), "priorities", "--as-of", "1997-01-15")
    assert code == 1
    # no fit on or before that date either: the CLV message comes first
    assert "livebase clv fit" in err
    with duckdb.connect(str(shop / "livebase.duckdb")) as con:
        con.execute("UPDATE clv_models SET as_of = DATE '1997-01-01'")
    code, _, err = run(shop, "priorities", "--as-of", "1997-01-15")
    assert code == 1 and "livebase segment --as-of 1997-01-15" in " ".join(err.split())


def test_no_scenarios_and_an_unknown_horizon_are_clear_errors(run: Run, shop: Path) -> None:
    code, _, err = run(shop, "priorities")
    assert code == 1 and "no scenarios in livebase.yaml" in err
    code, _, err = run(_with_scenarios(shop), "priorities", "--horizon", "30")
    assert code == 1 and "CLV over 90, 365 days" in err and "--horizon 30" in err


# ---------------------------------------------------------------------------------------------
# The settings


def _scenario(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "Win back",
        "target": {"segment": "named:At Risk"},
        "expected_uplift": 0.05,
        "trigger_strength": 4,
        "effort": 2,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": {"segment": "named:x", "rule": "frequency > 1"}}, "exactly one of"),
        ({"target": {}}, "exactly one of"),
        ({"target": {"segment": "named:"}}, "'<scheme>:<segment name>'"),
        ({"expected_uplift": 1.5}, "less than or equal to 1"),
        ({"effort": 0}, "greater than or equal to 1"),
        ({"trigger_strength": 6}, "less than or equal to 5"),
        ({"uplift": 0.1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_scenarios_are_refused_with_the_reason(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        ScenarioSettings.model_validate(_scenario(**changes))


def test_scenario_names_must_be_unique_and_settings_are_frozen() -> None:
    adapter = TypeAdapter(ScenarioList)
    with pytest.raises(ValidationError, match="used twice"):
        adapter.validate_python([_scenario(), _scenario(name="WIN BACK")])
    parsed = adapter.validate_python(YAML(typ="safe").load(SCENARIOS)["scenarios"])
    assert [s.target.kind for s in parsed] == ["segment", "segment", "rule", "rule"]
    with pytest.raises(ValidationError):
        parsed[0].effort = 3  # type: ignore[misc]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 50),
            st.floats(0, 1),
            st.integers(1, 5),
            st.integers(1, 5),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_ranking_is_sorted_by_value_and_follows_the_formula(
    specs: list[tuple[int, float, int, int]],
) -> None:
    scenarios, members, clv = [], [], {}
    for k, (size, uplift, trigger, effort) in enumerate(specs):
        scenarios.append(
            ScenarioSettings(
                name=f"s{k}",
                target=ScenarioTarget(segment=f"seg{k}"),
                expected_uplift=uplift,
                trigger_strength=trigger,
                effort=effort,
            )
        )
        for i in range(size):
            members.append((f"named:seg{k}", f"c{k}-{i}"))
            clv[f"c{k}-{i}"] = float(i % 7) * 10.0
    audiences = pd.DataFrame(members, columns=["target", "customer_id"])
    predictions = pd.DataFrame({"customer_id": list(clv), "clv_365d": list(clv.values())})
    ranked = rank_scenarios(scenarios, audiences, predictions, clv_column="clv_365d")
    values = ranked["expected_incremental_value"].tolist()
    assert values == sorted(values, reverse=True)
    assert ranked["rank"].tolist() == list(range(1, len(specs) + 1))
    for row in ranked.itertuples(index=False):
        k = int(str(row.scenario)[1:])
        size, uplift, trigger, effort = specs[k]
        total = sum(float(i % 7) * 10.0 for i in range(size))
        assert row.customers == size
        assert math.isclose(
            row.expected_incremental_value, total * uplift * trigger / 5 / effort, abs_tol=1e-9
        )


def test_ranking_without_scenarios_is_a_model_error() -> None:
    empty = pd.DataFrame({"target": [], "customer_id": []})
    with pytest.raises(ModelError, match="no scenarios"):
        rank_scenarios([], empty, empty.assign(clv_365d=[]), clv_column="clv_365d")


def test_a_segment_the_scheme_can_produce_but_nobody_is_in_is_worth_zero(
    run: Run, shop: Path
) -> None:
    block = """
scenarios:
  - name: Welcome the new
    target: {segment: "new"}
    expected_uplift: 0.05
    trigger_strength: 3
    effort: 1
"""
    assert (
        _query(shop, "SELECT count(*) AS n FROM segment_history WHERE segment = 'New'")["n"][0] == 0
    )  # CDNOW's cohort bought first in early 1997: nobody is New in 1998
    code, out, err = run(_with_scenarios(shop, block), "priorities", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    [row] = result["scenarios"]
    assert (row["target"], row["customers"], row["expected_incremental_value"]) == (
        "named:New",
        0,
        0.0,
    )
    assert result["notes"] == ["scenario 'Welcome the new': its audience is empty on 1998-06-30"]
