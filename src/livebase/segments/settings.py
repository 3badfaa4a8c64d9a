"""The ``features:`` and ``segments:`` sections of livebase.yaml (pydantic v2, frozen, strict keys).

Schemes are a mapping name → scheme; ``kind`` picks one of five:

- ``quantile``: R, F, M scores 1..bins from ranks; code "545";
- ``abc``: R, F, M each A/B/C (27 cells "AAC") or their strategic group;
- ``named``: the 11-segment map (Champions … Lost) over the R and F scores of a quantile scheme;
- ``rules``: ordered first-match SQL conditions over features and signals;
- ``jobs``: job-to-be-done tags by first-match rules over signals, crossed with another scheme.

>>> s = SegmentsSettings()
>>> sorted(s.schemes)
['abc', 'named', 'rfm']
>>> s.schemes["named"].based_on
'rfm'
"""

from __future__ import annotations

import io
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livebase.features.settings import (
    FeaturesSettings,
    SignalMeasure,
    SignalSettings,
    SignalSource,
)

__all__ = [
    "DEFAULT_NAMED_MAP",
    "NAMED_ORDER",
    "AbcScheme",
    "AlertSettings",
    "FeaturesSettings",
    "JobsScheme",
    "NamedScheme",
    "QuantileScheme",
    "RuleSpec",
    "RulesScheme",
    "Scheme",
    "SchemeKind",
    "SegmentsSettings",
    "SignalMeasure",
    "SignalSettings",
    "SignalSource",
    "expand_named_map",
    "yaml_lines",
]

SchemeKind = Literal["quantile", "abc", "named", "rules", "jobs"]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

NAMED_ORDER: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential Loyalists",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose",
    "Hibernating",
    "Lost",
)
"""The named segments from best to worst (the order of tables and of 'better' in alerts)."""

DEFAULT_NAMED_MAP: dict[str, tuple[str, ...]] = {
    "Champions": ("5[45]",),
    "Loyal": ("[34][45]",),
    "Potential Loyalists": ("[45][23]",),
    "New": ("51",),
    "Promising": ("41",),
    "Need Attention": ("33",),
    "About to Sleep": ("3[12]",),
    "At Risk": ("[12][34]",),
    "Can't Lose": ("[12]5",),
    "Hibernating": ("1[2]", "2[12]"),
    "Lost": ("11",),
}
"""The named map over the two-digit code R score, F score (5 bins each); every one of the 25
cells belongs to exactly one segment. The classic R×F grid (Champions 5-4/5, Loyal 3-4 × 4-5,
Potential Loyalists 4-5 × 2-3, New 5-1, Promising 4-1, Need Attention 3-3, About to Sleep
3-1/2, At Risk 1-2 × 3-4, Can't Lose 1-2 × 5) with its bottom-left split: Lost is 1-1, the rest of
1-2 × 1-2 is Hibernating."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuantileScheme(_Frozen):
    """R, F, M scores 1..bins from ranks (see ``livebase.segments.schemes``)."""

    kind: Literal["quantile"] = "quantile"
    bins: int = Field(5, ge=2, le=9)
    """Number of scores per dimension: 5 gives codes 111..555."""
    no_purchase: str = "Prospects"
    """Segment of customers with no counted order yet (they get no scores)."""


class AbcScheme(_Frozen):
    """R, F, M each A (best), B or C; the 27 cells and their strategic groups."""

    kind: Literal["abc"] = "abc"
    recency_days: tuple[int, int] = (90, 365)
    """R is A up to the first number of days since the last purchase, B up to the second,
    C beyond."""
    frequency: tuple[int, int] = (3, 2)
    """F is A from the first number of orders, B from the second, C below (default 3+, 2, 1)."""
    monetary_shares: tuple[float, float] = (0.80, 0.95)
    """M by Pareto: A are the top spenders who make the first 80 % of the window's revenue,
    B the next 15 %, C the last 5 % (customers with equal spend always share a class)."""
    output: Literal["cell", "group"] = "cell"
    """Segment = the cell ("AAC"), or its strategic group: core (VIP and loyal core: R=A and
    F or M = A), growing (growing and new: other R=A), pre_churn (R=B), churn (R=C)."""
    no_purchase: str = "Prospects"
    """Segment of customers with no counted order yet."""

    @model_validator(mode="after")
    def _ordered(self) -> AbcScheme:
        if not self.recency_days[0] < self.recency_days[1]:
            raise ValueError("recency_days: the A limit must be below the B limit, e.g. [90, 365]")
        if not self.frequency[0] > self.frequency[1] >= 1:
            raise ValueError("frequency: A needs more orders than B, e.g. [3, 2]")
        if not 0 < self.monetary_shares[0] < self.monetary_shares[1] <= 1:
            raise ValueError("monetary_shares: 0 < A share < B share <= 1, e.g. [0.8, 0.95]")
        return self


class NamedScheme(_Frozen):
    """The named map over the R and F scores of a quantile scheme."""

    kind: Literal["named"] = "named"
    based_on: str = "rfm"
    """The quantile scheme whose R and F scores the map reads (it needs 5 bins)."""
    cells: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_NAMED_MAP))
    """Segment → patterns over the two-digit "RF" code ("5[45]" = R 5, F 4 or 5), in order
    from best to worst; together they must cover the 25 cells exactly once."""
    no_purchase: str = "Prospects"
    """Segment of customers with no counted order yet."""

    @field_validator("cells")
    @classmethod
    def _covers(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        expand_named_map(value, 5)
        return value


class RuleSpec(_Frozen):
    """One rule: a segment name and the SQL condition that puts a customer in it."""

    name: str = Field(min_length=1)
    """The segment (or job) name."""
    when: str = Field(min_length=1)
    """A SQL condition over features and signals: ``paid_modules_90d >= 2 and
    days_since_login < 7``."""


class RulesScheme(_Frozen):
    """Ordered first-match rules: a customer is in the first segment whose condition holds."""

    kind: Literal["rules"] = "rules"
    rules: tuple[RuleSpec, ...] = Field(min_length=1)
    """The rules, first match wins."""
    otherwise: str = "Other"
    """Segment of customers no rule matches."""


class JobsScheme(_Frozen):
    """Job-to-be-done tags (first match wins: the customer's primary job) and their matrix."""

    kind: Literal["jobs"] = "jobs"
    rules: tuple[RuleSpec, ...] = Field(min_length=1)
    """Job rules, first match wins (``learn_new``, ``reduce_risk``, ``save_time`` …)."""
    otherwise: str = "none"
    """Job of customers no rule matches."""
    matrix_with: str = "named"
    """The scheme crossed with the jobs into micro-segments (customers, revenue per cell)."""


Scheme = Annotated[
    QuantileScheme | AbcScheme | NamedScheme | RulesScheme | JobsScheme,
    Field(discriminator="kind"),
]


class AlertSettings(_Frozen):
    """An alert: a segment's number moved past a threshold between two runs."""

    name: str = Field(min_length=1)
    """What the alert is called in the output."""
    scheme: str = "named"
    """The scheme of the segment."""
    segment: str
    """The segment watched."""
    metric: Literal["customers", "share", "revenue", "inflow_from_better"] = "customers"
    """customers, share (of the base), revenue (of the window) of the segment, or the share of
    its customers at the later run who were in a better segment at the earlier run."""
    change: Literal["relative", "absolute"] = "relative"
    """Compare the relative change (0.1 = 10 %) or the absolute change; ``inflow_from_better``
    compares its value at the later run with the threshold."""
    direction: Literal["up", "down", "any"] = "down"
    """Fire on a rise, a fall, or either."""
    threshold: float = Field(gt=0)
    """How far the metric must move (or, for inflow, how high it must be) to fire."""


_DEFAULT_SCHEMES: dict[str, Scheme] = {
    "rfm": QuantileScheme.model_validate({}),
    "abc": AbcScheme.model_validate({}),
    "named": NamedScheme.model_validate({}),
}


class SegmentsSettings(_Frozen):
    """Schemes computed on every run, and the alerts checked between runs."""

    language: Literal["en", "ru"] | None = None
    """Language of segment names in tables and exports (default: the workspace language)."""
    schemes: dict[str, Scheme] = Field(default_factory=lambda: dict(_DEFAULT_SCHEMES))
    """Scheme name → scheme. Rule schemes may use the segments of schemes listed before them
    (``named_segment``, ``named_segment_previous``, ``named_segment_since``,
    ``named_segment_days``)."""
    alerts: tuple[AlertSettings, ...] = ()
    """Alerts checked by ``livebase alerts``."""

    @field_validator("schemes")
    @classmethod
    def _references(cls, value: dict[str, Any]) -> dict[str, Any]:
        names = list(value)
        for name in names:
            if not _NAME.match(name):
                raise ValueError(
                    f"scheme name '{name}': use lower-case letters, digits and '_', "
                    "starting with a letter"
                )
        for position, (name, scheme) in enumerate(value.items()):
            earlier = names[:position]
            if isinstance(scheme, NamedScheme):
                base = value.get(scheme.based_on)
                if scheme.based_on not in earlier or not isinstance(base, QuantileScheme):
                    raise ValueError(
                        f"scheme '{name}': based_on '{scheme.based_on}' must be a quantile "
                        "scheme listed before it"
                    )
                if base.bins != 5:
                    raise ValueError(
                        f"scheme '{name}': the named map reads 5 scores, but "
                        f"'{scheme.based_on}' has bins: {base.bins}"
                    )
            if isinstance(scheme, JobsScheme) and scheme.matrix_with not in value:
                raise ValueError(
                    f"scheme '{name}': matrix_with '{scheme.matrix_with}' is not a scheme "
                    f"(schemes: {', '.join(names)})"
                )
        return value

    @model_validator(mode="after")
    def _alerts_known(self) -> SegmentsSettings:
        for alert in self.alerts:
            if alert.scheme not in self.schemes:
                raise ValueError(
                    f"alert '{alert.name}': unknown scheme '{alert.scheme}' "
                    f"(schemes: {', '.join(self.schemes)})"
                )
        return self


def expand_named_map(cells: dict[str, tuple[str, ...]], bins: int) -> dict[str, str]:
    """The "RF" code of every cell → its segment; each cell must match exactly one segment.

    >>> expand_named_map(DEFAULT_NAMED_MAP, 5)["54"]
    'Champions'
    >>> len(expand_named_map(DEFAULT_NAMED_MAP, 5))
    25
    """
    codes = [f"{r}{f}" for r in range(1, bins + 1) for f in range(1, bins + 1)]
    owner: dict[str, str] = {}
    for segment, patterns in cells.items():
        for pattern in patterns:
            try:
                rx = re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"cells.{segment}: pattern '{pattern}' is invalid: {exc}"
                ) from None
            for code in codes:
                if rx.fullmatch(code):
                    if code in owner and owner[code] != segment:
                        raise ValueError(
                            f"cells: cell {code} (R {code[0]}, F {code[1]}) is in both "
                            f"'{owner[code]}' and '{segment}'"
                        )
                    owner[code] = segment
    missing = [c for c in codes if c not in owner]
    if missing:
        raise ValueError(f"cells: the RF cells {', '.join(missing)} belong to no segment")
    return owner


def yaml_lines(text: str) -> dict[str, int]:
    """Dotted key path → 1-based line of every key and list item of a YAML document.

    The CLI passes these to the rule checker, so that a rule error names its line:
    the rule ``i`` of scheme ``s`` is ``segments.schemes.s.rules.i``.

    >>> yaml_lines("segments:\\n  schemes:\\n    x:\\n      rules:\\n        - name: a\\n")[
    ...     "segments.schemes.x.rules.0"]
    5
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    tree = YAML(typ="rt").load(io.StringIO(text))
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, CommentedMap):
            for key in node:
                path = f"{prefix}.{key}" if prefix else str(key)
                lines[path] = int(node.lc.key(key)[0]) + 1
                walk(node[key], path)
        elif isinstance(node, CommentedSeq):
            for index in range(len(node)):
                path = f"{prefix}.{index}"
                lines[path] = int(node.lc.item(index)[0]) + 1
                walk(node[index], path)

    walk(tree, "")
    return lines
