"""Alembic environment of the operational store: runs on the connection livebase passes in."""

from __future__ import annotations

from alembic import context

from livebase.ops.tables import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
