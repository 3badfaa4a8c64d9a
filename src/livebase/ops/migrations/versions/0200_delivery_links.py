"""Delivery: message tokens and the links recorded at send time (click redirects, open pixel,
one-click unsubscribe).

Revision ID: 0200_delivery_links
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200_delivery_links"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_refs",
        sa.Column(
            "token", sa.String(length=32), nullable=False, comment="opaque token of the outbox key"
        ),
        sa.Column("message_key", sa.String(length=448), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column(
            "address_hash",
            sa.String(length=64),
            nullable=True,
            comment="sha256 of the address sent to",
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_message_refs")),
        comment="Messages whose links, pixel and unsubscribe point at the service: token → message.",
    )
    op.create_index(op.f("ix_message_refs_message_key"), "message_refs", ["message_key"])
    op.create_index(op.f("ix_message_refs_customer_id"), "message_refs", ["customer_id"])
    op.create_table(
        "message_links",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False, comment="1-based position in the message"),
        sa.Column("url", sa.Text(), nullable=False, comment="the target recorded at send time"),
        sa.PrimaryKeyConstraint("token", "idx", name=op.f("pk_message_links")),
        comment="Links of sent messages: a click redirects only to a URL recorded here (no open "
        "redirect).",
    )


def downgrade() -> None:
    op.drop_table("message_links")
    op.drop_index(op.f("ix_message_refs_customer_id"), table_name="message_refs")
    op.drop_index(op.f("ix_message_refs_message_key"), table_name="message_refs")
    op.drop_table("message_refs")
