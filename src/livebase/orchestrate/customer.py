"""One customer's live status, as ``GET /v1/customers/{id}`` and ``livebase customer ID`` show it.

>>> import tempfile, pathlib
>>> from livebase.ops.store import OpsStore, sqlite_url
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> customer_view(ops, "nobody") is None
True
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from livebase.ops.store import OpsStore
from livebase.ops.tables import CUSTOMER_STATUS, JOURNEYS

__all__ = ["customer_view"]


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def customer_view(ops: OpsStore, customer_id: str) -> dict[str, Any] | None:
    """The live status of ``customer_id`` (None when the store has never seen the customer):
    segments per scheme with ``since``, the features they come from, the thresholds version,
    where the status came from (``batch`` run or ``live`` update) and the running journeys.
    No contacts: a CRM reading this to personalise needs none."""
    with ops.read() as con:
        row = (
            con.execute(
                sa.select(CUSTOMER_STATUS).where(CUSTOMER_STATUS.c.customer_id == customer_id)
            )
            .mappings()
            .first()
        )
        journeys = (
            con.execute(
                sa.select(
                    JOURNEYS.c.playbook,
                    JOURNEYS.c.occurrence,
                    JOURNEYS.c.arm,
                    JOURNEYS.c.entered_at,
                    JOURNEYS.c.current_step,
                    JOURNEYS.c.next_step,
                    JOURNEYS.c.next_due_at,
                )
                .where(JOURNEYS.c.customer_id == customer_id, JOURNEYS.c.state == "active")
                .order_by(JOURNEYS.c.entered_at, JOURNEYS.c.playbook)
            )
            .mappings()
            .all()
        )
    if row is None and not journeys:
        return None
    status: dict[str, Any] = {"customer_id": customer_id}
    if row is not None:
        segments = dict(row["segments"] or {})
        since = dict(row["since"] or {})
        status.update(
            segments={s: {"segment": seg, "since": since.get(s)} for s, seg in segments.items()},
            features=dict(row["features"] or {}),
            thresholds_version=row["thresholds_version"],
            as_of=_iso(row["as_of"]),
            last_paid_at=_iso(row["last_paid_at"]),
            updated_at=_iso(row["updated_at"]),
            source=row["source"],
        )
    status["journeys"] = [{k: _iso(v) for k, v in j.items()} for j in journeys]
    return status
