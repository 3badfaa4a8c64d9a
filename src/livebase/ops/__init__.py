"""The operational store: consents, suppressions, journeys, outbox, send ledger, live status.

SQLAlchemy Core over SQLite (WAL, in the workspace) or PostgreSQL (``ops.url``); Alembic
migrations in ``ops/migrations``; bridges to and from the DuckDB analytics store in
:mod:`livebase.ops.bridges`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livebase._lazy import lazy_exports

if TYPE_CHECKING:
    from livebase.ops.settings import OpsSettings
    from livebase.ops.store import OPS_FILE, OpsStore, ops_url, sqlite_url
    from livebase.ops.tables import (
        API_KEYS,
        ASSIGNMENTS,
        CONSENTS,
        CUSTOMER_STATUS,
        ERASURES,
        INBOX,
        JOURNEYS,
        METADATA,
        OUTBOX,
        PLAYBOOK_CONTROLS,
        SEGMENT_CHANGES,
        SEND_LEDGER,
        STATUS_THRESHOLDS,
        SUPPRESSIONS,
        USERS,
        WATERMARKS,
        outbox_key,
    )

__all__ = [
    "API_KEYS",
    "ASSIGNMENTS",
    "CONSENTS",
    "CUSTOMER_STATUS",
    "ERASURES",
    "INBOX",
    "JOURNEYS",
    "METADATA",
    "OPS_FILE",
    "OUTBOX",
    "PLAYBOOK_CONTROLS",
    "SEGMENT_CHANGES",
    "SEND_LEDGER",
    "STATUS_THRESHOLDS",
    "SUPPRESSIONS",
    "USERS",
    "WATERMARKS",
    "OpsSettings",
    "OpsStore",
    "ops_url",
    "outbox_key",
    "sqlite_url",
]

# imported on first use: livebase.config imports livebase.ops.settings, which must not load
# SQLAlchemy (livebase._lazy)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "livebase.ops.settings": ["OpsSettings"],
        "livebase.ops.store": ["OPS_FILE", "OpsStore", "ops_url", "sqlite_url"],
        "livebase.ops.tables": [
            "API_KEYS",
            "ASSIGNMENTS",
            "CONSENTS",
            "CUSTOMER_STATUS",
            "ERASURES",
            "INBOX",
            "JOURNEYS",
            "METADATA",
            "OUTBOX",
            "PLAYBOOK_CONTROLS",
            "SEGMENT_CHANGES",
            "SEND_LEDGER",
            "STATUS_THRESHOLDS",
            "SUPPRESSIONS",
            "USERS",
            "WATERMARKS",
            "outbox_key",
        ],
    },
)
