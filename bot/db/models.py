"""The schema. Every state change is written through ``bot.ops``; see docs/architecture.md."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python, stored without zone (SQLite keeps none)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with constraint names that Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)


class WebhookDelivery(Base):
    """A platform's webhook delivery, stored as received before it is acknowledged.

    ``bot.workers.deliveries`` turns it into messages and events and deletes it, in one
    transaction. One that fails to expand stays, with its error, and is tried again later.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ReceiveLogCursor(Base):
    """How far a SQLite receive log (``bot.db.receive_log``) has been expanded."""

    __tablename__ = "receive_log_cursors"

    log_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)


class Erasure(Base):
    """A member erased, for the deliveries received before and not expanded yet.

    It holds a salted hash of the member's channel, page and user id, never the id itself, and
    lasts only until no delivery received before it waits (``bot.ops.erasures``).
    """

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_erased_at", "erased_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    erased_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Conversation(Base):
    """One member on one page of one channel. ``mode`` is bot, waiting_staff or staff."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "page_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    page_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16), default="bot")
    mode_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_member_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))  # who took it
    held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Message(Base):
    """Every message in or out. Inbound ones are unique per channel and platform message id."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "platform_message_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(16))  # member | bot | staff | system
    kind: Mapped[str] = mapped_column(String(16))  # text | answer | clarify | handoff | ...
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    platform_ts: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def pending_index(name: str) -> Index:
    """(conversation_id, id) of the pending rows only: what workers claim, and few rows.

    A query uses it only if it writes ``status = 'pending'`` literally (``bot.ops.sql.PENDING``).
    """
    pending = text("status = 'pending'")
    return Index(name, "conversation_id", "id", postgresql_where=pending, sqlite_where=pending)


class DispatchJob(Base):
    """A member message waiting to go to Rasa; handled in order per conversation."""

    __tablename__ = "dispatch_jobs"
    __table_args__ = (pending_index("ix_dispatch_jobs_pending"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    status: Mapped[str] = mapped_column(
        String(12), default="pending"
    )  # pending|done|skipped|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Delivery:
    """Columns of an item that leased workers deliver, in order per conversation, with retries.

    See ``bot.ops.sql.claim_head_of_line``.
    """

    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxItem(Delivery, Base):
    """A reply written before it is sent; sent in order per conversation, with retries."""

    __tablename__ = "outbox"
    __table_args__ = (pending_index("ix_outbox_pending"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    platform_message_id: Mapped[str | None] = mapped_column(String(128))


class Question(Base):
    """The reply ledger: a member's question, its deadline and how it was answered."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_open", "conversation_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|answered|dismissed
    first_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    last_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(32))  # bot | staff
    answer_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    faq_slug: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="")
    page_id: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str | None] = mapped_column(String(16))  # of the FAQ entry that answered
    staff_id: Mapped[str | None] = mapped_column(String(64))  # who on staff answered
    met_deadline: Mapped[bool | None] = mapped_column(Boolean)
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    breached_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    topic_guess: Mapped[str | None] = mapped_column(String(64))  # the bot's guess, on handoff


class FaqEntry(Base):
    """A reviewed FAQ answer, loaded from ``nlu_data/faq`` and read by the action server."""

    __tablename__ = "faq_entries"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    legal_source: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_note: Mapped[str] = mapped_column(Text, default="")
    reviewed: Mapped[dt.date] = mapped_column(Date)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    uncertain: Mapped[str] = mapped_column(Text, default="")
    source_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FaqFeedback(Base):
    """A member's verdict on a bot answer ("Hữu ích" or "Chưa đúng"), kept per FAQ entry."""

    __tablename__ = "faq_feedback"
    __table_args__ = (Index("ix_faq_feedback_slug", "faq_slug", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    faq_slug: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(8))  # helpful | wrong
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    answer_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    member_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ChannelToken(Base):
    """A platform access token and its single-use refresh token (Zalo), encrypted at rest.

    ``version`` grows with every refresh; a worker refreshes only after claiming the row
    (``refreshing_owner`` until ``refreshing_until``), so a refresh token is used once.
    ``failed_at`` stops automatic refreshes until the account is re-authorized.
    """

    __tablename__ = "channel_tokens"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text, default="")  # encrypted
    refresh_token: Mapped[str] = mapped_column(Text, default="")  # encrypted
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    seed_hash: Mapped[str] = mapped_column(String(64))  # of the configured first refresh token
    version: Mapped[int] = mapped_column(Integer, default=0)
    refreshing_owner: Mapped[str | None] = mapped_column(String(64))
    refreshing_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DeadlineWarning(Base):
    """A warning about one question, raised once: ``due_6h``, ``due_2h``, ``window``, ``breach``.

    The unique key makes the deadline sweep safe with several processes: the one whose insert
    succeeds sends the notifications.
    """

    __tablename__ = "deadline_warnings"
    __table_args__ = (
        UniqueConstraint("question_id", "kind"),
        Index("ix_deadline_warnings_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # what the warning is about
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Notification(Delivery, Base):
    """A warning to deliver outside the console (e-mail, webhook), with retries like the outbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "status", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("deadline_warnings.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    target: Mapped[str] = mapped_column(String(16))  # email | webhook


class StaffUser(Base):
    """A union staff member who signs in to the console; ``role`` is admin or staff."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(8), default="staff")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StaffPage(Base):
    """A page or OA a staff member works on; they see and act on nothing else."""

    __tablename__ = "staff_pages"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    page_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class StaffSession(Base):
    """A signed-in browser: the cookie holds the token, the table only its hash."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One staff action: who did what to which conversation, page, FAQ entry or account."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FaqRevision(Base):
    """One edit of an FAQ entry in the console: who changed what."""

    __tablename__ = "faq_revisions"
    __table_args__ = (Index("ix_faq_revisions_slug", "slug", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(ForeignKey("faq_entries.slug"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FaqDraft(Base):
    """A staff answer proposed as a new FAQ entry, with the member's question as an example."""

    __tablename__ = "faq_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
