"""The ``scenarios:`` section of livebase.yaml (pydantic only: ``livebase.config`` imports it).

>>> s = ScenarioSettings.model_validate({"name": "Win back", "target": {"segment": "At Risk"},
...     "expected_uplift": 0.05, "trigger_strength": 4, "effort": 2})
>>> s.target.kind, s.target_label("named")
('segment', 'named:At Risk')
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ScenarioList",
    "ScenarioSettings",
    "ScenarioTarget",
    "TargetKind",
    "split_segment_target",
    "unique_scenario_names",
]

TargetKind = Literal["segment", "rule"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioTarget(_Frozen):
    """Whom a scenario is for: one segment, or a rule over the features (exactly one)."""

    segment: str | None = Field(None, min_length=1)
    """``"<scheme>:<segment name>"``, e.g. ``"named:At Risk"`` or ``"school:Лояльные"`` (the
    stored name or its label); without ``scheme:`` the scheme of ``livebase priorities
    --scheme`` (default ``named``). Members are those of the scheme's latest run on or before
    the date of the ranking."""
    rule: str | None = Field(None, min_length=1)
    """A SQL condition over the customer features as of the ranking date, the CLV predictions
    (``p_alive``, ``expected_aov``, ``expected_purchases_<h>d``, ``clv_<h>d``) and the segment
    of each scheme (``named_segment``), e.g. ``"p_alive < 0.3 and monetary > 500"``; the same
    language as segment rules."""

    @model_validator(mode="after")
    def _exactly_one(self) -> ScenarioTarget:
        if (self.segment is None) == (self.rule is None):
            raise ValueError(
                "give exactly one of 'segment' (e.g. segment: \"named:At Risk\") or 'rule' "
                '(e.g. rule: "p_alive < 0.3 and monetary > 500")'
            )
        if self.segment is not None:
            scheme, _, name = self.segment.partition(":")
            if ":" in self.segment and (not scheme.strip() or not name.strip()):
                raise ValueError(
                    f"segment '{self.segment}': write '<scheme>:<segment name>', e.g. "
                    "'named:At Risk', or the segment name alone"
                )
        return self

    @property
    def kind(self) -> TargetKind:
        return "segment" if self.segment is not None else "rule"


class ScenarioSettings(_Frozen):
    """One scenario of the backlog: an audience, a guessed uplift, its trigger and effort."""

    name: str = Field(min_length=1, max_length=120)
    """What the team would build, e.g. ``Win back At Risk``; unique among the scenarios."""
    target: ScenarioTarget
    """The audience: ``{segment: "named:At Risk"}`` or ``{rule: "p_alive < 0.3"}``."""
    expected_uplift: float = Field(ge=0.0, le=1.0)
    """The guessed relative lift of the audience's value from the scenario: 0.05 = +5 %."""
    trigger_strength: int = Field(ge=1, le=5)
    """1-5: how surely the trigger signals the need (5 = an explicit signal such as an
    abandoned cart; 1 = a calendar date). Weighs the value by ``trigger_strength / 5``."""
    effort: int = Field(ge=1, le=5)
    """1-5: the cost to build and run (1 = one email; 5 = a multi-channel cascade with
    offers). Divides the value."""
    experiment: str | None = Field(None, min_length=1)
    """An experiment in the store (``livebase experiment import``) that tested this
    scenario: once it has a readout, its measured relative lift of the main outcome (revenue
    when measured, otherwise conversion) replaces ``expected_uplift``."""

    def target_label(self, default_scheme: str) -> str:
        """How the ranking names the audience: ``scheme:segment``, or ``rule: condition``.

        >>> t = ScenarioTarget(rule="p_alive < 0.3")
        >>> ScenarioSettings(name="x", target=t, expected_uplift=0.1, trigger_strength=3,
        ...                  effort=1).target_label("named")
        'rule: p_alive < 0.3'
        """
        if self.target.segment is not None:
            scheme, segment = split_segment_target(self.target.segment, default_scheme)
            return f"{scheme}:{segment}"
        return f"rule: {' '.join(str(self.target.rule).split())}"


def unique_scenario_names(scenarios: list[ScenarioSettings]) -> list[ScenarioSettings]:
    seen: dict[str, int] = {}
    for i, s in enumerate(scenarios):
        key = s.name.strip().casefold()
        if key in seen:
            raise ValueError(
                f"scenario name '{s.name}' is used twice (items {seen[key] + 1} and {i + 1}): "
                "each scenario needs its own name"
            )
        seen[key] = i
    return scenarios


ScenarioList = Annotated[list[ScenarioSettings], AfterValidator(unique_scenario_names)]
"""The ``scenarios:`` list: names unique (ignoring letter case)."""


def split_segment_target(text: str, default_scheme: str) -> tuple[str, str]:
    """``"named:At Risk"`` → ``("named", "At Risk")``; a name alone takes ``default_scheme``.

    Only the first ``:`` separates: ``"rules:VIP: 2024"`` is segment ``VIP: 2024`` of
    ``rules`` (a segment name with a colon needs its scheme written).

    >>> split_segment_target("named:At Risk", "rfm")
    ('named', 'At Risk')
    >>> split_segment_target("Champions", "named")
    ('named', 'Champions')
    """
    scheme, colon, segment = text.partition(":")
    if not colon:
        return default_scheme, text.strip()
    return scheme.strip(), segment.strip()
