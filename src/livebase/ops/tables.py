"""The operational store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

One ``MetaData``; the Alembic revisions in ``ops/migrations/versions`` create exactly these
tables (a test compares them). Every timestamp is UTC: :class:`UTCDateTime` stores naive UTC
and returns timezone-aware UTC datetimes on both engines, so code above never meets a naive
datetime from this store.

Keys that other packages rely on:

- ``outbox.key`` = ``customer_id|playbook|occurrence|step`` (:func:`outbox_key`): a step is
  planned once per journey occurrence, whoever plans it.
- ``send_ledger.event_id`` is unique: writing the same event twice is a no-op (idempotent
  webhooks, retries).
- ``journeys`` (customer_id, playbook, occurrence) and ``assignments`` (unit, customer_id,
  occurrence) are primary keys, so re-planning an as_of adds nothing.

>>> sorted(METADATA.tables)[:4]
['api_keys', 'assignments', 'consents', 'customer_status']
>>> outbox_key("90001", "winback-60", 2, "sms")
'90001|winback-60|2|sms'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "API_KEYS",
    "ASSIGNMENTS",
    "CONSENTS",
    "CUSTOMER_STATUS",
    "ERASURES",
    "INBOX",
    "JOURNEYS",
    "LEDGER_TYPES",
    "MESSAGE_LINKS",
    "MESSAGE_REFS",
    "METADATA",
    "OUTBOX",
    "OUTBOX_STATUSES",
    "PLAYBOOK_CONTROLS",
    "SEGMENT_CHANGES",
    "SEND_LEDGER",
    "STATUS_THRESHOLDS",
    "SUPPRESSIONS",
    "USERS",
    "WATERMARKS",
    "UTCDateTime",
    "outbox_key",
]


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC, returned as an aware UTC datetime.

    Aware values are converted to UTC on the way in; naive values are taken as UTC.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        return parsed.replace(tzinfo=UTC)


def outbox_key(customer_id: str, playbook: str, occurrence: int, step: str) -> str:
    """The outbox key of one step of one journey occurrence (also the message's idempotency key)."""
    return f"{customer_id}|{playbook}|{occurrence}|{step}"


METADATA = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = UTCDateTime
MONEY = sa.Numeric(18, 4, asdecimal=False)

OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "retry", "uncertain", "cancelled")
"""queued → sending → sent | failed | retry (→ sending) | uncertain (lease expired mid-send);
cancelled when an exit condition or erasure removes a pending step."""

LEDGER_TYPES = (
    "planned",
    "held_out",
    "capped",
    "deferred",
    "skipped",
    "reserved",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "converted",
    "unsubscribed",
    "complained",
    "bounced",
    "failed",
    "uncertain",
    "cancelled",
)
"""What can happen to a message, from planning to the customer's reaction."""


def _now_utc() -> datetime:
    return datetime.now(UTC)


def _recorded_at(name: str = "recorded_at") -> sa.Column[datetime]:
    """When the row was written or last changed here (wall clock of the writer, UTC).

    Bridges copy rows by this column with an overlap window, so rows written with a past
    ``ts`` (a backfilled plan, a late webhook) are copied too.
    """
    return sa.Column(
        name,
        UTCDateTime,
        nullable=False,
        default=_now_utc,
        onupdate=_now_utc,
        comment="written here at (UTC); bridges copy by it",
    )


def _check_in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


CONSENTS = sa.Table(
    "consents",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False, comment="email, sms, push, telegram, any"),
    sa.Column("purpose", sa.String(16), nullable=False, comment="marketing or service"),
    sa.Column("status", sa.String(16), nullable=False, comment="granted or withdrawn"),
    sa.Column("source", sa.String(256), nullable=False, comment="file, api, form, unsubscribe…"),
    sa.Column("text_version", sa.String(128), comment="version of the consent text shown"),
    sa.Column("evidence", sa.JSON, comment="IP, form id, document reference"),
    sa.Column("ts", TS, nullable=False, comment="when the customer gave or withdrew it"),
    _recorded_at(),
    sa.CheckConstraint(_check_in("purpose", ("marketing", "service")), name="purpose"),
    sa.CheckConstraint(_check_in("status", ("granted", "withdrawn")), name="status"),
    sa.Index(None, "customer_id", "channel", "purpose", "ts"),
    comment="Consent ledger with evidence; the latest row per customer, channel, purpose holds.",
)

SUPPRESSIONS = sa.Table(
    "suppressions",
    METADATA,
    sa.Column("address_hash", sa.String(64), primary_key=True, comment="sha256 of the address"),
    sa.Column("channel", sa.String(32), primary_key=True, comment="a channel, or any"),
    sa.Column("customer_id", sa.String(128)),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("source", sa.String(256)),
    sa.Column("ts", TS, nullable=False),
    sa.Column("expires_at", TS, comment="a pause ends; NULL: for good"),
    sa.CheckConstraint(
        _check_in(
            "reason", ("bounce", "complaint", "unsubscribe", "blocked", "manual", "erased", "pause")
        ),
        name="reason",
    ),
    sa.Index(None, "customer_id"),
    comment="Addresses never to message on a channel (hashed, so an erased address stays out).",
)

JOURNEYS = sa.Table(
    "journeys",
    METADATA,
    sa.Column("customer_id", sa.String(128), primary_key=True),
    sa.Column("playbook", sa.String(128), primary_key=True),
    sa.Column("occurrence", sa.Integer, primary_key=True, comment="1 for the first entry"),
    sa.Column("entered_at", TS, nullable=False),
    sa.Column("arm", sa.String(16), nullable=False, comment="treatment, holdout, global_holdout"),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("current_step", sa.String(64), comment="last step planned"),
    sa.Column("next_step", sa.String(64)),
    sa.Column("next_due_at", TS),
    sa.Column("exit_reason", sa.String(64)),
    sa.Column("exited_at", TS),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    _recorded_at(),
    sa.CheckConstraint(_check_in("arm", ("treatment", "holdout", "global_holdout")), name="arm"),
    sa.CheckConstraint(
        _check_in("state", ("active", "completed", "exited", "held_out")), name="state"
    ),
    sa.Index(None, "state", "next_due_at"),
    sa.Index(None, "playbook", "entered_at"),
    sa.Index(None, "recorded_at"),
    comment="One row per customer, playbook and entry: journey state is rows, not processes.",
)

ASSIGNMENTS = sa.Table(
    "assignments",
    METADATA,
    sa.Column(
        "unit",
        sa.String(192),
        primary_key=True,
        comment="playbook:NAME, playbook:NAME:step:ID, global, or experiment:NAME",
    ),
    sa.Column("customer_id", sa.String(128), primary_key=True),
    sa.Column("occurrence", sa.Integer, primary_key=True, comment="0 when not per entry"),
    sa.Column("arm", sa.String(32), nullable=False),
    sa.Column("holdout_share", sa.Float, nullable=False, comment="the planned share held out"),
    sa.Column("salt", sa.String(128), nullable=False),
    sa.Column("ts", TS, nullable=False, comment="the planner's as_of at entry"),
    _recorded_at(),
    sa.Index(None, "unit", "ts"),
    sa.Index(None, "recorded_at"),
    comment="Who was held out of what, decided at entry (salted hash), with the planned share.",
)

OUTBOX = sa.Table(
    "outbox",
    METADATA,
    sa.Column("key", sa.String(448), primary_key=True, comment="customer|playbook|occurrence|step"),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("playbook", sa.String(128), nullable=False),
    sa.Column("occurrence", sa.Integer, nullable=False),
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False, server_default="marketing"),
    sa.Column("template", sa.String(128)),
    sa.Column("offer", sa.String(128)),
    sa.Column("variant", sa.String(128)),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("payload", sa.JSON, comment="what the template needs beyond the customer"),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_until", TS),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TS),
    sa.Column("last_error", sa.Text),
    sa.Column("message_id", sa.String(256), comment="Message-ID / provider id"),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("sent_at", TS),
    sa.CheckConstraint(_check_in("status", OUTBOX_STATUSES), name="status"),
    sa.CheckConstraint(_check_in("purpose", ("marketing", "transactional")), name="purpose"),
    sa.Index(None, "status", "due_at"),
    sa.Index(None, "customer_id", "channel"),
    comment="Messages to send, exactly once: claimed with a lease, then recorded in the ledger.",
)

SEND_LEDGER = sa.Table(
    "send_ledger",
    METADATA,
    sa.Column("event_id", sa.String(512), primary_key=True),
    sa.Column("message_key", sa.String(448), comment="outbox key, when about a message"),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("playbook", sa.String(128)),
    sa.Column("occurrence", sa.Integer),
    sa.Column("step", sa.String(64)),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(256)),
    sa.Column("cost", MONEY, nullable=False, server_default="0"),
    sa.Column("ts", TS, nullable=False),
    sa.Column("detail", sa.JSON),
    _recorded_at(),
    sa.CheckConstraint(_check_in("type", LEDGER_TYPES), name="type"),
    sa.Index(None, "customer_id", "channel", "ts"),
    sa.Index(None, "message_key"),
    sa.Index(None, "type", "ts"),
    sa.Index(None, "recorded_at"),
    comment="Every plan decision, attempt, outcome and reaction, with cost: caps, funnels and "
    "readouts read it.",
)

CUSTOMER_STATUS = sa.Table(
    "customer_status",
    METADATA,
    sa.Column("customer_id", sa.String(128), primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("phone", sa.String(64)),
    sa.Column("name", sa.String(256)),
    sa.Column("timezone", sa.String(64), comment="IANA zone; NULL: the workspace's"),
    sa.Column("attributes", sa.JSON, comment="contact extras: telegram_chat_id, language…"),
    sa.Column("features", sa.JSON, nullable=False, comment="recency, frequency, monetary…"),
    sa.Column("segments", sa.JSON, nullable=False, comment="scheme → segment"),
    sa.Column("since", sa.JSON, nullable=False, comment="scheme → ISO date the segment began"),
    sa.Column("thresholds_version", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False, comment="date of the features"),
    sa.Column("last_paid_at", TS),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("source", sa.String(16), nullable=False, comment="batch or live"),
    comment="Each customer's live segments and the features they come from.",
)

STATUS_THRESHOLDS = sa.Table(
    "status_thresholds",
    METADATA,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("thresholds", sa.JSON, nullable=False, comment="scheme → cut points"),
    sa.Column("created_at", TS, nullable=False),
    comment="The cut points of a segmentation run, for live updates between runs.",
)

SEGMENT_CHANGES = sa.Table(
    "segment_changes",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("scheme", sa.String(64), nullable=False),
    sa.Column("from_segment", sa.String(128)),
    sa.Column("to_segment", sa.String(128)),
    sa.Column("ts", TS, nullable=False),
    sa.Column("source", sa.String(16), nullable=False, comment="batch or live"),
    sa.Index(None, "customer_id", "ts"),
    sa.Index(None, "scheme", "to_segment", "ts"),
    comment="Segment entries and exits seen by live updates (triggers read them).",
)

INBOX = sa.Table(
    "inbox",
    METADATA,
    sa.Column("event_id", sa.String(256), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False, comment="event or order"),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("ts", TS, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False, comment="properties, or the order's fields"),
    sa.Column("source", sa.String(64), nullable=False, comment="api, getcourse_hook…"),
    _recorded_at("received_at"),
    sa.CheckConstraint(_check_in("kind", ("event", "order")), name="kind"),
    sa.Index(None, "received_at"),
    sa.Index(None, "customer_id", "ts"),
    comment="Events and orders received by the service, copied to the analytics store by the "
    "next batch job.",
)

API_KEYS = sa.Table(
    "api_keys",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True, comment="public prefix of the key"),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("secret_hash", sa.String(256), nullable=False),
    sa.Column("scopes", sa.String(512), nullable=False, comment="space-separated"),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
    sa.Column("last_used_at", TS),
    comment="API keys, stored hashed.",
)

USERS = sa.Table(
    "users",
    METADATA,
    sa.Column("username", sa.String(128), primary_key=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("language", sa.String(8)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("disabled_at", TS),
    sa.CheckConstraint(_check_in("role", ("owner", "marketer", "analyst", "admin")), name="role"),
    comment="Dashboard users with hashed passwords and a role.",
)

WATERMARKS = sa.Table(
    "watermarks",
    METADATA,
    sa.Column("source", sa.String(128), primary_key=True, comment="a bridge or a connector"),
    sa.Column("position", sa.String(256), nullable=False),
    sa.Column("source_ts", TS, comment="newest source timestamp seen"),
    sa.Column("detail", sa.JSON),
    sa.Column("updated_at", TS, nullable=False),
    comment="Last synced position per bridge and connector.",
)

PLAYBOOK_CONTROLS = sa.Table(
    "playbook_controls",
    METADATA,
    sa.Column("playbook", sa.String(128), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("updated_by", sa.String(128), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    comment="Pause and resume of playbooks from the dashboard or the CLI.",
)

ERASURES = sa.Table(
    "erasures",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_hash", sa.String(64), nullable=False, comment="sha256 of the customer id"),
    sa.Column("what", sa.JSON, nullable=False, comment="tables and files touched, row counts"),
    sa.Column("requested_by", sa.String(128), nullable=False),
    sa.Column("ts", TS, nullable=False),
    comment="The record of each erasure (152-FZ / GDPR): what, when, by whom — no personal data.",
)

MESSAGE_REFS = sa.Table(
    "message_refs",
    METADATA,
    sa.Column("token", sa.String(32), primary_key=True, comment="opaque token of the outbox key"),
    sa.Column("message_key", sa.String(448), nullable=False),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("address_hash", sa.String(64), comment="sha256 of the address sent to"),
    sa.Column("created_at", TS, nullable=False),
    sa.Index(None, "message_key"),
    sa.Index(None, "customer_id"),
    comment="Messages whose links, pixel and unsubscribe point at the service: token → message.",
)

MESSAGE_LINKS = sa.Table(
    "message_links",
    METADATA,
    sa.Column("token", sa.String(32), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True, comment="1-based position in the message"),
    sa.Column("url", sa.Text, nullable=False, comment="the target recorded at send time"),
    comment="Links of sent messages: a click redirects only to a URL recorded here (no open "
    "redirect).",
)
