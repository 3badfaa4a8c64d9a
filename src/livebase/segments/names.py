"""Pure names shared by every segmentation path (DuckDB run, Spark, warehouse SQL): the
features table, the per-scheme state columns, and which columns a scheme's rules may use.

No DuckDB, no pandas: ``livebase.config`` checks the rules with :func:`check_segment_rules`
when it loads livebase.yaml, and ``pipeline`` and ``run`` both build on these names (which
breaks the import cycle they had).

>>> from livebase.features.settings import FeaturesSettings
>>> from livebase.segments.settings import SegmentsSettings
>>> cols = rule_columns(FeaturesSettings(), SegmentsSettings(), "named")
>>> "recency_days" in cols, "rfm_segment" in cols
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping

from livebase.features._sql import feature_columns
from livebase.features.settings import FeaturesSettings
from livebase.segments.rules import CheckedRule, check_rules
from livebase.segments.settings import JobsScheme, RulesScheme, SegmentsSettings

__all__ = ["FEATURES_TABLE", "STATE_SUFFIXES", "check_segment_rules", "rule_columns"]

FEATURES_TABLE = "lb_features"
"""The temporary table of one run's per-customer features."""
STATE_SUFFIXES = ("_segment", "_segment_previous", "_segment_since", "_segment_days")
"""The columns each scheme adds for the schemes after it: ``<scheme><suffix>``."""


def rule_columns(features: FeaturesSettings, segments: SegmentsSettings, scheme: str) -> list[str]:
    """The columns rules of ``scheme`` may use: features, signals, earlier schemes' states."""
    columns = list(feature_columns(features))
    for name in segments.schemes:
        if name == scheme:
            break
        columns += [name + suffix for suffix in STATE_SUFFIXES]
    return columns


def check_segment_rules(
    features: FeaturesSettings,
    segments: SegmentsSettings,
    lines: Mapping[str, int] | None = None,
) -> dict[str, list[CheckedRule]]:
    """Check the rules of every rules and jobs scheme; RuleError names the rule and line.

    ``lines`` is ``yaml_lines(text of livebase.yaml)`` when the config came from a file.
    """
    checked: dict[str, list[CheckedRule]] = {}
    for name, scheme in segments.schemes.items():
        if isinstance(scheme, RulesScheme | JobsScheme):
            columns = rule_columns(features, segments, name)
            checked[name] = check_rules(scheme.rules, columns, scheme=name, lines=lines)
    return checked
