"""The planner's data: where it reads the operational state, what a tick decides and counts.

>>> StateTables().journeys
'ops_journeys'
>>> PlaybookCounts().planned
{}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

__all__ = ["STATE_DDL", "PlaybookCounts", "StateTables", "TickPlan"]


@dataclass(frozen=True)
class StateTables:
    """DuckDB tables holding the operational state the planner reads (local time)."""

    journeys: str = "ops_journeys"
    ledger: str = "ops_send_ledger"
    assignments: str = "ops_assignments"
    consents: str = "ops_consents"
    suppressions: str = "lb_pb_suppressions"


STATE_DDL: dict[str, str] = {
    "journeys": """(customer_id VARCHAR, playbook VARCHAR, occurrence INTEGER,
        entered_at TIMESTAMP, arm VARCHAR, state VARCHAR, current_step VARCHAR,
        next_step VARCHAR, next_due_at TIMESTAMP, exit_reason VARCHAR, exited_at TIMESTAMP)""",
    "ledger": """(event_id VARCHAR, message_key VARCHAR, customer_id VARCHAR,
        playbook VARCHAR, occurrence INTEGER, step VARCHAR, channel VARCHAR, type VARCHAR,
        reason VARCHAR, cost DOUBLE, ts TIMESTAMP)""",
    "assignments": """(unit VARCHAR, customer_id VARCHAR, occurrence INTEGER, arm VARCHAR,
        holdout_share DOUBLE, salt VARCHAR, ts TIMESTAMP)""",
    "consents": """(id BIGINT, customer_id VARCHAR, channel VARCHAR, purpose VARCHAR,
        status VARCHAR, ts TIMESTAMP)""",
    "suppressions": """(address_hash VARCHAR, channel VARCHAR, customer_id VARCHAR,
        reason VARCHAR, expires_at TIMESTAMP)""",
    "outbox": """(key VARCHAR, customer_id VARCHAR, playbook VARCHAR, occurrence INTEGER,
        step VARCHAR, channel VARCHAR, purpose VARCHAR, template VARCHAR, offer VARCHAR,
        variant VARCHAR, priority INTEGER, due_at TIMESTAMP)""",
}
"""Column lists of the state tables and of the plan's outputs."""


@dataclass
class PlaybookCounts:
    """What a tick did for one playbook (the ``livebase run`` table)."""

    entered: int = 0
    held_out: int = 0
    planned: dict[str, int] = field(default_factory=dict)
    capped: int = 0
    """Steps refused by a cap or an arbitration (deferred, skipped or passed on)."""
    arbitrated: int = 0
    """Of ``capped``: steps that lost an arbitration to another playbook."""
    deferred: int = 0
    suppressed: int = 0
    no_consent: int = 0
    no_contact: int = 0
    skipped: int = 0
    exited: int = 0
    cost: float = 0.0


@dataclass(frozen=True)
class TickPlan:
    """A tick's decisions as Arrow tables (local times, rows in no particular order) and the
    counts per playbook."""

    as_of: datetime
    journeys: pa.Table
    assignments: pa.Table
    outbox: pa.Table
    ledger: pa.Table
    counts: dict[str, PlaybookCounts]
