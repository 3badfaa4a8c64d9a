"""The whole segmentation as an ordered list of SQL steps, for any engine and any dialect.

Each step is a named table and one SELECT in DuckDB's dialect: the features, one table per
scheme, the assignments of every scheme, the KPIs. ``run_segmentation`` executes them on the
store (and writes the SCD2 history in between); ``run_on_engine`` executes them on any
``livebase.store.engine.Engine`` (Spark); ``pipeline_script`` prints them, transpiled, for a
warehouse (``livebase sql --dialect …``).

Rule schemes that read earlier schemes' *history* (``named_segment_since`` …) need the store's
``segment_history``: they run on DuckDB only, and elsewhere are an error naming the rule.

>>> from datetime import date
>>> steps = pipeline_steps(FeaturesSettings(), SegmentsSettings(), date(2026, 6, 30))
>>> [s.table for s in steps]
['lb_features', 'lb_seg_rfm', 'lb_seg_abc', 'lb_seg_named', 'lb_assignments', 'lb_kpis']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import sqlglot
from sqlglot import exp

from livebase.errors import RuleError
from livebase.features import FeatureSource, FeaturesSettings, features_sql
from livebase.segments.kpis import KPI_INPUTS, kpi_sql
from livebase.segments.names import FEATURES_TABLE, STATE_SUFFIXES, rule_columns
from livebase.segments.rules import CheckedRule, check_rules
from livebase.segments.schemes import abc_sql, named_sql, quantile_sql, rules_sql, scores_sql
from livebase.segments.settings import (
    AbcScheme,
    JobsScheme,
    NamedScheme,
    QuantileScheme,
    RulesScheme,
    Scheme,
    SegmentsSettings,
)
from livebase.store.engine import Dialect, transpile

__all__ = [
    "FEATURES_TABLE",
    "Step",
    "assignments_sql",
    "carried_columns",
    "clv_kpi_column",
    "pipeline_script",
    "pipeline_steps",
    "rule_columns_used",
    "scheme_results_sql",
    "scheme_step_sql",
]


@dataclass(frozen=True)
class Step:
    """One table of the pipeline: its name, what it is, its SELECT (DuckDB dialect)."""

    table: str
    title: str
    sql: str


def clv_kpi_column(features: FeaturesSettings) -> str:
    """The CLV feature the KPI table averages: the longest horizon.

    >>> clv_kpi_column(FeaturesSettings())
    'clv_365d'
    """
    return f"clv_{max(features.clv_horizons)}d"


def rule_columns_used(checked: Sequence[CheckedRule]) -> dict[str, set[str]]:
    """Rule name → the columns its condition reads."""
    used: dict[str, set[str]] = {}
    for rule in checked:
        tree = sqlglot.parse_one(rule.sql, read="duckdb")
        used.setdefault(rule.name, set()).update(c.name for c in tree.find_all(exp.Column))
    return used


def _state_schemes(checked: Sequence[CheckedRule], earlier: Sequence[str]) -> list[str]:
    columns = set().union(*rule_columns_used(checked).values()) if checked else set()
    return [n for n in earlier if any(n + s in columns for s in STATE_SUFFIXES)]


def carried_columns(features: FeaturesSettings) -> tuple[str, ...]:
    """The feature columns every scheme table passes through for the KPIs and thresholds.

    >>> carried_columns(FeaturesSettings())[-1]
    'clv_365d'
    """
    return (*KPI_INPUTS, clv_kpi_column(features))


def scheme_step_sql(
    name: str,
    scheme: Scheme,
    checked: Sequence[CheckedRule],
    tables: Mapping[str, str],
    inputs: str = FEATURES_TABLE,
    *,
    carry: Sequence[str] = (),
) -> str:
    """The SELECT of one scheme's table; ``tables`` maps earlier schemes to their tables,
    ``inputs`` is the relation rules read (the features, or the features with states) and
    ``carry`` the feature columns passed through (``carried_columns``)."""
    if isinstance(scheme, QuantileScheme):
        return quantile_sql(name, scheme, FEATURES_TABLE, carry=carry)
    if isinstance(scheme, AbcScheme):
        return abc_sql(name, scheme, FEATURES_TABLE, carry=carry)
    if isinstance(scheme, NamedScheme):
        return named_sql(name, scheme, tables[scheme.based_on], carry=carry)
    assert isinstance(scheme, RulesScheme | JobsScheme)
    return rules_sql(name, scheme, checked, inputs, carry=carry)


def assignments_sql(
    tables: Mapping[str, str],
    scores: Mapping[str, str] | None = None,
    columns: Sequence[str] = (),
) -> str:
    """The UNION ALL of the scheme tables: customer_id, scheme, segment, the scores (JSON
    text, when ``scores`` maps each scheme to ``scores_sql``) and ``columns``."""
    cols = "".join(f", {c}" for c in columns)
    parts = []
    for name, table in tables.items():
        score = f", {scores[name]} AS scores" if scores is not None else ""
        parts.append(f"SELECT customer_id, scheme, segment{score}{cols} FROM {table}")
    return "\nUNION ALL\n".join(parts)


def scheme_results_sql(table: str, scheme: Scheme) -> str:
    """A scheme's table as (customer_id, segment, scores): what the history records."""
    return f"(SELECT customer_id, segment, {scores_sql(scheme)} AS scores FROM {table})"


def pipeline_steps(
    features: FeaturesSettings,
    segments: SegmentsSettings,
    as_of: date,
    *,
    source: FeatureSource = "log",
    predictions: str | None = None,
) -> list[Step]:
    """Every table of a segmentation as of ``as_of``, in order, for an engine or a warehouse.

    ``predictions``: the SELECT of CLV predictions joined as features (None: NULL columns).
    RuleError when a rule reads an earlier scheme's history (only the store has it).
    """
    steps = [
        Step(
            FEATURES_TABLE,
            "features: one row per customer in the base",
            features_sql(features, as_of, source=source, predictions=predictions),
        )
    ]
    tables: dict[str, str] = {}
    carry_columns = carried_columns(features)
    for name, scheme in segments.schemes.items():
        checked: list[CheckedRule] = []
        if isinstance(scheme, RulesScheme | JobsScheme):
            checked = check_rules(scheme.rules, rule_columns(features, segments, name), scheme=name)
            needs = _state_schemes(checked, list(tables))
            if needs:
                rule = next(
                    r.name
                    for r in checked
                    if any(n + s in r.sql for n in needs for s in STATE_SUFFIXES)
                )
                raise RuleError(
                    f"scheme '{name}' reads the segment history of '{needs[0]}', which only the "
                    "workspace store keeps: run this scheme with the DuckDB engine",
                    rule=rule,
                )
        table = f"lb_seg_{name}"
        sql = scheme_step_sql(name, scheme, checked, tables, carry=carry_columns)
        steps.append(Step(table, f"scheme '{name}' ({scheme.kind})", sql))
        tables[name] = table
    scores = {n: scores_sql(segments.schemes[n]) for n in tables}
    steps.append(
        Step(
            "lb_assignments",
            "every scheme's segment and scores per customer",
            assignments_sql(tables, scores),
        )
    )
    kpis = kpi_sql(
        f"(\n{assignments_sql(tables, columns=carry_columns)}\n)",
        None,
        as_of,
        clv=clv_kpi_column(features),
    )
    steps.append(Step("lb_kpis", "KPIs per scheme and segment", kpis))
    return steps


def pipeline_script(
    features: FeaturesSettings,
    segments: SegmentsSettings,
    as_of: date,
    dialect: Dialect,
    *,
    predictions: str | None = None,
) -> str:
    """The whole pipeline as one commented SQL script in ``dialect``, to schedule in a warehouse.

    Each step is a ``CREATE TABLE … AS SELECT``; the script reads the tables ``orders``,
    ``customers`` and ``events`` (columns as in the livebase store).

    >>> script = pipeline_script(FeaturesSettings(), SegmentsSettings(), date(2026, 6, 30),
    ...                          "postgres")
    >>> "CREATE TABLE lb_kpis AS" in script
    True
    """
    parts = [
        f"-- livebase segmentation as of {as_of.isoformat()}, {dialect} dialect "
        "(generated by 'livebase sql'; transpiled with sqlglot from the DuckDB definition).",
        "-- Reads: orders (customer_id, created_at, paid_at, paid_amount, status, items),",
        "--        customers (customer_id, created_at), events (customer_id, ts, name).",
        "-- Writes the tables below, in order; re-run it daily with a new as-of date.",
    ]
    for i, step in enumerate(
        pipeline_steps(features, segments, as_of, predictions=predictions), start=1
    ):
        comments = [line for line in step.sql.splitlines() if line.startswith("--")]
        body = transpile(step.sql, dialect)
        parts.append("")
        parts.append(f"-- step {i}: {step.table}: {step.title}")
        parts.extend(comments)
        parts.append(f"DROP TABLE IF EXISTS {step.table};")
        parts.append(f"CREATE TABLE {step.table} AS\n{_strip_comments(body)};")
    return "\n".join(parts) + "\n"


def _strip_comments(sql: str) -> str:
    """sqlglot re-emits leading comments as /* … */ blocks: keep the SQL itself only."""
    lines = []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("/*") and stripped.endswith("*/"):
            continue
        lines.append(line)
    return "\n".join(lines)
