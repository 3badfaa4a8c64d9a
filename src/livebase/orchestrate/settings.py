"""The ``policy:`` section of livebase.yaml: caps, quiet hours, stop rules, global holdout.

What every marketing playbook obeys, whoever plans or sends (the planner decides with it, the
worker re-checks it at send time)::

    policy:
      caps:
        - {channel: email, max: 2, per: 7d}
        - {channel: any, max: 4, per: 7d}
        - {segments: {named: [Hibernating, Lost]}, channel: any, max: 1, per: 14d}
      quiet_hours: {from: "21:00", to: "09:00"}
      stop_rules: ["days_since_last_paid < 3"]
      global_holdout: 0.05
      arbitration_window: 1d      # one marketing playbook per customer per rolling day

>>> p = PolicySettings.model_validate({"caps": [{"channel": "email", "max": 2, "per": "7d"}]})
>>> p.caps[0].window
datetime.timedelta(days=7)
>>> PolicySettings.model_validate({"arbitration_window": "1d"}).arbitration
datetime.timedelta(days=1)
>>> PolicySettings.model_validate({"quiet_hours": {"from": "21:00", "to": "09:00"}}).quiet_hours.start
datetime.time(21, 0)
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CapRule", "OnCapped", "PolicySettings", "QuietHours", "parse_window"]

OnCapped = Literal["skip", "defer", "next_step"]
_WINDOW = re.compile(r"^(\d+)\s*([dhm])$")


def parse_window(text: str) -> timedelta:
    """A rolling window written ``7d``, ``12h`` or ``30m``.

    >>> parse_window("14d")
    datetime.timedelta(days=14)
    """
    match = _WINDOW.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid window '{text}': write a positive number and d, h or m (7d)")
    amount, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=amount), "h": timedelta(hours=amount)}.get(
        unit, timedelta(minutes=amount)
    )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CapRule(_Section):
    """At most ``max`` messages on ``channel`` (or ``any``) per rolling window ``per``."""

    channel: str = "any"
    """A channel name of ``channels:``, or ``any`` for all channels together."""
    max: Annotated[int, Field(ge=0)]
    """Most messages in any window of length ``per`` (rolling: no midnight loophole)."""
    per: str
    """Window length: 7d, 1d, 12h…"""
    segments: dict[str, list[str]] | None = None
    """Only for customers currently in these segments (scheme → segment names)."""

    @field_validator("per")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        parse_window(value)
        return value

    @property
    def window(self) -> timedelta:
        return parse_window(self.per)


class QuietHours(_Section):
    """No message is sent between ``from`` and ``to`` in the customer's time zone."""

    start: time = Field(alias="from")
    end: time = Field(alias="to")


class PolicySettings(_Section):
    """Caps, quiet hours, stop rules and the global holdout (see the module docstring)."""

    caps: list[CapRule] = Field(default_factory=list)
    """Frequency caps per channel or across channels, optionally per segment."""
    quiet_hours: QuietHours | None = None
    """A step due inside them moves to the next allowed minute; never dropped."""
    stop_rules: list[str] = Field(default_factory=list)
    """Rule expressions over features: a customer matching any is not messaged by marketing
    playbooks today (e.g. ``days_since_last_paid < 3``)."""
    global_holdout: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    """Share of all customers never messaged by any marketing playbook (salted hash)."""
    require_consent: bool = True
    """Marketing messages need the customer's granted marketing consent for the channel (Russia's
    advertising law asks the sender to prove prior consent for e-mail and SMS advertising).
    ``false`` only where consent is collected and enforced elsewhere."""
    global_salt: str = "global"
    """Salt of the global holdout's hash: changing it reshuffles who is held out."""
    on_capped: OnCapped = "defer"
    """What happens to a capped step unless its playbook says otherwise."""
    arbitration_window: str | None = None
    """Two marketing playbooks never message one customer within this rolling window (``1d``,
    ``12h``…): when several want the customer, the higher priority wins, then the earlier
    entry; a message planned at an earlier tick keeps its place. None: only caps arbitrate."""
    on_conflict: OnCapped | None = None
    """What happens to the loser of an arbitration unless its playbook says otherwise: skip,
    defer (once, to when the window frees) or next_step; default: the ``on_capped`` rule."""

    @field_validator("arbitration_window")
    @classmethod
    def _valid_arbitration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value)
        return value

    @property
    def arbitration(self) -> timedelta | None:
        """The arbitration window as a duration (None: off)."""
        return None if self.arbitration_window is None else parse_window(self.arbitration_window)
