"""Measurement that tells the truth: holdout assignment, readouts with intervals, uplift.

Assignment (:func:`assign_arms`, :func:`assignment_sql`) is a salted md5 hash of the customer
id, identical in Python and SQL. Readouts (:func:`readout`, :func:`readout_from_stats`) work on
sufficient statistics per arm. Uplift models (:func:`fit_uplift`) rank customers by how much a
treatment moves them, evaluated with Qini/AUUC on a held-out split.
"""

from __future__ import annotations

import typing as _typing

from livebase._lazy import lazy_exports as _lazy_exports

if _typing.TYPE_CHECKING:
    from livebase.measure.assignment import (
        GLOBAL_HOLDOUT,
        assign_arms,
        assignment_sql,
        bucket_of,
        exclude_global_holdout,
        global_holdout,
        global_holdout_sql,
        new_assignments,
        validate_shares,
    )
    from livebase.measure.charts import (
        lift_chart_png,
        qini_chart_png,
    )
    from livebase.measure.experiment_file import (
        ExperimentFile,
        read_experiment_csv,
        validate_experiment_frame,
    )
    from livebase.measure.intervals import (
        Difference,
        Interval,
        benjamini_hochberg,
        bootstrap_difference,
        cuped_difference,
        holm,
        newcombe_difference,
        newcombe_p_value,
        proportion_difference,
        relative_lift_delta,
        sample_ratio_mismatch,
        welch_difference,
        wilson_interval,
    )
    from livebase.measure.lognormal import (
        lognormal_difference,
    )
    from livebase.measure.playbook_readout import (
        PLAYBOOK_REASONS,
        PlaybookReadout,
        StepReadout,
    )
    from livebase.measure.playbook_store import (
        FunnelStep,
        GlobalHoldoutReadout,
        PlaybookSpec,
        read_funnel,
        read_global_holdout,
        read_playbook,
    )
    from livebase.measure.pooling import (
        PooledComparison,
        StratifiedReadout,
        pooled_readout,
    )
    from livebase.measure.power import (
        SamplePlan,
        minimum_detectable_effect,
        plan_sample_size,
    )
    from livebase.measure.ratios import (
        aov_difference,
        cuped_relative,
        relative_means,
        relative_proportion,
    )
    from livebase.measure.readout import (
        REASONS,
        ArmStats,
        ArmSummary,
        Comparison,
        Costs,
        Economics,
        ExperimentStats,
        Readout,
        ReadoutSettings,
        SrmCheck,
        experiment_stats,
        experiment_stats_sql,
        pool,
        readout,
        readout_from_stats,
        stats_from_aggregates,
    )
    from livebase.measure.sequential import (
        sequential_difference,
    )
    from livebase.measure.statistics import (
        RegressionStats,
        SampleStats,
        TailStats,
    )
    from livebase.measure.uplift import (
        HILLSTROM_FEATURES,
        FeatureSpec,
        UpliftModel,
        design_matrix,
        fit_uplift,
        score_customers,
    )
    from livebase.measure.uplift_eval import (
        RepeatedUplift,
        best_single_feature,
        repeated_uplift_evaluation,
    )
    from livebase.measure.uplift_metrics import (
        ArmEvaluation,
        QiniSummary,
        evaluate_uplift,
        qini_curve,
        qini_summary,
        split_train_test,
        uplift_by_decile,
    )

__all__ = [
    "GLOBAL_HOLDOUT",
    "HILLSTROM_FEATURES",
    "PLAYBOOK_REASONS",
    "REASONS",
    "ArmEvaluation",
    "ArmStats",
    "ArmSummary",
    "Comparison",
    "Costs",
    "Difference",
    "Economics",
    "ExperimentFile",
    "ExperimentStats",
    "FeatureSpec",
    "FunnelStep",
    "GlobalHoldoutReadout",
    "Interval",
    "PlaybookReadout",
    "PlaybookSpec",
    "PooledComparison",
    "QiniSummary",
    "Readout",
    "ReadoutSettings",
    "RegressionStats",
    "RepeatedUplift",
    "SamplePlan",
    "SampleStats",
    "SrmCheck",
    "StepReadout",
    "StratifiedReadout",
    "TailStats",
    "UpliftModel",
    "aov_difference",
    "assign_arms",
    "assignment_sql",
    "benjamini_hochberg",
    "best_single_feature",
    "bootstrap_difference",
    "bucket_of",
    "cuped_difference",
    "cuped_relative",
    "design_matrix",
    "evaluate_uplift",
    "exclude_global_holdout",
    "experiment_stats",
    "experiment_stats_sql",
    "fit_uplift",
    "global_holdout",
    "global_holdout_sql",
    "holm",
    "lift_chart_png",
    "lognormal_difference",
    "minimum_detectable_effect",
    "new_assignments",
    "newcombe_difference",
    "newcombe_p_value",
    "plan_sample_size",
    "pool",
    "pooled_readout",
    "proportion_difference",
    "qini_chart_png",
    "qini_curve",
    "qini_summary",
    "read_experiment_csv",
    "read_funnel",
    "read_global_holdout",
    "read_playbook",
    "readout",
    "readout_from_stats",
    "relative_lift_delta",
    "relative_means",
    "relative_proportion",
    "repeated_uplift_evaluation",
    "sample_ratio_mismatch",
    "score_customers",
    "sequential_difference",
    "split_train_test",
    "stats_from_aggregates",
    "uplift_by_decile",
    "validate_experiment_frame",
    "validate_shares",
    "welch_difference",
    "wilson_interval",
]

# imported on first use, so that importing a settings module stays cheap (livebase._lazy)
__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "livebase.measure.assignment": [
            "GLOBAL_HOLDOUT",
            "assign_arms",
            "assignment_sql",
            "bucket_of",
            "exclude_global_holdout",
            "global_holdout",
            "global_holdout_sql",
            "new_assignments",
            "validate_shares",
        ],
        "livebase.measure.charts": [
            "lift_chart_png",
            "qini_chart_png",
        ],
        "livebase.measure.experiment_file": [
            "ExperimentFile",
            "read_experiment_csv",
            "validate_experiment_frame",
        ],
        "livebase.measure.intervals": [
            "Difference",
            "Interval",
            "benjamini_hochberg",
            "bootstrap_difference",
            "cuped_difference",
            "holm",
            "newcombe_difference",
            "newcombe_p_value",
            "proportion_difference",
            "relative_lift_delta",
            "sample_ratio_mismatch",
            "welch_difference",
            "wilson_interval",
        ],
        "livebase.measure.lognormal": [
            "lognormal_difference",
        ],
        "livebase.measure.pooling": [
            "PooledComparison",
            "StratifiedReadout",
            "pooled_readout",
        ],
        "livebase.measure.power": [
            "SamplePlan",
            "minimum_detectable_effect",
            "plan_sample_size",
        ],
        "livebase.measure.ratios": [
            "aov_difference",
            "cuped_relative",
            "relative_means",
            "relative_proportion",
        ],
        "livebase.measure.playbook_readout": ["PLAYBOOK_REASONS", "PlaybookReadout", "StepReadout"],
        "livebase.measure.playbook_store": [
            "FunnelStep",
            "GlobalHoldoutReadout",
            "PlaybookSpec",
            "read_funnel",
            "read_global_holdout",
            "read_playbook",
        ],
        "livebase.measure.readout": [
            "REASONS",
            "ArmStats",
            "ArmSummary",
            "Comparison",
            "Costs",
            "Economics",
            "ExperimentStats",
            "Readout",
            "ReadoutSettings",
            "SrmCheck",
            "experiment_stats",
            "experiment_stats_sql",
            "pool",
            "readout",
            "readout_from_stats",
            "stats_from_aggregates",
        ],
        "livebase.measure.sequential": [
            "sequential_difference",
        ],
        "livebase.measure.statistics": [
            "RegressionStats",
            "SampleStats",
            "TailStats",
        ],
        "livebase.measure.uplift_eval": [
            "RepeatedUplift",
            "best_single_feature",
            "repeated_uplift_evaluation",
        ],
        "livebase.measure.uplift": [
            "HILLSTROM_FEATURES",
            "FeatureSpec",
            "UpliftModel",
            "design_matrix",
            "fit_uplift",
            "score_customers",
        ],
        "livebase.measure.uplift_metrics": [
            "ArmEvaluation",
            "QiniSummary",
            "evaluate_uplift",
            "qini_curve",
            "qini_summary",
            "split_train_test",
            "uplift_by_decile",
        ],
    },
)
