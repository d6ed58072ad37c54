"""SQLAlchemy implementations of the domain's repositories and unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import (
    AssignmentRow,
    AttachmentRow,
    CitizenRow,
    DraftRow,
    FaqRow,
    MessageLinkRow,
    OpdRow,
    OutboxRow,
    ProcessedUpdateRow,
    ReferenceCounterRow,
    StaffRow,
    TicketEventRow,
    TicketRow,
)
from faq.model import FaqEntry
from routing.outbox import Outgoing
from routing.people import Citizen, Draft, MessageLink, Opd, Role, Staff
from routing.ports import (
    CitizenRepository,
    DraftRepository,
    FaqRepository,
    LinkRepository,
    OpdRepository,
    OutboxRepository,
    StaffRepository,
    TicketRepository,
    UpdateLog,
)
from routing.tickets import Assignment, Ticket, TicketKind, TicketState

_TICKET_FIELDS = (
    "reference", "opd_code", "text", "created_at", "citizen_id", "tier", "channel",
    "anonymous", "confidential", "claimed_by", "claimed_at", "first_response_at",
    "last_answer_at", "closed_at", "waiting_since", "paused_seconds", "first_response_seconds",
    "resolution_seconds", "extension_reason", "rating", "reopen_count", "delivery_failed",
)
_ASSIGNMENT_FIELDS = ("opd_code", "entered_at", "left_at", "first_response_at",
                      "first_response_seconds", "held_seconds", "paused_seconds")


def report_facts(ticket: Ticket, index: int) -> dict[str, Any]:
    """Columns copied onto an assignment row for the reports (see docs/metrics.md)."""
    assignment = ticket.assignments[index]
    response = assignment.first_response_seconds
    if response is None:
        response = assignment.held_seconds  # left without an answer: the held time counts
    earlier = [a for a in ticket.assignments[:index] if a.opd_code == assignment.opd_code]
    return {"opened_at": ticket.created_at, "kind": ticket.kind.value,
            "response_seconds": response, "first_hold": not earlier,
            "first_answer": assignment.first_response_seconds is not None and not any(
                a.first_response_seconds is not None for a in earlier)}


def _dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on SQLite or PostgreSQL."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


class _HotStatements:
    """The statements every message runs, built once per dialect and executed as Core.

    Values travel as bound parameters, never as literals in the statement, so SQLAlchemy
    reuses one compiled form instead of building and cache-keying a statement per message
    (that bookkeeping cost more than the SQL itself).
    """

    def __init__(self, dialect: str) -> None:
        updates = ProcessedUpdateRow.__table__
        self.claim_update = _dialect_insert(dialect, updates).on_conflict_do_nothing(
            index_elements=["channel", "update_id"]).returning(updates.c.update_id)
        citizens = CitizenRow.__table__
        self.citizen_by_identity = select(
            citizens.c.id, citizens.c.display_name, citizens.c.blocked_at,
        ).where(citizens.c.channel == bindparam("channel"),
                citizens.c.external_id == bindparam("external_id"))
        self.add_citizen = _dialect_insert(dialect, citizens).on_conflict_do_nothing(
            index_elements=["channel", "external_id"]).returning(citizens.c.id)
        drafts = DraftRow.__table__
        self.draft = select(drafts.c.data).where(drafts.c.channel == bindparam("channel"),
                                                 drafts.c.chat_id == bindparam("chat_id"))
        upsert = _dialect_insert(dialect, drafts)
        self.put_draft = upsert.on_conflict_do_update(
            index_elements=["channel", "chat_id"],
            set_={"data": upsert.excluded.data, "updated_at": upsert.excluded.updated_at})
        outbox: Any = OutboxRow.__table__
        self.add_outbox = insert(outbox).returning(outbox.c.id)
        opds = OpdRow.__table__
        self.opd = select(opds).where(opds.c.code == bindparam("code"))


_HOT: dict[str, _HotStatements] = {}


def _hot(session: Session) -> _HotStatements:
    dialect = session.get_bind().dialect.name
    found = _HOT.get(dialect)
    if found is None:
        found = _HOT[dialect] = _HotStatements(dialect)
    return found


def format_reference(prefix: str, year: int, value: int) -> str:
    """Human-friendly reference such as ``PPID-2026-000123``."""
    return f"{prefix}-{year}-{value:06d}"


class SqlTicketRepository:
    """Tickets mapped by hand between rows and the pure domain object."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _to_domain(self, row: TicketRow) -> Ticket:
        values = {name: getattr(row, name) for name in _TICKET_FIELDS}
        ticket = Ticket(kind=TicketKind(row.kind), state=TicketState(row.state), id=row.id,
                        **values)
        rows = self.session.scalars(
            select(AssignmentRow).where(AssignmentRow.ticket_id == row.id)
            .order_by(AssignmentRow.seq)
        ).all()
        ticket.assignments = [
            Assignment(id=a.id, **{name: getattr(a, name) for name in _ASSIGNMENT_FIELDS})
            for a in rows
        ]
        return ticket

    def _write_children(self, ticket: Ticket) -> None:
        assert ticket.id is not None
        for seq, assignment in enumerate(ticket.assignments):
            values = {name: getattr(assignment, name) for name in _ASSIGNMENT_FIELDS}
            values.update(report_facts(ticket, seq))
            if assignment.id is None:
                row = AssignmentRow(ticket_id=ticket.id, seq=seq, **values)
                self.session.add(row)
                self.session.flush()
                assignment.id = row.id
            else:
                self.session.execute(
                    update(AssignmentRow).where(AssignmentRow.id == assignment.id).values(**values)
                )
        events = ticket.pull_events()
        if events:
            self.session.execute(insert(TicketEventRow), [
                {
                    "ticket_id": ticket.id, "type": e.type.value, "at": e.at,
                    "actor_kind": e.actor.kind.value, "actor_id": e.actor.id,
                    "opd_code": e.opd_code,
                    "from_state": e.from_state.value if e.from_state else None,
                    "to_state": e.to_state.value, "data": e.data,
                }
                for e in events
            ])

    def add(self, ticket: Ticket) -> Ticket:
        """Insert a new ticket with its first assignment and events."""
        values = {name: getattr(ticket, name) for name in _TICKET_FIELDS}
        row = TicketRow(kind=ticket.kind.value, state=ticket.state.value,
                        updated_at=ticket.created_at, **values)
        self.session.add(row)
        self.session.flush()
        ticket.id = row.id
        self._write_children(ticket)
        return ticket

    def save(self, ticket: Ticket) -> None:
        """Write back a changed ticket and append its new events."""
        assert ticket.id is not None
        values = {name: getattr(ticket, name) for name in _TICKET_FIELDS}
        last = max((a.left_at or a.entered_at) for a in ticket.assignments)
        self.session.execute(
            update(TicketRow).where(TicketRow.id == ticket.id).values(
                kind=ticket.kind.value, state=ticket.state.value, updated_at=last, **values
            )
        )
        self._write_children(ticket)

    def get(self, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        """A ticket by id (row-locked on PostgreSQL when it is about to change)."""
        stmt = select(TicketRow).where(TicketRow.id == ticket_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).first()
        return self._to_domain(row) if row else None

    def by_reference(self, reference: str, *, for_update: bool = False) -> Ticket | None:
        """A ticket by its human reference (case-insensitive)."""
        stmt = select(TicketRow).where(TicketRow.reference == reference.strip().upper())
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).first()
        return self._to_domain(row) if row else None

    def find(self, *, opd_code: str | None = None, states: Sequence[TicketState] | None = None,
             citizen_id: int | None = None, limit: int | None = None) -> list[Ticket]:
        """Tickets filtered by queue, states or citizen, oldest first."""
        stmt = select(TicketRow).order_by(TicketRow.created_at, TicketRow.id)
        if opd_code is not None:
            stmt = stmt.where(TicketRow.opd_code == opd_code)
        if states:
            stmt = stmt.where(TicketRow.state.in_([s.value for s in states]))
        if citizen_id is not None:
            stmt = stmt.where(TicketRow.citizen_id == citizen_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [self._to_domain(row) for row in self.session.scalars(stmt).all()]

    def next_reference(self, prefix: str, year: int) -> str:
        """Allocate the next reference; the UPDATE's row lock serialises concurrent callers."""
        for _ in range(5):
            value = self.session.execute(
                update(ReferenceCounterRow)
                .where(ReferenceCounterRow.prefix == prefix, ReferenceCounterRow.year == year)
                .values(value=ReferenceCounterRow.value + 1)
                .returning(ReferenceCounterRow.value)
            ).scalar_one_or_none()
            if value is not None:
                return format_reference(prefix, year, value)
            try:
                with self.session.begin_nested():
                    self.session.add(ReferenceCounterRow(prefix=prefix, year=year, value=1))
                return format_reference(prefix, year, 1)
            except IntegrityError:
                continue  # another transaction created the counter first: take the UPDATE path
        raise RuntimeError("could not allocate a ticket reference")

    def add_attachment(self, ticket_id: int, attachment: dict[str, Any], at: datetime) -> None:
        """Store evidence metadata (Telegram file ids, never the bytes)."""
        allowed = {"kind", "file_id", "file_name", "mime_type", "size", "latitude", "longitude",
                   "caption"}
        self.session.add(AttachmentRow(ticket_id=ticket_id, created_at=at,
                                       **{k: v for k, v in attachment.items() if k in allowed}))

    def attachments(self, ticket_id: int) -> list[dict[str, Any]]:
        """Evidence of a ticket, oldest first."""
        rows = self.session.scalars(
            select(AttachmentRow).where(AttachmentRow.ticket_id == ticket_id)
            .order_by(AttachmentRow.id)
        ).all()
        return [
            {"kind": r.kind, "file_id": r.file_id, "file_name": r.file_name,
             "mime_type": r.mime_type, "size": r.size, "latitude": r.latitude,
             "longitude": r.longitude, "caption": r.caption}
            for r in rows
        ]

    def delete_attachments(self, ticket_id: int) -> int:
        """Forget a ticket's evidence (privacy purge)."""
        result = self.session.execute(
            delete(AttachmentRow).where(AttachmentRow.ticket_id == ticket_id))
        return int(getattr(result, "rowcount", 0) or 0)

    def closed_before(self, before: datetime, limit: int = 1000) -> list[Ticket]:
        """Closed or rejected tickets whose closing is older than ``before`` and not yet purged."""
        stmt = (select(TicketRow)
                .where(TicketRow.state.in_(("closed", "rejected")), TicketRow.closed_at < before,
                       TicketRow.citizen_id.is_not(None))
                .order_by(TicketRow.id).limit(limit))
        return [self._to_domain(row) for row in self.session.scalars(stmt).all()]

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        """The audit trail of a ticket, in order."""
        rows = self.session.scalars(
            select(TicketEventRow).where(TicketEventRow.ticket_id == ticket_id)
            .order_by(TicketEventRow.at, TicketEventRow.id)
        ).all()
        return [
            {"type": r.type, "at": r.at, "actor_kind": r.actor_kind, "actor_id": r.actor_id,
             "opd_code": r.opd_code, "from_state": r.from_state, "to_state": r.to_state,
             "data": r.data}
            for r in rows
        ]


def _opd(row: OpdRow) -> Opd:
    return Opd(code=row.code, name=row.name, description=row.description,
               queue_chat_id=row.queue_chat_id, is_ppid_utama=row.is_ppid_utama,
               keywords=tuple(row.keywords or ()), active=row.active,
               description_imported=bool(row.description_imported))


class SqlOpdRepository:
    """OPD rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self, *, include_inactive: bool = False) -> list[Opd]:
        """All OPDs, PPID Utama last."""
        stmt = select(OpdRow).order_by(OpdRow.is_ppid_utama, OpdRow.code)
        if not include_inactive:
            stmt = stmt.where(OpdRow.active.is_(True))
        return [_opd(r) for r in self.session.scalars(stmt).all()]

    def get(self, code: str) -> Opd | None:
        """One OPD by code."""
        row = self.session.connection().execute(
            _hot(self.session).opd, {"code": code.upper()}).first()
        return _opd(row) if row else None  # type: ignore[arg-type]

    def upsert(self, opd: Opd, at: datetime) -> None:
        """Create or update an OPD."""
        row = self.session.get(OpdRow, opd.code)
        if row is None:
            row = OpdRow(code=opd.code)
            self.session.add(row)
        row.name = opd.name
        row.description = opd.description
        row.description_imported = opd.description_imported
        row.keywords = list(opd.keywords)
        row.queue_chat_id = opd.queue_chat_id
        row.is_ppid_utama = opd.is_ppid_utama
        row.active = opd.active
        row.updated_at = at


def _staff(row: StaffRow) -> Staff:
    return Staff(id=row.id, telegram_id=row.telegram_id, name=row.name, role=Role(row.role),
                 opd_code=row.opd_code)


class SqlStaffRepository:
    """Staff rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_telegram_id(self, telegram_id: int) -> Staff | None:
        """The staff member with this Telegram user id."""
        row = self.session.scalars(
            select(StaffRow).where(StaffRow.telegram_id == telegram_id)).first()
        return _staff(row) if row else None

    def add(self, staff: Staff, at: datetime) -> Staff:
        """Register (or update) a staff member by Telegram id."""
        row = self.session.scalars(
            select(StaffRow).where(StaffRow.telegram_id == staff.telegram_id)).first()
        if row is None:
            row = StaffRow(telegram_id=staff.telegram_id, created_at=at)
            self.session.add(row)
        row.name = staff.name
        row.role = staff.role.value
        row.opd_code = staff.opd_code
        self.session.flush()
        return _staff(row)

    def remove(self, telegram_id: int) -> bool:
        """Unregister; True when someone was removed."""
        result = self.session.execute(delete(StaffRow).where(StaffRow.telegram_id == telegram_id))
        return bool(getattr(result, "rowcount", 0))

    def all(self) -> list[Staff]:
        """Everyone registered."""
        rows = self.session.scalars(select(StaffRow).order_by(StaffRow.role, StaffRow.opd_code,
                                                             StaffRow.name)).all()
        return [_staff(r) for r in rows]

    def for_opd(self, opd_code: str) -> list[Staff]:
        """Staff of one OPD."""
        rows = self.session.scalars(select(StaffRow).where(StaffRow.opd_code == opd_code)).all()
        return [_staff(r) for r in rows]


def _citizen(row: CitizenRow) -> Citizen:
    return Citizen(id=row.id, channel=row.channel, external_id=row.external_id,
                   display_name=row.display_name, blocked_at=row.blocked_at)


class SqlCitizenRepository:
    """Citizen rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_or_create(self, channel: str, external_id: str, display_name: str | None,
                      at: datetime) -> Citizen:
        """Find a citizen by channel identity, creating them on first contact."""
        # Prebuilt Core statements, no ORM objects or savepoints: this runs for every message.
        hot, conn = _hot(self.session), self.session.connection()
        identity = {"channel": channel, "external_id": external_id}
        found = conn.execute(hot.citizen_by_identity, identity).first()
        if found is None:
            added = conn.execute(hot.add_citizen, {**identity, "display_name": display_name,
                                                   "created_at": at}).first()
            if added is not None:
                return Citizen(id=added[0], channel=channel, external_id=external_id,
                               display_name=display_name, blocked_at=None)
            found = conn.execute(hot.citizen_by_identity, identity).one()  # a racing insert
        citizen_id, name, blocked_at = found
        changes: dict[str, Any] = {}
        if display_name and name != display_name:
            changes["display_name"] = name = display_name
        if blocked_at is not None:
            changes["blocked_at"] = None  # they wrote to us again, so they unblocked the bot
        if changes:
            self.session.execute(
                update(CitizenRow).where(CitizenRow.id == citizen_id).values(**changes))
        return Citizen(id=citizen_id, channel=channel, external_id=external_id,
                       display_name=name, blocked_at=None)

    def get(self, citizen_id: int) -> Citizen | None:
        """A citizen by id."""
        row = self.session.get(CitizenRow, citizen_id)
        return _citizen(row) if row else None

    def mark_blocked(self, citizen_id: int, at: datetime) -> None:
        """Remember that messages to this citizen cannot be delivered."""
        self.session.execute(
            update(CitizenRow).where(CitizenRow.id == citizen_id).values(blocked_at=at))

    def erase(self, citizen_id: int, at: datetime) -> None:
        """Drop the citizen's identity: no name, and a chat id nobody can be reached by."""
        self.session.execute(update(CitizenRow).where(CitizenRow.id == citizen_id).values(
            display_name=None, external_id=f"erased-{citizen_id}",
            deletion_requested_at=at))


def _faq(row: FaqRow) -> FaqEntry:
    return FaqEntry(id=row.id, opd=row.opd_code, question=row.question, answer=row.answer,
                    variants=tuple(row.variants or ()), keywords=tuple(row.keywords or ()))


class SqlFaqRepository:
    """FAQ rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert_many(self, entries: Iterable[FaqEntry], at: datetime,
                    sample: bool = False) -> tuple[int, int]:
        """Insert or update entries by id; return (created, updated)."""
        created = updated = 0
        for entry in entries:
            row = self.session.get(FaqRow, entry.id)
            if row is None:
                row = FaqRow(id=entry.id)
                self.session.add(row)
                created += 1
            else:
                updated += 1
            row.opd_code = entry.opd
            row.question = entry.question
            row.answer = entry.answer
            row.variants = list(entry.variants)
            row.keywords = list(entry.keywords)
            row.is_sample = sample
            row.updated_at = at
        self.session.flush()
        return created, updated

    def remove_samples(self) -> int:
        """Delete the demo entries shipped with Sahut (done when real FAQs are imported)."""
        result = self.session.execute(delete(FaqRow).where(FaqRow.is_sample.is_(True)))
        return int(getattr(result, "rowcount", 0) or 0)

    def all(self, opd_code: str | None = None) -> list[FaqEntry]:
        """Entries, optionally of one OPD, by id."""
        stmt = select(FaqRow).order_by(FaqRow.id)
        if opd_code:
            stmt = stmt.where(FaqRow.opd_code == opd_code)
        return [_faq(r) for r in self.session.scalars(stmt).all()]

    def get(self, faq_id: str) -> FaqEntry | None:
        """One entry."""
        row = self.session.get(FaqRow, faq_id)
        return _faq(row) if row else None

    def count(self) -> int:
        """How many entries exist."""
        return int(self.session.scalar(select(func.count()).select_from(FaqRow)) or 0)

    def stamp(self) -> str:
        """A cheap fingerprint of FAQs and OPDs: changes whenever either table changes."""
        faq = self.session.execute(select(func.count(), func.max(FaqRow.updated_at))).one()
        opd = self.session.execute(select(func.count(), func.max(OpdRow.updated_at))).one()
        return f"{faq[0]}|{faq[1]}|{opd[0]}|{opd[1]}"


class SqlLinkRepository:
    """Message-link rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, link: MessageLink, at: datetime) -> None:
        """Remember that a chat message belongs to a ticket."""
        self.session.add(MessageLinkRow(channel=link.channel, chat_id=link.chat_id,
                                        message_id=link.message_id, ticket_id=link.ticket_id,
                                        purpose=link.purpose, created_at=at))

    def find(self, channel: str, chat_id: int, message_id: int) -> MessageLink | None:
        """The ticket link of a chat message, if any."""
        row = self.session.scalars(select(MessageLinkRow).where(
            MessageLinkRow.channel == channel, MessageLinkRow.chat_id == chat_id,
            MessageLinkRow.message_id == message_id)).first()
        if row is None:
            return None
        return MessageLink(row.channel, row.chat_id, row.message_id, row.ticket_id, row.purpose)

    def for_ticket(self, ticket_id: int, purpose: str | None = None) -> list[MessageLink]:
        """All links of a ticket (optionally one purpose)."""
        stmt = select(MessageLinkRow).where(MessageLinkRow.ticket_id == ticket_id)
        if purpose:
            stmt = stmt.where(MessageLinkRow.purpose == purpose)
        return [MessageLink(r.channel, r.chat_id, r.message_id, r.ticket_id, r.purpose)
                for r in self.session.scalars(stmt.order_by(MessageLinkRow.id)).all()]


    def delete_for_ticket(self, ticket_id: int, purpose: str) -> int:
        """Forget the links of one purpose (the citizen's chat ids, on erasure)."""
        result = self.session.execute(delete(MessageLinkRow).where(
            MessageLinkRow.ticket_id == ticket_id, MessageLinkRow.purpose == purpose))
        return int(getattr(result, "rowcount", 0) or 0)


class SqlDraftRepository:
    """Draft rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, channel: str, chat_id: int) -> Draft | None:
        """The draft of a chat, if one is being made."""
        data = self.session.connection().execute(
            _hot(self.session).draft, {"channel": channel, "chat_id": chat_id}).scalar()
        return Draft(channel, chat_id, dict(data)) if data is not None else None

    def put(self, draft: Draft, at: datetime) -> None:
        """Create or replace a chat's draft (one upsert)."""
        self.session.connection().execute(_hot(self.session).put_draft, {
            "channel": draft.channel, "chat_id": draft.chat_id, "data": dict(draft.data),
            "updated_at": at})

    def delete(self, channel: str, chat_id: int) -> None:
        """Forget a chat's draft."""
        self.session.execute(delete(DraftRow).where(DraftRow.channel == channel,
                                                    DraftRow.chat_id == chat_id))


class SqlOutboxRepository:
    """Outbox rows: written with the change, delivered by the sender."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, message: Outgoing, at: datetime) -> int:
        """Queue a message; returns its outbox id."""
        return int(self.session.connection().execute(_hot(self.session).add_outbox, {
            "channel": message.channel, "chat_id": message.chat_id,
            "template": message.template, "context": message.context,
            "keyboard": message.keyboard_json(), "attachment": message.attachment,
            "ticket_id": message.ticket_id, "link_purpose": message.link_purpose,
            "reply_to_message_id": message.reply_to_message_id,
            "priority": int(message.priority), "state": "pending", "attempts": 0,
            "created_at": at, "available_at": at,
        }).scalar_one())

    def forget_delivered(self, *, chat: tuple[str, int] | None,
                         ticket_ids: Sequence[int]) -> int:
        """Delete delivered (or given up) messages to a chat or about tickets; how many.

        Their context holds what was said (UU 27/2022: erased on request). Messages still
        waiting are kept: they are what the citizen is about to receive.
        """
        about: list[Any] = []
        if chat is not None:
            about.append((OutboxRow.channel == chat[0]) & (OutboxRow.chat_id == chat[1]))
        if ticket_ids:
            about.append(OutboxRow.ticket_id.in_(list(ticket_ids)))
        if not about:
            return 0
        result = self.session.execute(delete(OutboxRow).where(
            OutboxRow.state.in_(("sent", "failed")), or_(*about)))
        return int(getattr(result, "rowcount", 0) or 0)


class SqlUpdateLog:
    """Processed-update ids, claimed in the same transaction as the update's effects."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, channel: str, update_id: int, at: datetime) -> bool:
        """True the first time an update is seen; False for a redelivery.

        One INSERT ... ON CONFLICT DO NOTHING: on PostgreSQL a concurrent claim of the same
        update waits for the first transaction and then finds the row, so only one wins.
        """
        inserted = self.session.connection().execute(_hot(self.session).claim_update, {
            "channel": channel, "update_id": update_id, "processed_at": at}).first()
        return inserted is not None


class SqlUnitOfWork:
    """One session and transaction; rolls back unless ``commit()`` was called."""

    tickets: TicketRepository
    opds: OpdRepository
    staff: StaffRepository
    citizens: CitizenRepository
    faqs: FaqRepository
    links: LinkRepository
    drafts: DraftRepository
    outbox: OutboxRepository
    updates: UpdateLog

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> Self:
        session = self._factory()
        self.session = session
        self.tickets = SqlTicketRepository(session)
        self.opds = SqlOpdRepository(session)
        self.staff = SqlStaffRepository(session)
        self.citizens = SqlCitizenRepository(session)
        self.faqs = SqlFaqRepository(session)
        self.links = SqlLinkRepository(session)
        self.drafts = SqlDraftRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.updates = SqlUpdateLog(session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        """Make the changes of this unit of work durable."""
        assert self.session is not None
        self.session.commit()

    def rollback(self) -> None:
        """Throw the changes away."""
        assert self.session is not None
        self.session.rollback()
