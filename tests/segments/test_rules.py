"""The rule checker: whitelist, forbidden SQL, unreachable rules, errors naming rule and line."""

from __future__ import annotations

import pytest

from livebase.errors import RuleError
from livebase.features import FeaturesSettings
from livebase.segments import (
    RuleSpec,
    SegmentsSettings,
    check_condition,
    check_rules,
    check_segment_rules,
    yaml_lines,
)

COLUMNS = {"frequency", "recency_days", "days_since_login", "named_segment", "paid_modules_90d"}


def rules(*conditions: str) -> list[RuleSpec]:
    return [RuleSpec(name=f"r{i}", when=c) for i, c in enumerate(conditions)]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("frequncy > 1", "unknown column 'frequncy' — did you mean 'frequency'?"),
        ("sleep(frequency) > 1", "unknown function 'sleep'"),
        ("current_date > recency_days", "function 'current_date' is not allowed"),
        ("frequency > (select max(amount) from orders)", "is not allowed"),
        ("exists (select 1 from orders)", "is not allowed"),
        ("orders.frequency > 1", "write the column without a table"),
        ("frequency > 1; drop table orders", "write one condition"),
        ("frequency >", "not a valid SQL condition"),
        ("42", "must be a condition"),
    ],
)
def test_invalid_conditions_are_errors_that_say_why(condition: str, message: str) -> None:
    with pytest.raises(RuleError, match="rule 'x' \\(line 9\\)") as info:
        check_condition(condition, COLUMNS, rule="x", line=9)
    assert message in str(info.value)


def test_valid_condition_is_normalised_duckdb_sql() -> None:
    sql = check_condition("paid_modules_90d >= 2 and coalesce(days_since_login, 999) < 7", COLUMNS)
    assert sql == "paid_modules_90d >= 2 AND COALESCE(days_since_login, 999) < 7"


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("true", "frequency > 1"),
        ("frequency >= 2", "frequency >= 2"),
        ("frequency >= 2", "frequency > 5 and recency_days < 30"),
        ("frequency between 1 and 5", "frequency = 3"),
        ("named_segment in ('At Risk', 'Lost')", "named_segment = 'Lost' and frequency > 1"),
        ("days_since_login is not null", "days_since_login < 14"),
        ("frequency > 1 or recency_days < 30", "recency_days < 10"),
    ],
)
def test_a_rule_covered_by_an_earlier_one_is_unreachable(earlier: str, later: str) -> None:
    with pytest.raises(RuleError, match=r"rule 'r1'.*no customer can reach it: rule 'r0'"):
        check_rules(rules(earlier, later), COLUMNS)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("frequency > 2", "frequency >= 2"),
        ("frequency >= 2 and recency_days < 30", "frequency >= 2"),
        ("named_segment = 'Lost'", "named_segment in ('Lost', 'At Risk')"),
        ("frequency > 1", "frequency > 1 or recency_days < 30"),
        ("days_since_login < 14", "days_since_login is null"),
    ],
)
def test_a_rule_that_still_reaches_someone_passes(earlier: str, later: str) -> None:
    assert len(check_rules(rules(earlier, later), COLUMNS)) == 2


def test_a_contradictory_rule_is_unreachable() -> None:
    with pytest.raises(RuleError, match="can never be true"):
        check_rules(rules("frequency > 5 and frequency < 3"), COLUMNS)


YAML = """\
features:
  signals:
    paid_modules_90d: {source: orders, window_days: 90}
segments:
  schemes:
    school:
      kind: rules
      rules:
        - name: Champions
          when: "paid_modules_90d >= 2"
        - name: Big spenders
          when: "paid_modules_90d >= 3 and monetary > 1000"
"""


def test_config_rule_errors_name_the_rule_and_its_yaml_line() -> None:
    from ruamel.yaml import YAML as Loader

    data = Loader(typ="safe").load(YAML)
    features = FeaturesSettings.model_validate(data["features"])
    segments = SegmentsSettings.model_validate(data["segments"])
    with pytest.raises(RuleError) as info:
        check_segment_rules(features, segments, yaml_lines(YAML))
    assert info.value.rule == "Big spenders"
    assert info.value.line == 12
    assert "rule 'Champions' (earlier)" in str(info.value)


def test_rules_may_use_only_schemes_listed_before_them() -> None:
    segments = SegmentsSettings.model_validate(
        {
            "schemes": {
                "rfm": {"kind": "quantile"},
                "first": {"kind": "rules", "rules": [{"name": "x", "when": "later_segment = 'y'"}]},
                "later": {"kind": "rules", "rules": [{"name": "y", "when": "first_segment = 'x'"}]},
            }
        }
    )
    with pytest.raises(RuleError, match="unknown column 'later_segment'"):
        check_segment_rules(FeaturesSettings(), segments)
