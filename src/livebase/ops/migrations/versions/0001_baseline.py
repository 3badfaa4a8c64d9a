"""Baseline of the operational store: consents, suppressions, journeys, assignments, outbox,
send ledger, live customer status, inbox, API keys, users, watermarks, playbook controls,
erasures.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False, comment="public prefix of the key"),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("secret_hash", sa.String(length=256), nullable=False),
        sa.Column("scopes", sa.String(length=512), nullable=False, comment="space-separated"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        comment="API keys, stored hashed.",
    )
    op.create_table(
        "assignments",
        sa.Column(
            "unit",
            sa.String(length=192),
            nullable=False,
            comment="playbook:NAME, playbook:NAME:step:ID, global, or experiment:NAME",
        ),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False, comment="0 when not per entry"),
        sa.Column("arm", sa.String(length=32), nullable=False),
        sa.Column(
            "holdout_share", sa.Float(), nullable=False, comment="the planned share held out"
        ),
        sa.Column("salt", sa.String(length=128), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False, comment="the planner's as_of at entry"),
        sa.Column(
            "recorded_at",
            sa.DateTime(),
            nullable=False,
            comment="written here at (UTC); bridges copy by it",
        ),
        sa.PrimaryKeyConstraint("unit", "customer_id", "occurrence", name=op.f("pk_assignments")),
        comment="Who was held out of what, decided at entry (salted hash), with the planned share.",
    )
    op.create_index(
        op.f("ix_assignments_recorded_at"), "assignments", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_assignments_unit_ts"), "assignments", ["unit", "ts"], unique=False)
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column(
            "channel",
            sa.String(length=32),
            nullable=False,
            comment="email, sms, push, telegram, any",
        ),
        sa.Column("purpose", sa.String(length=16), nullable=False, comment="marketing or service"),
        sa.Column("status", sa.String(length=16), nullable=False, comment="granted or withdrawn"),
        sa.Column(
            "source", sa.String(length=256), nullable=False, comment="file, api, form, unsubscribe…"
        ),
        sa.Column(
            "text_version",
            sa.String(length=128),
            nullable=True,
            comment="version of the consent text shown",
        ),
        sa.Column("evidence", sa.JSON(), nullable=True, comment="IP, form id, document reference"),
        sa.Column(
            "ts", sa.DateTime(), nullable=False, comment="when the customer gave or withdrew it"
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(),
            nullable=False,
            comment="written here at (UTC); bridges copy by it",
        ),
        sa.CheckConstraint("purpose IN ('marketing', 'service')", name=op.f("ck_consents_purpose")),
        sa.CheckConstraint("status IN ('granted', 'withdrawn')", name=op.f("ck_consents_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        comment="Consent ledger with evidence; the latest row per customer, channel, purpose holds.",
    )
    op.create_index(
        op.f("ix_consents_customer_id_channel_purpose_ts"),
        "consents",
        ["customer_id", "channel", "purpose", "ts"],
        unique=False,
    )
    op.create_table(
        "customer_status",
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column(
            "timezone",
            sa.String(length=64),
            nullable=True,
            comment="IANA zone; NULL: the workspace's",
        ),
        sa.Column(
            "attributes",
            sa.JSON(),
            nullable=True,
            comment="contact extras: telegram_chat_id, language…",
        ),
        sa.Column("features", sa.JSON(), nullable=False, comment="recency, frequency, monetary…"),
        sa.Column("segments", sa.JSON(), nullable=False, comment="scheme → segment"),
        sa.Column(
            "since", sa.JSON(), nullable=False, comment="scheme → ISO date the segment began"
        ),
        sa.Column("thresholds_version", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False, comment="date of the features"),
        sa.Column("last_paid_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False, comment="batch or live"),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_status")),
        comment="Each customer's live segments and the features they come from.",
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "subject_hash",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of the customer id",
        ),
        sa.Column(
            "what", sa.JSON(), nullable=False, comment="tables and files touched, row counts"
        ),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        comment="The record of each erasure (152-FZ / GDPR): what, when, by whom — no personal data.",
    )
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="event or order"),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column(
            "payload", sa.JSON(), nullable=False, comment="properties, or the order's fields"
        ),
        sa.Column("source", sa.String(length=64), nullable=False, comment="api, getcourse_hook…"),
        sa.Column(
            "received_at",
            sa.DateTime(),
            nullable=False,
            comment="written here at (UTC); bridges copy by it",
        ),
        sa.CheckConstraint("kind IN ('event', 'order')", name=op.f("ck_inbox_kind")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_inbox")),
        comment="Events and orders received by the service, copied to the analytics store by the next batch job.",
    )
    op.create_index(op.f("ix_inbox_customer_id_ts"), "inbox", ["customer_id", "ts"], unique=False)
    op.create_index(op.f("ix_inbox_received_at"), "inbox", ["received_at"], unique=False)
    op.create_table(
        "journeys",
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("playbook", sa.String(length=128), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False, comment="1 for the first entry"),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column(
            "arm",
            sa.String(length=16),
            nullable=False,
            comment="treatment, holdout, global_holdout",
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("current_step", sa.String(length=64), nullable=True, comment="last step planned"),
        sa.Column("next_step", sa.String(length=64), nullable=True),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("exit_reason", sa.String(length=64), nullable=True),
        sa.Column("exited_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(),
            nullable=False,
            comment="written here at (UTC); bridges copy by it",
        ),
        sa.CheckConstraint(
            "arm IN ('treatment', 'holdout', 'global_holdout')", name=op.f("ck_journeys_arm")
        ),
        sa.CheckConstraint(
            "state IN ('active', 'completed', 'exited', 'held_out')", name=op.f("ck_journeys_state")
        ),
        sa.PrimaryKeyConstraint("customer_id", "playbook", "occurrence", name=op.f("pk_journeys")),
        comment="One row per customer, playbook and entry: journey state is rows, not processes.",
    )
    op.create_index(
        op.f("ix_journeys_playbook_entered_at"),
        "journeys",
        ["playbook", "entered_at"],
        unique=False,
    )
    op.create_index(op.f("ix_journeys_recorded_at"), "journeys", ["recorded_at"], unique=False)
    op.create_index(
        op.f("ix_journeys_state_next_due_at"), "journeys", ["state", "next_due_at"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column(
            "key",
            sa.String(length=448),
            nullable=False,
            comment="customer|playbook|occurrence|step",
        ),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("playbook", sa.String(length=128), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), server_default="marketing", nullable=False),
        sa.Column("template", sa.String(length=128), nullable=True),
        sa.Column("offer", sa.String(length=128), nullable=True),
        sa.Column("variant", sa.String(length=128), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "payload",
            sa.JSON(),
            nullable=True,
            comment="what the template needs beyond the customer",
        ),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "message_id", sa.String(length=256), nullable=True, comment="Message-ID / provider id"
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('marketing', 'transactional')", name=op.f("ck_outbox_purpose")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'retry', 'uncertain', 'cancelled')",
            name=op.f("ck_outbox_status"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_outbox")),
        comment="Messages to send, exactly once: claimed with a lease, then recorded in the ledger.",
    )
    op.create_index(
        op.f("ix_outbox_customer_id_channel"), "outbox", ["customer_id", "channel"], unique=False
    )
    op.create_index(op.f("ix_outbox_status_due_at"), "outbox", ["status", "due_at"], unique=False)
    op.create_table(
        "playbook_controls",
        sa.Column("playbook", sa.String(length=128), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("playbook", name=op.f("pk_playbook_controls")),
        comment="Pause and resume of playbooks from the dashboard or the CLI.",
    )
    op.create_table(
        "segment_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("from_segment", sa.String(length=128), nullable=True),
        sa.Column("to_segment", sa.String(length=128), nullable=True),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False, comment="batch or live"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_changes")),
        comment="Segment entries and exits seen by live updates (triggers read them).",
    )
    op.create_index(
        op.f("ix_segment_changes_customer_id_ts"),
        "segment_changes",
        ["customer_id", "ts"],
        unique=False,
    )
    op.create_index(
        op.f("ix_segment_changes_scheme_to_segment_ts"),
        "segment_changes",
        ["scheme", "to_segment", "ts"],
        unique=False,
    )
    op.create_table(
        "send_ledger",
        sa.Column("event_id", sa.String(length=512), nullable=False),
        sa.Column(
            "message_key",
            sa.String(length=448),
            nullable=True,
            comment="outbox key, when about a message",
        ),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("playbook", sa.String(length=128), nullable=True),
        sa.Column("occurrence", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column(
            "cost",
            sa.Numeric(precision=18, scale=4, asdecimal=False),
            server_default="0",
            nullable=False,
        ),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(),
            nullable=False,
            comment="written here at (UTC); bridges copy by it",
        ),
        sa.CheckConstraint(
            "type IN ('planned', 'held_out', 'capped', 'deferred', 'skipped', 'reserved', 'sent', 'delivered', 'opened', 'clicked', 'converted', 'unsubscribed', 'complained', 'bounced', 'failed', 'uncertain', 'cancelled')",
            name=op.f("ck_send_ledger_type"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_send_ledger")),
        comment="Every plan decision, attempt, outcome and reaction, with cost: caps, funnels and readouts read it.",
    )
    op.create_index(
        op.f("ix_send_ledger_customer_id_channel_ts"),
        "send_ledger",
        ["customer_id", "channel", "ts"],
        unique=False,
    )
    op.create_index(
        op.f("ix_send_ledger_message_key"), "send_ledger", ["message_key"], unique=False
    )
    op.create_index(
        op.f("ix_send_ledger_recorded_at"), "send_ledger", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_send_ledger_type_ts"), "send_ledger", ["type", "ts"], unique=False)
    op.create_table(
        "status_thresholds",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False, comment="scheme → cut points"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_status_thresholds")),
        comment="The cut points of a segmentation run, for live updates between runs.",
    )
    op.create_table(
        "suppressions",
        sa.Column(
            "address_hash", sa.String(length=64), nullable=False, comment="sha256 of the address"
        ),
        sa.Column("channel", sa.String(length=32), nullable=False, comment="a channel, or any"),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=True),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column(
            "expires_at", sa.DateTime(), nullable=True, comment="a pause ends; NULL: for good"
        ),
        sa.CheckConstraint(
            "reason IN ('bounce', 'complaint', 'unsubscribe', 'blocked', 'manual', 'erased', 'pause')",
            name=op.f("ck_suppressions_reason"),
        ),
        sa.PrimaryKeyConstraint("address_hash", "channel", name=op.f("pk_suppressions")),
        comment="Addresses never to message on a channel (hashed, so an erased address stays out).",
    )
    op.create_index(
        op.f("ix_suppressions_customer_id"), "suppressions", ["customer_id"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "role IN ('owner', 'marketer', 'analyst', 'admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
        comment="Dashboard users with hashed passwords and a role.",
    )
    op.create_table(
        "watermarks",
        sa.Column(
            "source", sa.String(length=128), nullable=False, comment="a bridge or a connector"
        ),
        sa.Column("position", sa.String(length=256), nullable=False),
        sa.Column(
            "source_ts", sa.DateTime(), nullable=True, comment="newest source timestamp seen"
        ),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_watermarks")),
        comment="Last synced position per bridge and connector.",
    )


def downgrade() -> None:
    op.drop_table("watermarks")
    op.drop_table("users")
    op.drop_table("suppressions")
    op.drop_table("status_thresholds")
    op.drop_table("send_ledger")
    op.drop_table("segment_changes")
    op.drop_table("playbook_controls")
    op.drop_table("outbox")
    op.drop_table("journeys")
    op.drop_table("inbox")
    op.drop_table("erasures")
    op.drop_table("customer_status")
    op.drop_table("consents")
    op.drop_table("assignments")
    op.drop_table("api_keys")
