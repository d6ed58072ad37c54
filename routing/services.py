"""Use cases: the only door into the domain.

Each method runs inside a unit of work handed in by the caller, so the effects of one inbound
message (ticket changes, audit events, outgoing messages, the processed-update mark) commit or
roll back together. Methods check the policy first and raise domain errors the channels turn
into polite replies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from faq.model import FaqEntry
from routing.errors import (
    InvalidTransition,
    NotAllowed,
    TicketNotFound,
    UnknownOpd,
    ValidationFailed,
)
from routing.outbox import Button, Outgoing, Priority
from routing.people import Citizen, MessageLink, Opd, Role, Staff
from routing.policy import OPERATOR, Action, Principal, PrincipalKind, authorize, is_allowed
from routing.ports import Clock, UnitOfWork
from routing.privacy import mask_personal_data
from routing.sla import Deadlines, SlaConfig, deadlines
from routing.tickets import (
    ACTIVE_STATES,
    Actor,
    ActorKind,
    Stopwatch,
    Ticket,
    TicketKind,
    TicketState,
)
from routing.worktime import WorkingCalendar


@dataclass(frozen=True)
class HelpdeskSettings:
    """The configuration the use cases need (a slice of the whole config)."""

    reference_prefix: str
    ppid_code: str
    reopen_days: int = 14
    max_text_chars: int = 4000
    max_attachments: int = 10
    staff_channel: str = "telegram"


@dataclass(frozen=True)
class TicketView:
    """A ticket with what every screen shows about it."""

    ticket: Ticket
    opd: Opd
    deadlines: Deadlines
    age_working_days: float
    overdue: bool

    def context(self, *, for_staff: bool = False) -> dict[str, Any]:
        """JSON-ready template context; staff see personal data masked."""
        t = self.ticket
        text = mask_personal_data(t.text) if for_staff else t.text
        return {
            "id": t.id, "reference": t.reference, "kind": t.kind.value,
            "tier": t.tier, "state": t.state.value,
            "opd_code": self.opd.code, "opd_name": self.opd.name, "text": text,
            "created_at": t.created_at.isoformat(),
            "first_response_due": self.deadlines.first_response.isoformat(),
            "resolution_due": self.deadlines.resolution.isoformat(),
            "legal_due": self.deadlines.legal.isoformat() if self.deadlines.legal else None,
            "age_working_days": round(self.age_working_days, 1),
            "overdue": self.overdue, "anonymous": t.anonymous,
            "confidential": t.confidential, "rating": t.rating,
            "answered": t.first_response_at is not None,
        }


class Helpdesk:
    """Citizen questions in, OPD answers out."""

    def __init__(self, *, clock: Clock, calendar: WorkingCalendar, sla: SlaConfig,
                 settings: HelpdeskSettings) -> None:
        self.clock = clock
        self.calendar = calendar
        self.sla = sla
        self.settings = settings

    # -- helpers --------------------------------------------------------------------------

    @property
    def stopwatch(self) -> Stopwatch:
        """Working seconds between two instants, on the province's calendar."""
        return self.calendar.working_seconds

    def now(self) -> datetime:
        """The injected clock's time, checked to be aware."""
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return now

    def view(self, uow: UnitOfWork, ticket: Ticket, now: datetime | None = None) -> TicketView:
        """Decorate a ticket with its OPD, deadlines, age and overdue flag."""
        now = now or self.now()
        opd = uow.opds.get(ticket.opd_code) or Opd(ticket.opd_code, ticket.opd_code)
        due = deadlines(ticket, self.sla, self.calendar)
        end = ticket.closed_at or now
        age = self.calendar.working_days_between(ticket.created_at, end)
        # A ticket waiting for the citizen has its clock stopped (as in routing.escalation).
        overdue = ticket.is_active and ticket.state is not TicketState.WAITING and (
            now > due.resolution
            or (ticket.first_response_at is None and now > due.first_response)
        )
        return TicketView(ticket, opd, due, age, overdue)

    def _opd(self, uow: UnitOfWork, code: str) -> Opd:
        opd = uow.opds.get(code.strip().upper())
        if opd is None or not opd.active:
            raise UnknownOpd(f"unknown OPD {code!r}")
        return opd

    def _ticket(self, uow: UnitOfWork, ticket_id: int | str, *, lock: bool = True) -> Ticket:
        ticket = (uow.tickets.get(ticket_id, for_update=lock) if isinstance(ticket_id, int)
                  else uow.tickets.by_reference(ticket_id, for_update=lock))
        if ticket is None:
            raise TicketNotFound(str(ticket_id))
        return ticket

    @staticmethod
    def _actor(principal: Principal) -> Actor:
        if principal.kind is PrincipalKind.CITIZEN:
            return Actor(ActorKind.CITIZEN, principal.citizen_id)
        return Actor(ActorKind.STAFF, principal.staff_id, principal.name)

    def principal(self, uow: UnitOfWork, telegram_id: int | None) -> Principal:
        """Who a chat user is: their registered role, or nobody (read fresh every time)."""
        if telegram_id is None:
            return Principal(PrincipalKind.ANONYMOUS)
        staff = uow.staff.by_telegram_id(telegram_id)
        if staff is None:
            return Principal(PrincipalKind.ANONYMOUS)
        return Principal.for_staff(staff, self.settings.ppid_code)

    def _citizen_of(self, uow: UnitOfWork, ticket: Ticket) -> Citizen | None:
        return uow.citizens.get(ticket.citizen_id) if ticket.citizen_id else None

    def _card(self, uow: UnitOfWork, view: TicketView, *, reason: str = "",
              from_opd: str | None = None) -> None:
        """Post the ticket card to the queue group of the OPD that holds it."""
        opd = view.opd
        ticket = view.ticket
        tid = ticket.id
        if opd.queue_chat_id is None or tid is None:
            return
        citizen = None if ticket.anonymous else self._citizen_of(uow, ticket)
        attachments = uow.tickets.attachments(tid)
        context = view.context(for_staff=True)
        context.update({
            "citizen_name": citizen.display_name if citizen else None,
            "attachments": len(attachments),
            "transfer_reason": reason, "from_opd": from_opd,
        })
        uow.outbox.add(Outgoing(
            channel=self.settings.staff_channel, chat_id=opd.queue_chat_id,
            template="staff/ticket_card",
            context=context, ticket_id=tid, link_purpose="card", priority=Priority.CARD,
            buttons=((Button("claim", f"t:{tid}:claim"), Button("transfer", f"t:{tid}:xfer")),
                     (Button("wait", f"t:{tid}:wait"), Button("close", f"t:{tid}:close"))),
        ), self.now())
        for attachment in attachments:
            if attachment.get("file_id") or attachment.get("latitude") is not None:
                uow.outbox.add(Outgoing(
                    channel=self.settings.staff_channel, chat_id=opd.queue_chat_id,
                    template="staff/evidence",
                    context={"reference": ticket.reference, "anonymous": ticket.anonymous},
                    # Anonymous reports: media is re-encoded without EXIF/GPS on the way.
                    attachment={**attachment, "strip_metadata": ticket.anonymous},
                    ticket_id=tid, link_purpose="card",
                    priority=Priority.CARD,
                ), self.now())

    def _tell_citizen(self, uow: UnitOfWork, ticket: Ticket, template: str,
                      context: dict[str, Any], *, buttons: tuple[tuple[Button, ...], ...] = (),
                      attachment: dict[str, Any] | None = None,
                      priority: Priority = Priority.RELAY, purpose: str | None = None) -> None:
        citizen = self._citizen_of(uow, ticket)
        if citizen is None or not citizen.external_id.lstrip("-").isdigit():
            return
        uow.outbox.add(Outgoing(
            channel=citizen.channel, chat_id=int(citizen.external_id), template=template,
            context=context, buttons=buttons, attachment=attachment, ticket_id=ticket.id,
            link_purpose=purpose, priority=priority,
        ), self.now())

    # -- citizens -------------------------------------------------------------------------

    def open_ticket(self, uow: UnitOfWork, *, citizen: Citizen, text: str, opd_code: str,
                    kind: TicketKind = TicketKind.PENGADUAN, tier: str | None = None,
                    anonymous: bool = False, confidential: bool = False,
                    attachments: Iterable[dict[str, Any]] = ()) -> TicketView:
        """Open a ticket in an OPD's queue and post its card there."""
        text = text.strip()
        if not text:
            raise ValidationFailed("empty question")
        text = text[: self.settings.max_text_chars]
        opd = self._opd(uow, opd_code)
        now = self.now()
        year = now.astimezone(self.calendar.tz).year
        reference = uow.tickets.next_reference(self.settings.reference_prefix, year)
        if kind is TicketKind.PENGADUAN and tier is None:
            tier = self.sla.default_complaint_tier
        ticket = Ticket.open(
            reference=reference, kind=kind, opd_code=opd.code, text=text,
            citizen_id=citizen.id, at=now, actor=Actor(ActorKind.CITIZEN, citizen.id),
            tier=tier, channel=citizen.channel, anonymous=anonymous, confidential=confidential,
        )
        uow.tickets.add(ticket)
        assert ticket.id is not None
        for attachment in list(attachments)[: self.settings.max_attachments]:
            uow.tickets.add_attachment(ticket.id, attachment, now)
        view = self.view(uow, ticket, now)
        self._card(uow, view)
        return view

    def citizen_tickets(self, uow: UnitOfWork, principal: Principal) -> list[TicketView]:
        """A citizen's own tickets, newest first."""
        if principal.kind is not PrincipalKind.CITIZEN or principal.citizen_id is None:
            raise NotAllowed("only citizens have their own tickets")
        now = self.now()
        tickets = uow.tickets.find(citizen_id=principal.citizen_id)
        return [self.view(uow, t, now) for t in reversed(tickets)]

    def show_ticket(self, uow: UnitOfWork, principal: Principal, ref: int | str) -> TicketView:
        """One ticket, if the principal may see it (others look exactly like 'not found')."""
        ticket = self._ticket(uow, ref, lock=False)
        if not is_allowed(principal, Action.VIEW_TICKET, ticket):
            raise TicketNotFound(str(ref))
        return self.view(uow, ticket)

    def rate(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str,
             rating: int) -> TicketView:
        """The citizen rates the answer 1–5."""
        ticket = self._ticket(uow, ticket_id)
        if not is_allowed(principal, Action.RATE, ticket):
            raise TicketNotFound(str(ticket_id))
        ticket.rate(rating, self.now(), self._actor(principal))
        uow.tickets.save(ticket)
        return self.view(uow, ticket)

    def reopen(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str,
               reason: str = "") -> TicketView:
        """The citizen reopens a closed ticket (within the configured days)."""
        ticket = self._ticket(uow, ticket_id)
        if not is_allowed(principal, Action.REOPEN, ticket):
            raise TicketNotFound(str(ticket_id))
        ticket.reopen(self.now(), self._actor(principal), self.settings.reopen_days, reason)
        uow.tickets.save(ticket)
        view = self.view(uow, ticket)
        self._card(uow, view, reason=reason or "dibuka kembali oleh warga")
        return view

    def citizen_follow_up(self, uow: UnitOfWork, principal: Principal, ticket_id: int,
                          text: str) -> TicketView:
        """A citizen adds information to a ticket; a waiting ticket resumes its clock."""
        ticket = self._ticket(uow, ticket_id)
        if not is_allowed(principal, Action.VIEW_TICKET, ticket) or not ticket.is_active:
            raise TicketNotFound(str(ticket_id))
        if ticket.state is TicketState.WAITING:
            ticket.resume(self.now(), self._actor(principal), self.stopwatch)
            uow.tickets.save(ticket)
        view = self.view(uow, ticket)
        if view.opd.queue_chat_id is not None and ticket.id is not None:
            uow.outbox.add(Outgoing(
                channel=self.settings.staff_channel, chat_id=view.opd.queue_chat_id,
                template="staff/citizen_follow_up",
                context={**view.context(for_staff=True),
                         "follow_up": mask_personal_data(text[: self.settings.max_text_chars])},
                ticket_id=ticket.id, link_purpose="card", priority=Priority.CARD,
            ), self.now())
        return view

    def erase_citizen(self, uow: UnitOfWork, principal: Principal, placeholder: str) -> int:
        """/hapusdata: anonymise every ticket of the citizen and drop their identity.

        Active tickets are closed by the system (nobody could receive the answer any more);
        kinds, OPDs and timestamps stay, so statistics remain correct without personal data.
        """
        if principal.kind is not PrincipalKind.CITIZEN or principal.citizen_id is None:
            raise NotAllowed("only citizens can erase their own data")
        now = self.now()
        tickets = uow.tickets.find(citizen_id=principal.citizen_id)
        citizen = uow.citizens.get(principal.citizen_id)
        chat = None
        if citizen is not None and citizen.external_id.lstrip("-").isdigit():
            chat = (citizen.channel, int(citizen.external_id))
        # What was already delivered to them or about their tickets goes too.
        uow.outbox.forget_delivered(chat=chat, ticket_ids=[t.id for t in tickets
                                                           if t.id is not None])
        for listed in tickets:
            assert listed.id is not None
            ticket = self._ticket(uow, listed.id)
            if ticket.is_active:
                ticket.close(now, Actor.system(), self.stopwatch, "erased on request")
            ticket.anonymise(now, "citizen request", placeholder)
            uow.tickets.save(ticket)
            uow.tickets.delete_attachments(listed.id)
            uow.links.delete_for_ticket(listed.id, "relay")
        uow.citizens.erase(principal.citizen_id, now)
        return len(tickets)

    def purge(self, uow: UnitOfWork, older_than_days: int, placeholder: str) -> int:
        """Anonymise closed tickets past the retention period; return how many."""
        cutoff = self.now() - timedelta(days=older_than_days)
        count = 0
        while True:
            batch = uow.tickets.closed_before(cutoff, limit=500)
            if not batch:
                return count
            for ticket in batch:
                assert ticket.id is not None
                ticket.anonymise(self.now(), "retention period", placeholder)
                uow.tickets.save(ticket)
                uow.tickets.delete_attachments(ticket.id)
                uow.links.delete_for_ticket(ticket.id, "relay")
                count += 1

    # -- staff ----------------------------------------------------------------------------

    def claim(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str) -> TicketView:
        """A staff member takes a ticket from the queue."""
        ticket = self._ticket(uow, ticket_id)
        authorize(principal, Action.CLAIM, ticket)
        assert principal.staff_id is not None
        ticket.claim(principal.staff_id, self.now(), self._actor(principal))
        uow.tickets.save(ticket)
        return self.view(uow, ticket)

    def answer(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str, text: str,
               attachment: dict[str, Any] | None = None) -> TicketView:
        """Relay a staff answer to the citizen; the first one stamps the first response."""
        ticket = self._ticket(uow, ticket_id)
        authorize(principal, Action.ANSWER, ticket)
        if not text.strip() and attachment is None:
            raise ValidationFailed("empty answer")
        ticket.answer(self.now(), self._actor(principal), self.stopwatch)
        uow.tickets.save(ticket)
        view = self.view(uow, ticket)
        self._tell_citizen(uow, ticket, "citizen/staff_answer",
                           {**view.context(), "answer": text.strip()}, attachment=attachment,
                           purpose="relay")
        return view

    def transfer(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str,
                 to_opd: str, reason: str) -> TicketView:
        """Hand the ticket to another OPD or back to PPID Utama ("bukan wewenang")."""
        ticket = self._ticket(uow, ticket_id)
        authorize(principal, Action.TRANSFER, ticket)
        target = self._opd(uow, to_opd)
        from_opd = ticket.opd_code
        ticket.transfer(target.code, reason.strip(), self.now(), self._actor(principal),
                        self.stopwatch)
        uow.tickets.save(ticket)
        view = self.view(uow, ticket)
        self._card(uow, view, reason=reason.strip(), from_opd=from_opd)
        self._tell_citizen(uow, ticket, "citizen/ticket_transferred", view.context())
        return view

    def close(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str,
              note: str = "") -> TicketView:
        """Close the ticket and invite the citizen to rate it."""
        ticket = self._ticket(uow, ticket_id)
        authorize(principal, Action.CLOSE, ticket)
        ticket.close(self.now(), self._actor(principal), self.stopwatch, note)
        uow.tickets.save(ticket)
        view = self.view(uow, ticket)
        tid = ticket.id
        stars = tuple(Button("star", f"r:{tid}:{n}", {"n": n}) for n in range(1, 6))
        self._tell_citizen(uow, ticket, "citizen/ticket_closed",
                           {**view.context(), "reopen_days": self.settings.reopen_days},
                           buttons=(stars, (Button("reopen", f"o:{tid}"),)))
        return view

    def reject(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str,
               reason: str) -> TicketView:
        """Reject a ticket as spam or abuse."""
        ticket = self._ticket(uow, ticket_id)
        authorize(principal, Action.REJECT, ticket)
        ticket.reject(reason, self.now(), self._actor(principal), self.stopwatch)
        uow.tickets.save(ticket)
        return self.view(uow, ticket)

    def wait_for_citizen(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str,
                         reason: str = "") -> TicketView:
        """Pause the clock and ask the citizen to complete the request."""
        ticket = self._ticket(uow, ticket_id)
        authorize(principal, Action.WAIT, ticket)
        ticket.wait_for_citizen(self.now(), self._actor(principal), reason)
        uow.tickets.save(ticket)
        view = self.view(uow, ticket)
        self._tell_citizen(uow, ticket, "citizen/ticket_waiting",
                           {**view.context(), "reason": reason})
        return view

    def extend(self, uow: UnitOfWork, principal: Principal, ticket_id: int | str,
               reason: str) -> TicketView:
        """Record the written reason for the +7 working-day extension of an information request."""
        ticket = self._ticket(uow, ticket_id)
        authorize(principal, Action.EXTEND, ticket)
        ticket.extend(reason, self.now(), self._actor(principal))
        uow.tickets.save(ticket)
        view = self.view(uow, ticket)
        self._tell_citizen(uow, ticket, "citizen/ticket_extended",
                           {**view.context(), "reason": reason})
        return view

    def queue(self, uow: UnitOfWork, principal: Principal, opd_code: str) -> list[TicketView]:
        """The open tickets of a queue, the one due first on top."""
        authorize(principal, Action.VIEW_QUEUE, opd_code=opd_code)
        now = self.now()
        views = [self.view(uow, t, now)
                 for t in uow.tickets.find(opd_code=opd_code, states=sorted(ACTIVE_STATES))]
        return sorted(views, key=lambda v: (
            v.deadlines.first_response if v.ticket.first_response_at is None
            else v.deadlines.resolution))

    def ticket_for_message(self, uow: UnitOfWork, channel: str, chat_id: int,
                           message_id: int) -> Ticket:
        """The ticket a chat message (a card, a relayed answer) belongs to."""
        link = uow.links.find(channel, chat_id, message_id)
        if link is None:
            raise TicketNotFound(f"message {message_id}")
        return self._ticket(uow, link.ticket_id, lock=False)

    def record_delivery(self, uow: UnitOfWork, link: MessageLink) -> None:
        """Remember which sent message belongs to which ticket (relay bookkeeping)."""
        uow.links.add(link, self.now())

    def record_delivery_failure(self, uow: UnitOfWork, ticket_id: int, reason: str) -> None:
        """The citizen could not be reached: note it on the ticket and on the citizen."""
        ticket = uow.tickets.get(ticket_id, for_update=True)
        if ticket is None:
            return
        now = self.now()
        ticket.record_delivery_failure(reason, now)
        uow.tickets.save(ticket)
        if ticket.citizen_id is not None:
            uow.citizens.mark_blocked(ticket.citizen_id, now)

    # -- supervisors ----------------------------------------------------------------------

    def overdue(self, uow: UnitOfWork, principal: Principal) -> list[TicketView]:
        """Every active ticket past a due time, most late first."""
        authorize(principal, Action.VIEW_SUMMARY)
        now = self.now()
        views = [self.view(uow, t, now) for t in uow.tickets.find(states=sorted(ACTIVE_STATES))]
        return sorted((v for v in views if v.overdue), key=lambda v: v.deadlines.resolution)

    # -- administration -------------------------------------------------------------------

    def add_staff(self, uow: UnitOfWork, *, telegram_id: int, name: str, role: Role,
                  opd_code: str | None, by: Principal = OPERATOR) -> Staff:
        """Register a staff member (effective immediately: roles are read on every action)."""
        authorize(by, Action.MANAGE_STAFF)
        if not name.strip():
            raise ValidationFailed("name must not be empty")
        if role is Role.STAFF:
            if not opd_code:
                raise ValidationFailed("staff need an OPD")
            opd_code = self._opd(uow, opd_code).code
        else:
            opd_code = None
        return uow.staff.add(Staff(telegram_id=telegram_id, name=name.strip(), role=role,
                                   opd_code=opd_code), self.now())

    def remove_staff(self, uow: UnitOfWork, telegram_id: int,
                     by: Principal = OPERATOR) -> bool:
        """Unregister a person; their next action is refused."""
        authorize(by, Action.MANAGE_STAFF)
        return uow.staff.remove(telegram_id)

    def import_faq(self, uow: UnitOfWork, entries: Sequence[FaqEntry],
                   opds: Sequence[Opd] = (), by: Principal = OPERATOR) -> tuple[int, int, int]:
        """Upsert OPD profiles and FAQ entries; real entries replace the demo samples.

        Returns (created, updated, samples removed). Validation (unknown OPD, duplicates,
        empty fields) happens before, in ``faq.loader``, so this never half-imports.
        """
        authorize(by, Action.IMPORT_FAQ)
        now = self.now()
        for opd in opds:
            uow.opds.upsert(opd, now)
        removed = uow.faqs.remove_samples() if entries else 0
        created, updated = uow.faqs.upsert_many(entries, now)
        return created, updated, removed


__all__ = ["Helpdesk", "HelpdeskSettings", "InvalidTransition", "TicketView"]
