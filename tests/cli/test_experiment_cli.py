"""``livebase experiment`` and ``livebase uplift`` as a user runs them, on the Hillstrom test.

The commands are registered on a fresh Typer app (the real one wires the same ``register``
functions) and invoked through Typer's CliRunner; errors surface as the LivebaseError that the
CLI's single handler prints in red.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner, Result

from livebase.cli import _common
from livebase.cli.experiment import register as register_experiment
from livebase.cli.uplift import register as register_uplift
from livebase.errors import ExperimentError, ModelError
from livebase.workspace import init_workspace

CONTROL = "No E-Mail"
ARMS = ("Mens E-Mail", "Womens E-Mail")
OUTCOMES = ("visit", "conversion", "spend")
Z = stats.norm.ppf(0.975)


def make_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """livebase (test app)."""

    register_experiment(app)
    register_uplift(app)
    return app


APP = make_app()


def run(ws: Path, *args: str) -> Result:
    """Invoke the app on workspace ``ws`` with a 200-column terminal (tables unwrapped)."""
    previous = _common.state.workspace
    _common.state.workspace = ws
    width = _common.console.width
    _common.console.width = 200
    try:
        return CliRunner().invoke(APP, list(args))
    finally:
        _common.state.workspace = previous
        _common.console.width = width


def ok(ws: Path, *args: str) -> Result:
    result = run(ws, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def flat(text: str) -> str:
    return " ".join(text.split())


IMPORT = ("--arm-column", "segment", "--control", CONTROL, "--outcomes", "visit,conversion,spend")


@pytest.fixture(scope="module")
def hill_ws(hillstrom: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace with Hillstrom imported as 'hillstrom' (equal planned thirds)."""
    ws = init_workspace(tmp_path_factory.mktemp("hill") / "ws").root
    ok(ws, "experiment", "import", str(hillstrom), "--name", "hillstrom", *IMPORT,
       "--planned-shares", "equal")  # fmt: skip
    yield ws


@pytest.fixture(scope="module")
def hill(hillstrom: Path) -> pd.DataFrame:
    return pd.read_csv(hillstrom)


def newcombe(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10), written out here independently."""

    def wilson(x: int, n: int) -> tuple[float, float]:
        p = x / n
        centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
        half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
        return centre - half, centre + half

    p1, p0 = x1 / n1, x0 / n0
    (l1, u1), (l0, u0) = wilson(x1, n1), wilson(x0, n0)
    d = p1 - p0
    return d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)


def test_readout_json_reproduces_the_hillstrom_arm_level_results(
    hill_ws: Path, hill: pd.DataFrame
) -> None:
    data = json.loads(ok(hill_ws, "experiment", "readout", "hillstrom", "--format", "json").stdout)
    got = {(c["arm"], c["outcome"]): c for c in data["comparisons"]}
    assert set(got) == {(a, o) for a in ARMS for o in OUTCOMES}
    control = hill[hill["segment"] == CONTROL]
    for arm in ARMS:
        treated = hill[hill["segment"] == arm]
        for outcome in OUTCOMES:
            c = got[(arm, outcome)]
            for key in ("treatment_mean", "control_mean", "lift", "ci_low", "ci_high", "p_value"):
                assert c[key] is not None
            assert c["n_treatment"] == len(treated) and c["n_control"] == len(control)
            assert c["treatment_mean"] == pytest.approx(treated[outcome].mean(), rel=1e-12)
            assert c["control_mean"] == pytest.approx(control[outcome].mean(), rel=1e-12)
            lift = treated[outcome].mean() - control[outcome].mean()
            assert c["lift"] == pytest.approx(lift, rel=1e-12)
            if outcome == "spend":
                # revenue on balanced thirds with 122+ buyers per arm: exactly Welch's interval
                se = math.sqrt(
                    treated[outcome].var() / len(treated) + control[outcome].var() / len(control)
                )
                assert c["ci_low"] == pytest.approx(lift - Z * se, rel=1e-3)
                assert c["ci_high"] == pytest.approx(lift + Z * se, rel=1e-3)
                assert c["method"] == "welch"
            else:
                low, high = newcombe(
                    int(treated[outcome].sum()), len(treated),
                    int(control[outcome].sum()), len(control),
                )  # fmt: skip
                assert (c["ci_low"], c["ci_high"]) == pytest.approx((low, high), abs=1e-12)
            assert c["ci_low"] < c["lift"] < c["ci_high"] and c["p_value"] < 0.01
    assert got[("Mens E-Mail", "visit")]["lift"] == pytest.approx(0.0766, abs=5e-5)
    assert got[("Womens E-Mail", "visit")]["lift"] == pytest.approx(0.0452, abs=5e-5)
    assert data["srm"]["mismatch"] is False and data["srm"]["p_value"] > 0.5
    arms = {a["arm"]: a for a in data["arms"]}
    converters = control[control["conversion"] == 1]
    assert arms[CONTROL]["aov"] == pytest.approx(converters["spend"].mean())
    assert arms[CONTROL]["n"] == 21_306


def test_readout_table_shows_arms_lifts_economics_and_writes_the_chart(hill_ws: Path) -> None:
    out = ok(
        hill_ws, "experiment", "readout", "hillstrom", "--cost-per-message", "0.1"
    ).stdout  # fmt: skip
    text = flat(out)
    for piece in (
        "Mens E-Mail vs No E-Mail",
        "Womens E-Mail vs No E-Mail",
        "+7.66 pp",
        "[+7.00, +8.32] pp",
        "+4.52 pp",
        "MDE 0.95 pp",
        "Incremental results",
        "significant",
    ):
        assert piece in text
    assert "arm sizes match the planned shares" in text
    assert "2,130.70" in text  # cost: 21,307 Mens e-mails at 0.10
    chart = hill_ws / "hillstrom_lift.png"
    assert f"chart: {chart}" in text
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readout_by_segment_with_cuped_and_custom_chart(hill_ws: Path, tmp_path: Path) -> None:
    chart = tmp_path / "lift.png"
    data = json.loads(
        ok(
            hill_ws, "experiment", "readout", "hillstrom", "--format", "json",
            "--segment-column", "channel", "--cuped-covariate", "history", "--chart", str(chart),
            "--cost-per-message", "0.1",
        ).stdout
    )  # fmt: skip
    assert chart.exists()
    assert {c["method"] for c in data["comparisons"]} == {"cuped"}
    assert data["segment_column"] == "channel"
    segments = {s["segment"] for s in data["segments"]}
    assert segments == {"Phone", "Web", "Multichannel"}
    assert all(s["p_value_adjusted"] >= s["p_value"] for s in data["segments"])
    econ = {e["arm"]: e for e in data["economics"]}
    assert econ["Mens E-Mail"]["cost"] == pytest.approx(0.1 * 21_307)


def test_importing_twice_without_replace_is_refused_and_changes_nothing(
    hill_ws: Path, hillstrom: Path
) -> None:
    before = json.loads(ok(hill_ws, "experiment", "list", "--format", "json").stdout)
    result = run(hill_ws, "experiment", "import", str(hillstrom), "--name", "hillstrom", *IMPORT)
    assert result.exit_code != 0 and isinstance(result.exception, ExperimentError)
    message = str(result.exception)
    assert f"already imported from {hillstrom}" in message and "--replace" in message
    after = json.loads(ok(hill_ws, "experiment", "list", "--format", "json").stdout)
    assert after == before and after[0]["units"] == 64_000


def test_an_unknown_experiment_suggests_the_closest_name(hill_ws: Path) -> None:
    result = run(hill_ws, "experiment", "readout", "hilstrom")
    assert isinstance(result.exception, ExperimentError)
    assert "did you mean 'hillstrom'?" in str(result.exception)
    result = run(hill_ws, "uplift", "fit", "--experiment", "hilstrom", "--outcome", "visit")
    assert "did you mean 'hillstrom'?" in str(result.exception)


def test_list_shows_the_import(hill_ws: Path) -> None:
    text = flat(ok(hill_ws, "experiment", "list").stdout)
    assert "hillstrom" in text and "hillstrom.csv" in text and "64,000" in text


def test_a_skewed_split_is_flagged_loudly(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws").root
    rng = np.random.default_rng(3)
    n = 2000
    arm = np.where(rng.random(n) < 0.6, "treatment", "holdout")
    frame = pd.DataFrame(
        {"customer": [f"k{i}" for i in range(n)], "arm": arm, "bought": rng.random(n) < 0.1}
    )
    frame["bought"] = frame["bought"].astype(int)
    path = tmp_path / "skewed.csv"
    frame.to_csv(path, index=False)
    ok(ws, "experiment", "import", str(path), "--name", "skewed", "--arm-column", "arm",
       "--control", "holdout", "--outcomes", "bought", "--id-column", "customer",
       "--planned-shares", "treatment=50,holdout=50")  # fmt: skip
    result = ok(ws, "experiment", "readout", "skewed")
    assert "SAMPLE RATIO MISMATCH" in result.stdout
    assert "SAMPLE RATIO MISMATCH" in result.stderr
    (ws / "skewed_lift.png").unlink()
    data = json.loads(ok(ws, "experiment", "readout", "skewed", "--format", "json").stdout)
    assert data["srm"]["mismatch"] is True
    assert any("SAMPLE RATIO MISMATCH" in w for w in data["warnings"])
    assert not (ws / "skewed_lift.png").exists()  # json writes a chart only when asked
    result = run(ws, "uplift", "score", "--experiment", "skewed")
    assert isinstance(result.exception, ModelError)
    assert "livebase uplift fit --experiment skewed --outcome OUTCOME" in str(result.exception)
    result = run(ws, "uplift", "fit", "--experiment", "skewed", "--outcome", "bought")
    assert isinstance(result.exception, ModelError)
    assert "no usable pre-treatment columns" in str(result.exception)


def test_bad_files_and_options_are_named(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws").root
    path = tmp_path / "e.csv"
    path.write_text("grp,buy\na,1\nb,0\na,x\n", "utf-8")
    result = run(ws, "experiment", "import", str(path), "--name", "e", "--arm-column", "grp",
                 "--control", "b", "--outcomes", "buy")  # fmt: skip
    assert "row 4, column 'buy': 'x' — not a number" in str(result.exception)
    result = run(ws, "experiment", "import", str(path), "--name", "e", "--arm-column", "grp",
                 "--control", "b", "--outcomes", "buy", "--planned-shares", "a:1")  # fmt: skip
    assert "--planned-shares: cannot read 'a:1'" in str(result.exception)
    with duckdb.connect(str(ws / "livebase.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM experiments").fetchone() == (0,)


def test_plan_prints_the_sample_size_per_arm(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws").root
    text = flat(ok(ws, "experiment", "plan", "--baseline", "0.12", "--mde", "0.02").stdout)
    assert "4,438 customers per arm" in text and "8,876 in all" in text
    data = json.loads(
        ok(ws, "experiment", "plan", "--baseline", "0.12", "--mde", "0.02", "--base-size",
           "50000", "--format", "json").stdout
    )  # fmt: skip
    assert data["n_per_arm"] == 4438 and data["holdout_share"] == 0.048 and data["feasible"]
    result = run(ws, "experiment", "plan", "--baseline", "12", "--mde", "0.02")
    assert "baseline must be a rate between 0 and 1" in str(result.exception)


def test_uplift_fit_then_score_writes_one_score_per_customer(
    hill_ws: Path, hill: pd.DataFrame, tmp_path: Path
) -> None:
    fit = json.loads(
        ok(hill_ws, "uplift", "fit", "--experiment", "hillstrom", "--outcome", "visit",
           "--estimator", "logistic", "--format", "json").stdout
    )  # fmt: skip
    assert fit["model"] == "hillstrom/visit" and fit["n_test"] == round(0.3 * 21_306) + round(
        0.3 * 21_307
    ) + round(0.3 * 21_387)
    for ev in fit["evaluation"]:
        assert ev["qini_coefficient"] > 0
        assert ev["auuc"] > ev["auuc_random"]
        assert len(ev["deciles"]) == 10
    csv = tmp_path / "scores.csv"
    text = flat(
        ok(hill_ws, "uplift", "score", "--experiment", "hillstrom", "--out", str(csv)).stdout
    )
    assert "Scored 64,000 customers" in text
    with duckdb.connect(str(hill_ws / "livebase.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT count(*), count(DISTINCT customer_id), count(best_arm), "
            "min(json_array_length(json_keys(uplifts))) FROM uplift_scores "
            "WHERE model = 'hillstrom/visit'"
        ).fetchone()
        best = con.execute(
            "SELECT best_arm, best_uplift, uplifts FROM uplift_scores LIMIT 200"
        ).fetchall()
    assert rows is not None
    assert rows[0] == rows[1] == len(hill) and rows[3] == 2
    for arm, uplift, uplifts in best:
        values = json.loads(uplifts)
        assert uplift == pytest.approx(max(values.values()))
        assert arm == (max(values, key=values.__getitem__) if uplift > 0 else None)
    scores = pd.read_csv(csv)
    assert len(scores) == len(hill) and scores["customer_id"].is_unique
    assert list(scores.columns) == [
        "customer_id", "uplift[Mens E-Mail]", "uplift[Womens E-Mail]", "best_arm", "best_uplift"
    ]  # fmt: skip


def test_uplift_fit_table_reports_qini_deciles_and_writes_the_qini_chart(
    hill_ws: Path, tmp_path: Path
) -> None:
    # the default gradient-boosting T-learner on full Hillstrom is checked (slow) in
    # tests/measure/test_uplift.py; here the table output, with the fast class transformation
    chart = tmp_path / "qini.png"
    text = flat(
        ok(hill_ws, "uplift", "fit", "--experiment", "hillstrom", "--outcome", "conversion",
           "--learner", "class_transformation", "--estimator", "logistic", "--chart", str(chart),
           "--seed", "1").stdout
    )  # fmt: skip
    assert "Fitted hillstrom/conversion: class_transformation with logistic" in text
    assert "Held-out evaluation (conversion)" in text and "Qini coef." in text
    assert "Mens E-Mail: uplift by decile of predicted uplift" in text
    assert (
        "features: recency, history, mens, womens, newbie, history_segment, zip_code, channel"
        in text
    )
    assert chart.read_bytes()[:4] == b"\x89PNG"
