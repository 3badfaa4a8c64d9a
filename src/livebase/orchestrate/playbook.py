"""The playbook model: one YAML file per playbook in the workspace's ``playbooks/`` folder.

A playbook = trigger + audience + steps + limits + holdout + conversion goal::

    name: winback-60
    title: "Скучаем! Возвращение предоттока"
    trigger: {inactivity_days: 60}
    audience:
      segments: {named: ["At Risk", "Can't Lose", "About to Sleep"]}
      where: "monetary >= 5000 and p_alive > 0.2"
    priority: 80
    holdout: 0.10
    cooldown_days: 90
    exit_when: [purchase]
    conversion: {event: purchase, window_days: 14}
    steps:
      - {id: email, channel: email, template: winback_email, offer: personal_access}
      - {id: push,  after_days: 4, channel: push, template: winback_push,
         only_if: {not_opened: email}}
      - {id: sms,   after_days: 2, channel: sms,  template: winback_sms,
         only_if: {no_reaction: [email, push]}, holdout: 0.20}

Triggers (exactly one): ``inactivity_days`` (the day a customer crosses N days without a paid
order; entry up to ``catch_up_days`` later if a tick was missed), ``segment_entry`` /
``segment_exit`` (``{scheme: [segments]}``, from the SCD2 history, within ``within_days``),
``event`` (a named product event within ``within_hours``; ``purchase`` is a paid order),
``days_before`` (``{attribute: subscription_end, days: 3}`` over a customer attribute), and
``schedule`` (``{at: DATETIME}`` once, or ``{start: DATETIME, every_days: 7}``: a broadcast to
the audience).

>>> p = Playbook.model_validate({"name": "w", "trigger": {"inactivity_days": 60},
...     "steps": [{"id": "email", "channel": "email"}]})
>>> p.trigger.kind, p.steps[0].after_days
('inactivity', 0.0)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livebase.orchestrate.settings import OnCapped

__all__ = [
    "Audience",
    "Condition",
    "Conversion",
    "DaysBefore",
    "Playbook",
    "Schedule",
    "Step",
    "Trigger",
    "TriggerKind",
    "Variants",
]

TriggerKind = Literal["inactivity", "segment_entry", "segment_exit", "event", "date", "schedule"]
SegmentMap = dict[str, list[str]]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaysBefore(_Model):
    """``days`` days before the date held in the customer attribute ``attribute``."""

    attribute: str
    days: Annotated[int, Field(ge=0)] = 0


class Schedule(_Model):
    """A broadcast: once ``at``, or from ``start`` every ``every_days`` days."""

    at: datetime | None = None
    start: datetime | None = None
    every_days: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Schedule:
        if (self.at is None) == (self.start is None):
            raise ValueError("give either at: DATETIME (once) or start: DATETIME with every_days")
        if self.start is not None and self.every_days is None:
            raise ValueError("a recurring schedule needs every_days")
        return self


class Trigger(_Model):
    """When a customer enters (exactly one kind; see the module docstring)."""

    inactivity_days: Annotated[int, Field(ge=1)] | None = None
    catch_up_days: Annotated[int, Field(ge=0)] = 6
    """Inactivity: still enter up to this many days after crossing (missed ticks)."""
    segment_entry: SegmentMap | None = None
    segment_exit: SegmentMap | None = None
    within_days: Annotated[int, Field(ge=1)] = 1
    """Segment entry/exit: a change dated within the last ``within_days`` days counts."""
    event: str | None = None
    within_hours: Annotated[float, Field(gt=0)] = 24.0
    """Event: an event within the last ``within_hours`` hours counts."""
    days_before: DaysBefore | None = None
    schedule: Schedule | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        given = [
            k
            for k in (
                "inactivity_days",
                "segment_entry",
                "segment_exit",
                "event",
                "days_before",
                "schedule",
            )
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one trigger: inactivity_days, segment_entry, segment_exit, event, "
                f"days_before or schedule (got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def kind(self) -> TriggerKind:
        if self.inactivity_days is not None:
            return "inactivity"
        if self.segment_entry is not None:
            return "segment_entry"
        if self.segment_exit is not None:
            return "segment_exit"
        if self.event is not None:
            return "event"
        if self.days_before is not None:
            return "date"
        return "schedule"


class Exclusion(_Model):
    """Customers taken out of the audience."""

    segments: SegmentMap | None = None
    where: str | None = None


class Audience(_Model):
    """Who may enter: segments (scheme → names, any of them), a rule over features, exclusions."""

    segments: SegmentMap | None = None
    where: str | None = None
    """A rule condition over features, signals, CLV and ``<scheme>_segment`` columns."""
    exclude: Exclusion | None = None


class Condition(_Model):
    """A step runs only when every given condition on earlier steps holds."""

    not_opened: list[str] | None = None
    not_clicked: list[str] | None = None
    no_reaction: list[str] | None = None
    """Neither opened nor clicked."""
    no_purchase: bool = False
    """No paid order since the journey began."""
    no_event: str | None = None
    """No event of this name since the journey began."""

    @field_validator("not_opened", "not_clicked", "no_reaction", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def step_refs(self) -> list[str]:
        return [*(self.not_opened or []), *(self.not_clicked or []), *(self.no_reaction or [])]


class Variants(_Model):
    """Template and offer per segment of one scheme (personalised creative by cluster)."""

    scheme: str
    cases: dict[str, dict[str, str]]
    """Segment → {template: …, offer: …}; customers of other segments get the step's own."""

    @field_validator("cases")
    @classmethod
    def _known_keys(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for segment, case in value.items():
            unknown = set(case) - {"template", "offer"}
            if unknown:
                raise ValueError(
                    f"variant '{segment}': unknown key {sorted(unknown)[0]!r} "
                    "(valid here: template, offer)"
                )
        return value


class Step(_Model):
    """One message of the cascade."""

    id: Annotated[str, Field(pattern=_NAME)]
    channel: str
    template: str | None = None
    offer: str | None = None
    after_days: Annotated[float, Field(ge=0)] = 0.0
    """Delay after the previous step (after entry for the first)."""
    only_if: Condition | None = None
    holdout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Share of those who reach this step held out of it (measures the step's own effect)."""
    variants: Variants | None = None


class Conversion(_Model):
    """The goal: ``event`` (``purchase`` = a paid order) within ``window_days`` of entry."""

    event: str = "purchase"
    window_days: Annotated[int, Field(ge=1)] = 14


class Playbook(_Model):
    """One playbook file (see the module docstring)."""

    name: Annotated[str, Field(pattern=_NAME)]
    title: str | None = None
    purpose: Literal["marketing", "transactional"] = "marketing"
    """Transactional playbooks are exempt from caps, consent, quiet hours and holdouts, never
    from suppression."""
    trigger: Trigger
    audience: Audience = Field(default_factory=Audience)
    steps: Annotated[list[Step], Field(min_length=1)]
    priority: Annotated[int, Field(ge=0, le=100)] = 50
    holdout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    salt: str | None = None
    """Holdout salt (default: the playbook name)."""
    cooldown_days: Annotated[int, Field(ge=0)] = 0
    max_entries: Annotated[int, Field(ge=1)] | None = None
    exit_when: list[str] = Field(default_factory=lambda: ["purchase"])
    """Events that end a journey (``purchase`` = a paid order)."""
    stop_rules: list[str] = Field(default_factory=list)
    on_capped: OnCapped | None = None
    """skip, defer (once, then skip) or next_step; default: the policy's."""
    on_conflict: OnCapped | None = None
    """When a playbook of higher priority (or earlier entry) wins the customer within the
    policy's ``arbitration_window``: skip, defer (once) or next_step; default: the policy's
    ``on_conflict``, else the ``on_capped`` rule."""
    conversion: Conversion = Field(default_factory=Conversion)

    @field_validator("steps")
    @classmethod
    def _steps_consistent(cls, steps: list[Step]) -> list[Step]:
        from livebase.errors import did_you_mean

        seen: list[str] = []
        for i, step in enumerate(steps):
            if step.id in seen:
                raise ValueError(f"step {i}: id '{step.id}' is used twice")
            for ref in step.only_if.step_refs() if step.only_if else []:
                if ref not in seen:
                    raise ValueError(
                        f"step {i}: only_if refers to '{ref}', which is not an earlier "
                        f"step{did_you_mean(ref, seen)}"
                    )
            seen.append(step.id)
        return steps

    @property
    def holdout_salt(self) -> str:
        return self.salt or f"playbook:{self.name}"

    def step_index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)
