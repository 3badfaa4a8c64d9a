"""The ``learn:`` section of livebase.yaml: what a playbook readout needs to decide.

>>> s = LearnSettings()
>>> s.margin, s.min_entrants, s.break_even_share
(0.5, 30, 1.0)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LearnSettings"]


class LearnSettings(BaseModel):
    """Readouts of playbooks and the escalation of paid cascade steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    margin: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Share of incremental revenue that is profit: a paid step is worth keeping when
    ``margin × incremental revenue`` covers what the step cost."""
    min_entrants: Annotated[int, Field(ge=2)] = 30
    """Fewer customers than this in an arm (with a finished conversion window): the readout
    says "too_few_entrants" instead of a number."""
    break_even_share: Annotated[float, Field(gt=0)] = 1.0
    """A step pays when its margin covers ``break_even_share`` × its cost (1.0: break even)."""
    segment_scheme: str | None = None
    """Scheme whose segment at entry splits the readout per segment (default: the named map,
    else the first scheme with history)."""
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    """Two-sided level of every interval shown (0.05: 95 %)."""
