"""Segments that live: schemes, SCD2 history, KPIs, transitions, alerts, exports.

Typical use (the CLI does this)::

    run = run_segmentation(store, cfg.features, cfg.segments, date(2026, 6, 30), ran_at=now)
    run.kpis                                   # scheme, segment, customers, share, revenue, …
    transitions(store.con, "named", date(2026, 3, 31), date(2026, 6, 30))
    evaluate_alerts(store.con, cfg.segments)
"""

from livebase.segments.alerts import AlertResult, evaluate_alerts
from livebase.segments.charts import transitions_html, transitions_png
from livebase.segments.export import EXPORT_COLUMNS, resolve_segment, segment_members
from livebase.segments.history import (
    customer_history,
    resolve_run,
    run_dates,
    segment_state_sql,
    segments_at,
    write_history,
)
from livebase.segments.kpis import KPI_COLUMNS, kpi_sql
from livebase.segments.labels import Language, kpi_labels, label, labels
from livebase.segments.rules import ALLOWED_FUNCTIONS, CheckedRule, check_condition, check_rules
from livebase.segments.run import (
    Every,
    SegmentationRun,
    backfill_dates,
    check_segment_rules,
    order_kpis,
    rule_columns,
    run_segmentation,
)
from livebase.segments.schemes import ABC_GROUPS, segment_order
from livebase.segments.settings import (
    AbcScheme,
    AlertSettings,
    FeaturesSettings,
    JobsScheme,
    NamedScheme,
    QuantileScheme,
    RuleSpec,
    RulesScheme,
    SegmentsSettings,
    SignalSettings,
    yaml_lines,
)
from livebase.segments.transitions import GONE, NEW, Transitions, transitions

__all__ = [
    "ABC_GROUPS",
    "ALLOWED_FUNCTIONS",
    "EXPORT_COLUMNS",
    "GONE",
    "KPI_COLUMNS",
    "NEW",
    "AbcScheme",
    "AlertResult",
    "AlertSettings",
    "CheckedRule",
    "Every",
    "FeaturesSettings",
    "JobsScheme",
    "Language",
    "NamedScheme",
    "QuantileScheme",
    "RuleSpec",
    "RulesScheme",
    "SegmentationRun",
    "SegmentsSettings",
    "SignalSettings",
    "Transitions",
    "backfill_dates",
    "check_condition",
    "check_rules",
    "check_segment_rules",
    "customer_history",
    "evaluate_alerts",
    "kpi_labels",
    "kpi_sql",
    "label",
    "labels",
    "order_kpis",
    "resolve_run",
    "resolve_segment",
    "rule_columns",
    "run_dates",
    "run_segmentation",
    "segment_members",
    "segment_order",
    "segment_state_sql",
    "segments_at",
    "transitions",
    "transitions_html",
    "transitions_png",
    "write_history",
    "yaml_lines",
]
