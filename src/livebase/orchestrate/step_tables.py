"""The static tables of a tick: every step of the playbooks and its conditions.

``lb_pb_steps`` holds one row per (playbook, step index) with channel, template, offer, delay,
holdout, priority, ``on_capped``, ``on_conflict``, cost and the delay of the next step; ``lb_pb_conds`` one row
per condition on earlier steps (``not_opened``, ``not_clicked``, ``no_reaction``,
``no_purchase``, ``no_event``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from livebase.config import LivebaseConfig
from livebase.orchestrate.playbook import Playbook
from livebase.orchestrate.tick_sql import table_from_arrow

__all__ = ["load_step_tables"]


def load_step_tables(con: Any, playbooks: Sequence[Playbook], config: LivebaseConfig) -> None:
    """Static tables: steps and conditions of the playbooks."""
    policy_on_capped = config.policy.on_capped
    rows = []
    conds = []
    for pb in playbooks:
        for idx, step in enumerate(pb.steps):
            nxt = pb.steps[idx + 1].after_days if idx + 1 < len(pb.steps) else None
            cost = config.channels[step.channel].cost if step.channel in config.channels else 0.0
            rows.append(
                {
                    "playbook": pb.name,
                    "idx": idx,
                    "step": step.id,
                    "channel": step.channel,
                    "template": step.template,
                    "offer": step.offer,
                    "after_days": step.after_days,
                    "holdout": step.holdout,
                    "purpose": pb.purpose,
                    "priority": pb.priority,
                    "on_capped": pb.on_capped or policy_on_capped,
                    "on_conflict": pb.on_conflict
                    or config.policy.on_conflict
                    or pb.on_capped
                    or policy_on_capped,
                    "n_steps": len(pb.steps),
                    "cost": float(cost),
                    "next_after": nxt,
                    "salt": f"{pb.holdout_salt}:step:{step.id}",
                }
            )
            cond = step.only_if
            if cond is None:
                continue
            for kind in ("not_opened", "not_clicked", "no_reaction"):
                for ref in getattr(cond, kind) or []:
                    conds.append({"playbook": pb.name, "idx": idx, "kind": kind, "ref": ref})
            if cond.no_purchase:
                conds.append({"playbook": pb.name, "idx": idx, "kind": "no_purchase", "ref": ""})
            if cond.no_event:
                conds.append(
                    {"playbook": pb.name, "idx": idx, "kind": "no_event", "ref": cond.no_event}
                )
    steps = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("playbook", pa.string()),
                ("idx", pa.int32()),
                ("step", pa.string()),
                ("channel", pa.string()),
                ("template", pa.string()),
                ("offer", pa.string()),
                ("after_days", pa.float64()),
                ("holdout", pa.float64()),
                ("purpose", pa.string()),
                ("priority", pa.int32()),
                ("on_capped", pa.string()),
                ("on_conflict", pa.string()),
                ("n_steps", pa.int32()),
                ("cost", pa.float64()),
                ("next_after", pa.float64()),
                ("salt", pa.string()),
            ]
        ),
    )
    conditions = pa.Table.from_pylist(
        conds,
        schema=pa.schema(
            [("playbook", pa.string()), ("idx", pa.int32()), ("kind", pa.string()),
             ("ref", pa.string())]
        ),
    )  # fmt: skip
    table_from_arrow(con, "lb_pb_steps", steps)
    table_from_arrow(con, "lb_pb_conds", conditions)
