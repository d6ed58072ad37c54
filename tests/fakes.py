"""In-memory fakes of every repository Protocol in routing/ports.py, and a FakeUnitOfWork.

They behave like the SQL adapters where the use cases can tell: ids are assigned on add,
objects handed out are copies (changing one changes nothing until it is saved), events are
pulled from tickets on add/save, and a unit of work rolls back unless committed.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from faq.model import FaqEntry
from routing.outbox import Outgoing
from routing.people import Citizen, Draft, MessageLink, Opd, Staff
from routing.tickets import Ticket, TicketState


@dataclass
class FakeState:
    """Everything the fake database holds; a unit of work snapshots and restores it."""

    tickets: dict[int, Ticket] = field(default_factory=dict)
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    attachments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    counters: dict[tuple[str, int], int] = field(default_factory=dict)
    opds: dict[str, Opd] = field(default_factory=dict)
    opd_stamps: dict[str, datetime] = field(default_factory=dict)
    staff: dict[int, Staff] = field(default_factory=dict)  # by telegram id
    citizens: dict[int, Citizen] = field(default_factory=dict)
    faqs: dict[str, FaqEntry] = field(default_factory=dict)
    faq_samples: set[str] = field(default_factory=set)
    faq_stamps: dict[str, datetime] = field(default_factory=dict)
    links: list[MessageLink] = field(default_factory=list)
    drafts: dict[tuple[str, int], Draft] = field(default_factory=dict)
    outbox: list[tuple[int, Outgoing, datetime]] = field(default_factory=list)
    #: forget_delivered calls: (chat, ticket ids).
    forgotten: list[tuple[tuple[str, int] | None, tuple[int, ...]]] = field(
        default_factory=list)
    updates: set[tuple[str, int]] = field(default_factory=set)
    last_ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        """Autoincrement per kind of row."""
        self.last_ids[kind] = self.last_ids.get(kind, 0) + 1
        return self.last_ids[kind]


class FakeTicketRepository:
    """Tickets stored as private copies, with their audit events as dict rows."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def _store(self, ticket: Ticket) -> None:
        assert ticket.id is not None
        for assignment in ticket.assignments:
            if assignment.id is None:
                assignment.id = self.state.next_id("assignment")
        rows = self.state.events.setdefault(ticket.id, [])
        for e in ticket.pull_events():
            rows.append({
                "type": e.type.value, "at": e.at, "actor_kind": e.actor.kind.value,
                "actor_id": e.actor.id, "opd_code": e.opd_code,
                "from_state": e.from_state.value if e.from_state else None,
                "to_state": e.to_state.value, "data": copy.deepcopy(e.data),
            })
        self.state.tickets[ticket.id] = copy.deepcopy(ticket)

    def add(self, ticket: Ticket) -> Ticket:
        """Insert a new ticket (assigns its id)."""
        ticket.id = self.state.next_id("ticket")
        self._store(ticket)
        return ticket

    def save(self, ticket: Ticket) -> None:
        """Write back a changed ticket and append its new events."""
        assert ticket.id in self.state.tickets, "save() of a ticket that was never added"
        self._store(ticket)

    def get(self, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        """A copy of the ticket with this id."""
        ticket = self.state.tickets.get(ticket_id)
        return copy.deepcopy(ticket) if ticket else None

    def by_reference(self, reference: str, *, for_update: bool = False) -> Ticket | None:
        """A copy of the ticket with this reference (case-insensitive)."""
        wanted = reference.strip().upper()
        for ticket in self.state.tickets.values():
            if ticket.reference == wanted:
                return copy.deepcopy(ticket)
        return None

    def find(self, *, opd_code: str | None = None, states: Sequence[TicketState] | None = None,
             citizen_id: int | None = None, limit: int | None = None) -> list[Ticket]:
        """Tickets filtered like the SQL repository, oldest first."""
        found = [
            t for t in self.state.tickets.values()
            if (opd_code is None or t.opd_code == opd_code)
            and (not states or t.state in states)
            and (citizen_id is None or t.citizen_id == citizen_id)
        ]
        found.sort(key=lambda t: (t.created_at, t.id))
        return [copy.deepcopy(t) for t in found[:limit]]

    def next_reference(self, prefix: str, year: int) -> str:
        """``PREFIX-YEAR-000001``, one sequence per prefix and year."""
        value = self.state.counters.get((prefix, year), 0) + 1
        self.state.counters[(prefix, year)] = value
        return f"{prefix}-{year}-{value:06d}"

    def add_attachment(self, ticket_id: int, attachment: dict[str, Any], at: datetime) -> None:
        """Store evidence metadata."""
        self.state.attachments.setdefault(ticket_id, []).append(dict(attachment))

    def attachments(self, ticket_id: int) -> list[dict[str, Any]]:
        """Evidence of a ticket, oldest first."""
        return [dict(a) for a in self.state.attachments.get(ticket_id, [])]

    def delete_attachments(self, ticket_id: int) -> int:
        """Forget a ticket's evidence; return how many items."""
        return len(self.state.attachments.pop(ticket_id, []))

    def closed_before(self, before: datetime, limit: int = 1000) -> list[Ticket]:
        """Closed or rejected tickets closed before ``before`` and not yet anonymised."""
        found = sorted(
            (t for t in self.state.tickets.values()
             if t.state in (TicketState.CLOSED, TicketState.REJECTED)
             and t.closed_at is not None and t.closed_at < before and t.citizen_id is not None),
            key=lambda t: t.id or 0)
        return [copy.deepcopy(t) for t in found[:limit]]

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        """The audit trail of a ticket, in order."""
        return copy.deepcopy(self.state.events.get(ticket_id, []))


class FakeOpdRepository:
    """OPDs by code."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def all(self, *, include_inactive: bool = False) -> list[Opd]:
        """All (active) OPDs, PPID Utama last."""
        opds = [o for o in self.state.opds.values() if include_inactive or o.active]
        return sorted(opds, key=lambda o: (o.is_ppid_utama, o.code))

    def get(self, code: str) -> Opd | None:
        """One OPD by code."""
        return self.state.opds.get(code.upper())

    def upsert(self, opd: Opd, at: datetime) -> None:
        """Create or replace an OPD."""
        self.state.opds[opd.code] = opd
        self.state.opd_stamps[opd.code] = at


class FakeStaffRepository:
    """Registered people by Telegram id."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def by_telegram_id(self, telegram_id: int) -> Staff | None:
        """The person with this Telegram id."""
        return self.state.staff.get(telegram_id)

    def add(self, staff: Staff, at: datetime) -> Staff:
        """Register or update (keeping the id of an existing registration)."""
        existing = self.state.staff.get(staff.telegram_id)
        staff_id = existing.id if existing else self.state.next_id("staff")
        stored = dataclasses.replace(staff, id=staff_id)
        self.state.staff[staff.telegram_id] = stored
        return stored

    def remove(self, telegram_id: int) -> bool:
        """Unregister; True when someone was removed."""
        return self.state.staff.pop(telegram_id, None) is not None

    def all(self) -> list[Staff]:
        """Everyone, ordered like the SQL repository."""
        return sorted(self.state.staff.values(),
                      key=lambda s: (s.role.value, s.opd_code or "", s.name))

    def for_opd(self, opd_code: str) -> list[Staff]:
        """Staff of one OPD."""
        return [s for s in self.state.staff.values() if s.opd_code == opd_code]


class FakeCitizenRepository:
    """Citizens by channel identity."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def get_or_create(self, channel: str, external_id: str, display_name: str | None,
                      at: datetime) -> Citizen:
        """Find by (channel, external id) or create; writing again clears ``blocked_at``."""
        for citizen in self.state.citizens.values():
            if citizen.channel == channel and citizen.external_id == external_id:
                assert citizen.id is not None
                updated = dataclasses.replace(
                    citizen, display_name=display_name or citizen.display_name,
                    blocked_at=None)
                self.state.citizens[citizen.id] = updated
                return updated
        citizen = Citizen(channel, external_id, display_name, id=self.state.next_id("citizen"))
        assert citizen.id is not None
        self.state.citizens[citizen.id] = citizen
        return citizen

    def get(self, citizen_id: int) -> Citizen | None:
        """A citizen by id."""
        return self.state.citizens.get(citizen_id)

    def mark_blocked(self, citizen_id: int, at: datetime) -> None:
        """Remember that messages to this citizen cannot be delivered."""
        citizen = self.state.citizens.get(citizen_id)
        if citizen is not None:
            self.state.citizens[citizen_id] = dataclasses.replace(citizen, blocked_at=at)

    def erase(self, citizen_id: int, at: datetime) -> None:
        """Drop the citizen's identity: no name, and a chat id nobody can be reached by."""
        citizen = self.state.citizens.get(citizen_id)
        if citizen is not None:
            self.state.citizens[citizen_id] = dataclasses.replace(
                citizen, display_name=None, external_id=f"erased-{citizen_id}")


class FakeFaqRepository:
    """FAQ entries by id."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def upsert_many(self, entries: Iterable[FaqEntry], at: datetime,
                    sample: bool = False) -> tuple[int, int]:
        """Insert or update by id; return (created, updated)."""
        created = updated = 0
        for entry in entries:
            if entry.id in self.state.faqs:
                updated += 1
            else:
                created += 1
            self.state.faqs[entry.id] = entry
            self.state.faq_stamps[entry.id] = at
            if sample:
                self.state.faq_samples.add(entry.id)
            else:
                self.state.faq_samples.discard(entry.id)
        return created, updated

    def remove_samples(self) -> int:
        """Delete the demo entries; return how many."""
        removed = len(self.state.faq_samples)
        for faq_id in self.state.faq_samples:
            self.state.faqs.pop(faq_id, None)
            self.state.faq_stamps.pop(faq_id, None)
        self.state.faq_samples.clear()
        return removed

    def all(self, opd_code: str | None = None) -> list[FaqEntry]:
        """Entries (optionally of one OPD), by id."""
        return sorted((e for e in self.state.faqs.values() if not opd_code or e.opd == opd_code),
                      key=lambda e: e.id)

    def get(self, faq_id: str) -> FaqEntry | None:
        """One entry."""
        return self.state.faqs.get(faq_id)

    def count(self) -> int:
        """How many entries exist."""
        return len(self.state.faqs)

    def stamp(self) -> str:
        """Changes whenever FAQs or OPDs change."""
        faq = max(self.state.faq_stamps.values(), default=None)
        opd = max(self.state.opd_stamps.values(), default=None)
        return f"{len(self.state.faqs)}|{faq}|{len(self.state.opds)}|{opd}"


class FakeLinkRepository:
    """Relay links."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add(self, link: MessageLink, at: datetime) -> None:
        """Remember that a chat message belongs to a ticket."""
        self.state.links.append(link)

    def find(self, channel: str, chat_id: int, message_id: int) -> MessageLink | None:
        """The link of a chat message, if any."""
        return next((lk for lk in self.state.links
                     if (lk.channel, lk.chat_id, lk.message_id) == (channel, chat_id, message_id)),
                    None)

    def for_ticket(self, ticket_id: int, purpose: str | None = None) -> list[MessageLink]:
        """All links of a ticket (optionally one purpose)."""
        return [lk for lk in self.state.links
                if lk.ticket_id == ticket_id and (purpose is None or lk.purpose == purpose)]

    def delete_for_ticket(self, ticket_id: int, purpose: str) -> int:
        """Forget the links of one purpose of a ticket; return how many."""
        kept = [lk for lk in self.state.links
                if not (lk.ticket_id == ticket_id and lk.purpose == purpose)]
        removed = len(self.state.links) - len(kept)
        self.state.links = kept
        return removed


class FakeDraftRepository:
    """Drafts, one per chat."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def get(self, channel: str, chat_id: int) -> Draft | None:
        """A copy of the chat's draft."""
        draft = self.state.drafts.get((channel, chat_id))
        return copy.deepcopy(draft) if draft else None

    def put(self, draft: Draft, at: datetime) -> None:
        """Create or replace a chat's draft."""
        self.state.drafts[(draft.channel, draft.chat_id)] = copy.deepcopy(draft)

    def delete(self, channel: str, chat_id: int) -> None:
        """Forget a chat's draft."""
        self.state.drafts.pop((channel, chat_id), None)


class FakeOutbox:
    """Queued messages, in order."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add(self, message: Outgoing, at: datetime) -> int:
        """Queue a message; returns its id."""
        outbox_id = self.state.next_id("outbox")
        self.state.outbox.append((outbox_id, message, at))
        return outbox_id

    def forget_delivered(self, *, chat: tuple[str, int] | None,
                         ticket_ids: Sequence[int]) -> int:
        """Nothing is ever delivered here: record what was asked to be forgotten."""
        self.state.forgotten.append((chat, tuple(ticket_ids)))
        return 0

    @property
    def messages(self) -> list[Outgoing]:
        """Everything queued so far."""
        return [m for _, m, _ in self.state.outbox]

    def to(self, chat_id: int) -> list[Outgoing]:
        """Messages queued for one chat."""
        return [m for m in self.messages if m.chat_id == chat_id]


class FakeUpdateLog:
    """Processed inbound update ids."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def claim(self, channel: str, update_id: int, at: datetime) -> bool:
        """True the first time; False for a redelivery."""
        key = (channel, update_id)
        if key in self.state.updates:
            return False
        self.state.updates.add(key)
        return True


class FakeUnitOfWork:
    """All fake repositories over one FakeState; rolls back unless committed.

    Entering snapshots the state; ``commit()`` makes the current state the new snapshot;
    leaving (or ``rollback()``) restores the last snapshot. Share one FakeState between
    several units of work to model one database.
    """

    def __init__(self, state: FakeState | None = None) -> None:
        self.state = state if state is not None else FakeState()
        self.tickets = FakeTicketRepository(self.state)
        self.opds = FakeOpdRepository(self.state)
        self.staff = FakeStaffRepository(self.state)
        self.citizens = FakeCitizenRepository(self.state)
        self.faqs = FakeFaqRepository(self.state)
        self.links = FakeLinkRepository(self.state)
        self.drafts = FakeDraftRepository(self.state)
        self.outbox = FakeOutbox(self.state)
        self.updates = FakeUpdateLog(self.state)
        self.committed = False
        self._snapshot: dict[str, Any] | None = None

    def __enter__(self) -> Self:
        self.committed = False
        self._snapshot = copy.deepcopy(vars(self.state))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.rollback()
        self._snapshot = None

    def commit(self) -> None:
        """Keep the changes made so far."""
        self.committed = True
        self._snapshot = copy.deepcopy(vars(self.state))

    def rollback(self) -> None:
        """Throw away what was not committed (in place: repositories keep their state)."""
        if self._snapshot is not None:
            vars(self.state).update(copy.deepcopy(self._snapshot))
