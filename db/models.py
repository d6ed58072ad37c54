"""SQLAlchemy 2.x models: the persistent shape of OPDs, staff, FAQs, citizens and tickets.

All timestamps are stored as timezone-aware UTC (``UtcDateTime``); SQLite, which has no
timezone type, gets them back aware as well.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON,
    }


class OpdRow(Base):
    """An agency (OPD) or the PPID Utama desk, mirrored from config and FAQ imports."""

    __tablename__ = "opds"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # True when the description came from ``sahut faq import`` (an OPD TOML file): it then
    # wins over config.toml's description at start-up until another import changes it.
    description_imported: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())
    keywords: Mapped[list[str]] = mapped_column(default=list)
    queue_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    is_ppid_utama: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class StaffRow(Base):
    """A registered person who may act in the bot: OPD staff, supervisor or admin."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    opd_code: Mapped[str | None] = mapped_column(ForeignKey("opds.code"))
    created_at: Mapped[datetime]


class FaqRow(Base):
    """An FAQ entry maintained by an OPD."""

    __tablename__ = "faq_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opd_code: Mapped[str] = mapped_column(ForeignKey("opds.code"), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    variants: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class CitizenRow(Base):
    """A citizen, known only by channel and channel id plus a display name (data minimum)."""

    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    blocked_at: Mapped[datetime | None]
    deletion_requested_at: Mapped[datetime | None]


class ReferenceCounterRow(Base):
    """Per prefix and year sequence behind references like PPID-2026-000123."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


_ACTIVE = "state IN ('open', 'claimed', 'answered', 'waiting')"


class TicketRow(Base):
    """A ticket with one timestamp per stage and its working-time durations."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_opd_state", "opd_code", "state"),
        Index("ix_tickets_created_at", "created_at"),
        # Reports (migration 0002): covering indexes read in order, without joins.
        Index("ix_tickets_report", "opd_code", "kind", "tier", "created_at", "state",
              "resolution_seconds", "rating", "extension_reason"),
        Index("ix_tickets_resolution", "opd_code", "resolution_seconds", "created_at"),
        Index("ix_tickets_week", "created_at", "kind", "first_response_seconds"),
        Index("ix_tickets_active", "state", "id", "kind", "tier", "created_at", "paused_seconds",
              "waiting_since", "first_response_at", "extension_reason",
              sqlite_where=text(_ACTIVE), postgresql_where=text(_ACTIVE)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    opd_code: Mapped[str] = mapped_column(ForeignKey("opds.code"))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    text: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    last_answer_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    waiting_since: Mapped[datetime | None]
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    first_response_seconds: Mapped[float | None] = mapped_column(Float)
    resolution_seconds: Mapped[float | None] = mapped_column(Float)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    delivery_failed: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class AssignmentRow(Base):
    """A stretch during which one OPD held a ticket; what that OPD is charged for."""

    __tablename__ = "ticket_assignments"
    __table_args__ = (
        Index("ix_assignments_report", "opd_code", "kind", "opened_at", "first_hold",
              "first_answer", "response_seconds"),
        Index("ix_assignments_response", "opd_code", "response_seconds", "opened_at"),
        Index("ix_assignments_current", "ticket_id", "opd_code", "entered_at", "paused_seconds",
              "first_response_seconds", sqlite_where=text("left_at IS NULL"),
              postgresql_where=text("left_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    seq: Mapped[int] = mapped_column(Integer)
    opd_code: Mapped[str] = mapped_column(ForeignKey("opds.code"), index=True)
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    first_response_seconds: Mapped[float | None] = mapped_column(Float)
    held_seconds: Mapped[float | None] = mapped_column(Float)
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Report facts copied at write time (migration 0002) so reports read one table:
    # the ticket's opening instant and kind, and the response charged to this stretch
    # (the first answer, or the held time when the stretch ended without one).
    opened_at: Mapped[datetime | None]
    kind: Mapped[str | None] = mapped_column(String(16))
    response_seconds: Mapped[float | None] = mapped_column(Float)
    first_hold: Mapped[bool | None] = mapped_column(Boolean)  # the OPD's first stretch here
    first_answer: Mapped[bool | None] = mapped_column(Boolean)  # the OPD's first answer here


class NotificationRow(Base):
    """A reminder, breach notice or digest already queued: the key makes it exactly once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class TicketEventRow(Base):
    """The audit trail: one row per transition, with actor and time."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    type: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    opd_code: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AttachmentRow(Base):
    """Evidence sent by a citizen (photo, document, location) or by staff with an answer."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(String(256))
    file_name: Mapped[str | None] = mapped_column(String(256))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    caption: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class MessageLinkRow(Base):
    """Relay bookkeeping: which chat message belongs to which ticket, and why."""

    __tablename__ = "message_links"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class DraftRow(Base):
    """A ticket being prepared in a citizen's chat (survives restarts)."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


def utcnow() -> datetime:
    """Aware UTC now, for adapters only (the domain gets time from its injected clock)."""
    return datetime.now(UTC)


#: The predicates of the outbox's partial indexes (see OutboxRow).
OUTBOX_READY_SQL = "state = 'pending'"
OUTBOX_OPEN_SQL = "state IN ('pending', 'sending')"
OUTBOX_LEASED_SQL = "state = 'sending'"


def state_is(column: Any, *states: str) -> Any:
    """``column IN ('a', ...)`` spelled with literals, as the partial indexes' predicates are.

    A bound parameter would hide the value from the planner (a prepared, generic plan on
    PostgreSQL; any parameter on SQLite), and the partial index would not be used.
    """
    assert all(s.isalpha() for s in states), states  # internal constants, never user input
    values: list[Any] = [literal_column(f"'{s}'") for s in states]
    return column == values[0] if len(values) == 1 else column.in_(values)


class OutboxRow(Base):
    """A message to deliver, written in the same transaction as the state change it reports."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Partial indexes: they hold only the open rows (the sent history stays out of the
        # hot path), and each predicate fits exactly one of the sender's questions, so the
        # planner cannot pick the wrong one when its statistics lag behind a burst (with
        # stale statistics, a plain (state, ...) index served the per-chat probe by walking
        # the whole backlog: ~15-28 ms per claim at 5,000 queued). Queries must spell the
        # predicate with literals (OUTBOX_READY, OUTBOX_OPEN, OUTBOX_LEASED) to use them.
        Index("ix_outbox_ready", "channel", "priority", "available_at", "id",
              postgresql_where=text(OUTBOX_READY_SQL), sqlite_where=text(OUTBOX_READY_SQL)),
        Index("ix_outbox_open", "channel", "chat_id", "id",
              postgresql_where=text(OUTBOX_OPEN_SQL), sqlite_where=text(OUTBOX_OPEN_SQL)),
        Index("ix_outbox_leased", "channel", "lease_until",
              postgresql_where=text(OUTBOX_LEASED_SQL), sqlite_where=text(OUTBOX_LEASED_SQL)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    template: Mapped[str] = mapped_column(String(100))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    keyboard: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    link_purpose: Mapped[str | None] = mapped_column(String(16))
    reply_to_message_id: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(300))


class ProcessedUpdateRow(Base):
    """Inbound updates already handled, so a redelivery has no second effect."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    processed_at: Mapped[datetime]
