"""Segments that live: schemes, SCD2 history, KPIs, transitions, alerts, exports.

Typical use (the CLI does this)::

    run = run_segmentation(store, cfg.features, cfg.segments, date(2026, 6, 30), ran_at=now)
    run.kpis                                   # scheme, segment, customers, share, revenue, …
    transitions(store.con, "named", date(2026, 3, 31), date(2026, 6, 30))
    evaluate_alerts(store.con, cfg.segments)
"""

from typing import TYPE_CHECKING

from livebase._lazy import lazy_exports

if TYPE_CHECKING:
    from livebase.segments.alerts import AlertResult, evaluate_alerts
    from livebase.segments.charts import transitions_html, transitions_png
    from livebase.segments.engine_run import (
        EngineRun,
        run_on_engine,
        save_engine_run,
        segment_on_spark,
    )
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
    from livebase.segments.pipeline import Step, pipeline_script, pipeline_steps
    from livebase.segments.rules import ALLOWED_FUNCTIONS, CheckedRule, check_condition, check_rules
    from livebase.segments.run import (
        Every,
        SegmentationRun,
        SourceChoice,
        backfill_dates,
        check_segment_rules,
        choose_source,
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
    "EngineRun",
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
    "SourceChoice",
    "Step",
    "Transitions",
    "backfill_dates",
    "check_condition",
    "check_rules",
    "check_segment_rules",
    "choose_source",
    "customer_history",
    "evaluate_alerts",
    "kpi_labels",
    "kpi_sql",
    "label",
    "labels",
    "order_kpis",
    "pipeline_script",
    "pipeline_steps",
    "resolve_run",
    "resolve_segment",
    "rule_columns",
    "run_dates",
    "run_on_engine",
    "run_segmentation",
    "save_engine_run",
    "segment_members",
    "segment_on_spark",
    "segment_order",
    "segment_state_sql",
    "segments_at",
    "transitions",
    "transitions_html",
    "transitions_png",
    "write_history",
    "yaml_lines",
]

# imported on first use, so that importing a settings module stays cheap (livebase._lazy)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "livebase.segments.alerts": ["AlertResult", "evaluate_alerts"],
        "livebase.segments.charts": ["transitions_html", "transitions_png"],
        "livebase.segments.engine_run": [
            "EngineRun",
            "run_on_engine",
            "save_engine_run",
            "segment_on_spark",
        ],
        "livebase.segments.export": ["EXPORT_COLUMNS", "resolve_segment", "segment_members"],
        "livebase.segments.history": [
            "customer_history",
            "resolve_run",
            "run_dates",
            "segment_state_sql",
            "segments_at",
            "write_history",
        ],
        "livebase.segments.kpis": ["KPI_COLUMNS", "kpi_sql"],
        "livebase.segments.labels": ["Language", "kpi_labels", "label", "labels"],
        "livebase.segments.pipeline": ["Step", "pipeline_script", "pipeline_steps"],
        "livebase.segments.rules": [
            "ALLOWED_FUNCTIONS",
            "CheckedRule",
            "check_condition",
            "check_rules",
        ],
        "livebase.segments.run": [
            "Every",
            "SegmentationRun",
            "SourceChoice",
            "backfill_dates",
            "check_segment_rules",
            "choose_source",
            "order_kpis",
            "rule_columns",
            "run_segmentation",
        ],
        "livebase.segments.schemes": ["ABC_GROUPS", "segment_order"],
        "livebase.segments.settings": [
            "AbcScheme",
            "AlertSettings",
            "FeaturesSettings",
            "JobsScheme",
            "NamedScheme",
            "QuantileScheme",
            "RuleSpec",
            "RulesScheme",
            "SegmentsSettings",
            "SignalSettings",
            "yaml_lines",
        ],
        "livebase.segments.transitions": ["GONE", "NEW", "Transitions", "transitions"],
    },
)
