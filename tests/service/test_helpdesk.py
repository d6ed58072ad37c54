"""Use cases of routing.services.Helpdesk over in-memory fakes: effects, outbox and policy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bot.render import Renderer, html_to_plain
from routing.errors import (
    InvalidTransition,
    NotAllowed,
    TicketNotFound,
    UnknownOpd,
    ValidationFailed,
)
from routing.outbox import Outgoing, Priority
from routing.people import Citizen, Role
from routing.policy import Principal, PrincipalKind
from routing.tickets import Ticket, TicketKind, TicketState
from tests.builders import BAPENDA_CHAT, DISHUB_CHAT, PPID_CHAT
from tests.service.conftest import Desk

CITIZEN_CHAT = 5001


@pytest.fixture
def citizen(desk: Desk) -> Citizen:
    return desk.citizen(CITIZEN_CHAT, "Siti Aminah")


@pytest.fixture
def bapenda(desk: Desk) -> Principal:
    return desk.staff(201, "BAPENDA", name="Budi")


@pytest.fixture
def dishub(desk: Desk) -> Principal:
    return desk.staff(202, "DISHUB", name="Dewi")


def open_ticket(desk: Desk, citizen: Citizen, text: str = "Jalan provinsi di km 12 rusak",
                **kwargs: Any) -> Ticket:
    kwargs.setdefault("opd_code", "BAPENDA")
    return desk.run(desk.helpdesk.open_ticket, citizen=citizen, text=text, **kwargs).ticket


def stored(desk: Desk, ticket: Ticket) -> Ticket:
    with desk.uow() as uow:
        found = uow.tickets.get(ticket.id or 0)
    assert found is not None
    return found


def render(desk: Desk, message: Outgoing) -> str:
    renderer = Renderer(desk.config.province.timezone, desk.config.province.name)
    return html_to_plain(renderer.render(message.template, message.context))


def button_data(message: Outgoing) -> list[list[str]]:
    return [[b.data for b in row] for row in message.buttons]


# -- opening ---------------------------------------------------------------------------------

def test_opening_a_ticket_queues_its_card_to_the_opd_queue_chat(desk: Desk,
                                                                citizen: Citizen) -> None:
    ticket = open_ticket(desk, citizen, opd_code="bapenda")
    assert ticket.reference == "PPID-2026-000001"
    assert (ticket.state, ticket.opd_code, ticket.created_at) == (
        TicketState.OPEN, "BAPENDA", desk.clock())
    assert ticket.tier == "sedang"  # a complaint without a tier gets the default
    [card] = desk.outbox
    assert (card.channel, card.chat_id, card.template) == (
        "telegram", BAPENDA_CHAT, "staff/ticket_card")
    assert (card.ticket_id, card.link_purpose, card.priority) == (
        ticket.id, "card", Priority.CARD)
    tid = ticket.id
    assert button_data(card) == [[f"t:{tid}:claim", f"t:{tid}:xfer"],
                                 [f"t:{tid}:wait", f"t:{tid}:close"]]
    assert card.context["citizen_name"] == "Siti Aminah"
    assert "PPID-2026-000001" in render(desk, card)


def test_references_count_up_per_year(desk: Desk, citizen: Citizen) -> None:
    refs = [open_ticket(desk, citizen).reference for _ in range(2)]
    desk.clock.set(desk.clock().replace(year=2027, month=1, day=4))
    refs.append(open_ticket(desk, citizen).reference)
    assert refs == ["PPID-2026-000001", "PPID-2026-000002", "PPID-2027-000001"]


def test_opening_records_the_audit_event(desk: Desk, citizen: Citizen) -> None:
    ticket = open_ticket(desk, citizen, kind=TicketKind.INFORMASI)
    with desk.uow() as uow:
        [event] = uow.tickets.events(ticket.id or 0)
    assert (event["type"], event["actor_kind"], event["to_state"]) == (
        "opened", "citizen", "open")


def test_a_ticket_for_an_unknown_opd_is_refused(desk: Desk, citizen: Citizen) -> None:
    with pytest.raises(UnknownOpd):
        open_ticket(desk, citizen, opd_code="DISPAR")
    assert desk.outbox == []
    assert desk.state.tickets == {}


def test_an_empty_question_is_refused(desk: Desk, citizen: Citizen) -> None:
    with pytest.raises(ValidationFailed):
        open_ticket(desk, citizen, text="   ")


def test_overlong_text_is_cut_to_the_configured_limit(desk: Desk, citizen: Citizen) -> None:
    ticket = open_ticket(desk, citizen, text="a" * 5000)
    assert len(ticket.text) == desk.config.tickets.max_text_chars


def test_evidence_follows_the_card_to_the_queue(desk: Desk, citizen: Citizen) -> None:
    photo = {"kind": "photo", "file_id": "AgAD-photo", "caption": "lubang"}
    ticket = open_ticket(desk, citizen, attachments=[photo], anonymous=True)
    card, evidence = desk.sent_to(BAPENDA_CHAT)
    assert card.context["attachments"] == 1
    assert evidence.template == "staff/evidence"
    assert evidence.ticket_id == ticket.id
    assert evidence.attachment is not None
    assert evidence.attachment["file_id"] == "AgAD-photo"


# -- answering -------------------------------------------------------------------------------

def test_an_answer_is_relayed_to_the_citizen_and_stamps_the_first_response(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.clock.advance(hours=2)
    desk.run(desk.helpdesk.answer, bapenda, ticket.id, " Sudah kami jadwalkan perbaikan. ")
    [relay] = desk.sent_to(CITIZEN_CHAT)
    assert (relay.channel, relay.template, relay.link_purpose, relay.ticket_id) == (
        "telegram", "citizen/staff_answer", "relay", ticket.id)
    assert relay.context["answer"] == "Sudah kami jadwalkan perbaikan."
    assert relay.context["opd_name"] == "Badan Pendapatan Daerah"
    after = stored(desk, ticket)
    assert after.state is TicketState.ANSWERED
    assert after.first_response_at == desk.clock()
    assert after.first_response_seconds == 2 * 3600  # Monday 09:00 to 11:00, office hours
    assert after.claimed_by == bapenda.staff_id


def test_a_second_answer_does_not_restamp_the_first_response(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.clock.advance(hours=1)
    desk.run(desk.helpdesk.answer, bapenda, ticket.id, "Jawaban pertama")
    first_at = desk.clock()
    desk.clock.advance(hours=3)
    desk.run(desk.helpdesk.answer, bapenda, ticket.reference, "Tambahan")
    after = stored(desk, ticket)
    assert after.first_response_at == first_at
    assert after.first_response_seconds == 3600
    assert after.last_answer_at == desk.clock()
    assert [m.context["answer"] for m in desk.sent_to(CITIZEN_CHAT)] == [
        "Jawaban pertama", "Tambahan"]


def test_an_empty_answer_without_attachment_is_refused(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    with pytest.raises(ValidationFailed):
        desk.run(desk.helpdesk.answer, bapenda, ticket.id, "  ")
    assert stored(desk, ticket).first_response_at is None


def test_claiming_stamps_who_and_when(desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.clock.advance(minutes=15)
    view = desk.run(desk.helpdesk.claim, bapenda, ticket.id)
    assert view.ticket.state is TicketState.CLAIMED
    assert (view.ticket.claimed_by, view.ticket.claimed_at) == (bapenda.staff_id, desk.clock())
    with pytest.raises(InvalidTransition):
        desk.run(desk.helpdesk.claim, bapenda, ticket.id)


# -- transfer, wait, close -------------------------------------------------------------------

def test_a_transfer_queues_a_card_for_the_new_opd_and_tells_the_citizen(
        desk: Desk, citizen: Citizen, bapenda: Principal, dishub: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.clock.advance(hours=1)
    view = desk.run(desk.helpdesk.transfer, bapenda, ticket.id, "dishub", " bukan wewenang ")
    assert view.ticket.opd_code == "DISHUB"
    [card] = desk.sent_to(DISHUB_CHAT)
    assert card.template == "staff/ticket_card"
    assert (card.context["from_opd"], card.context["transfer_reason"]) == (
        "BAPENDA", "bukan wewenang")
    assert "dialihkan dari BAPENDA" in render(desk, card)
    [notice] = desk.sent_to(CITIZEN_CHAT)
    assert notice.template == "citizen/ticket_transferred"
    assert notice.context["opd_name"] == "Dinas Perhubungan"
    # The new queue may now act on it; the old one may not.
    desk.run(desk.helpdesk.answer, dishub, ticket.id, "Kami tangani.")
    with pytest.raises(NotAllowed):
        desk.run(desk.helpdesk.answer, bapenda, ticket.id, "Masih kami?")


def test_a_ticket_can_go_back_to_the_ppid_utama_desk(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.run(desk.helpdesk.transfer, bapenda, ticket.id, "PPID", "lintas OPD")
    assert [m.template for m in desk.sent_to(PPID_CHAT)] == ["staff/ticket_card"]


def test_waiting_tells_the_citizen_and_a_follow_up_resumes_the_clock(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.clock.advance(hours=1)
    desk.run(desk.helpdesk.wait_for_citizen, bapenda, ticket.id, "kirim foto STNK")
    [ask] = desk.sent_to(CITIZEN_CHAT)
    assert (ask.template, ask.context["reason"]) == ("citizen/ticket_waiting", "kirim foto STNK")
    desk.clock.advance(hours=3)
    desk.run(desk.helpdesk.citizen_follow_up, desk.principal_of(citizen), ticket.id,
             "ini fotonya, NIK 3201234567891234")
    after = stored(desk, ticket)
    assert after.state is TicketState.OPEN
    assert after.paused_seconds == 3 * 3600
    follow_up = desk.sent_to(BAPENDA_CHAT)[-1]
    assert follow_up.template == "staff/citizen_follow_up"
    assert follow_up.context["follow_up"] == "ini fotonya, NIK 32xxxxxxxxxx1234"


def test_an_unanswered_ticket_is_overdue_after_its_first_response_target(
        desk: Desk, citizen: Citizen) -> None:
    ticket = open_ticket(desk, citizen)
    desk.clock.advance(days=7)
    with desk.uow() as uow:
        assert desk.helpdesk.view(uow, stored(desk, ticket)).overdue


def test_a_ticket_waiting_for_the_citizen_is_not_overdue_while_its_clock_is_stopped(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.clock.advance(hours=1)
    desk.run(desk.helpdesk.wait_for_citizen, bapenda, ticket.id, "kirim foto STNK")
    desk.clock.advance(days=7)  # the citizen takes a week to reply
    supervisor = desk.staff(301, role=Role.SUPERVISOR)
    with desk.uow() as uow:
        assert not desk.helpdesk.view(uow, stored(desk, ticket)).overdue
        assert desk.helpdesk.overdue(uow, supervisor) == []


def test_closing_invites_the_citizen_to_rate_or_reopen(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.run(desk.helpdesk.answer, bapenda, ticket.id, "Selesai diperbaiki.")
    desk.clock.advance(hours=1)
    desk.run(desk.helpdesk.close, bapenda, ticket.id)
    closing = desk.sent_to(CITIZEN_CHAT)[-1]
    tid = ticket.id
    assert closing.template == "citizen/ticket_closed"
    assert button_data(closing) == [[f"r:{tid}:{n}" for n in range(1, 6)], [f"o:{tid}"]]
    assert closing.context["reopen_days"] == 14
    after = stored(desk, ticket)
    assert (after.state, after.closed_at) == (TicketState.CLOSED, desk.clock())


def test_the_citizen_rates_and_reopens_their_closed_ticket(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.run(desk.helpdesk.close, bapenda, ticket.id)
    me = desk.principal_of(citizen)
    assert desk.run(desk.helpdesk.rate, me, ticket.id, 4).ticket.rating == 4
    desk.clock.advance(days=2)
    view = desk.run(desk.helpdesk.reopen, me, ticket.id, "masih rusak")
    assert view.ticket.state is TicketState.OPEN
    card = desk.sent_to(BAPENDA_CHAT)[-1]
    assert (card.template, card.context["transfer_reason"]) == ("staff/ticket_card",
                                                                "masih rusak")


def test_only_information_requests_can_be_extended(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    complaint = open_ticket(desk, citizen)
    with pytest.raises(ValidationFailed):
        desk.run(desk.helpdesk.extend, bapenda, complaint.id, "dokumen banyak")
    request = open_ticket(desk, citizen, kind=TicketKind.INFORMASI)
    before = desk.helpdesk.view(desk.uow(), stored(desk, request)).deadlines.legal
    view = desk.run(desk.helpdesk.extend, bapenda, request.id, "dokumen banyak")
    assert view.deadlines.legal is not None
    assert before is not None
    assert view.deadlines.legal > before
    assert desk.sent_to(CITIZEN_CHAT)[-1].template == "citizen/ticket_extended"


# -- policy ----------------------------------------------------------------------------------

STAFF_ACTIONS: dict[str, Callable[[Desk, Any, Principal, int], object]] = {
    "answer": lambda d, u, p, t: d.helpdesk.answer(u, p, t, "jawaban"),
    "claim": lambda d, u, p, t: d.helpdesk.claim(u, p, t),
    "transfer": lambda d, u, p, t: d.helpdesk.transfer(u, p, t, "DINSOS", "x"),
    "close": lambda d, u, p, t: d.helpdesk.close(u, p, t),
    "reject": lambda d, u, p, t: d.helpdesk.reject(u, p, t, "spam"),
    "wait": lambda d, u, p, t: d.helpdesk.wait_for_citizen(u, p, t, "x"),
    "extend": lambda d, u, p, t: d.helpdesk.extend(u, p, t, "x"),
}
OUTSIDERS: dict[str, Callable[[Desk, Citizen], Principal]] = {
    "staff of another OPD": lambda d, c: d.staff(202, "DISHUB"),
    "supervisor": lambda d, c: d.staff(301, role=Role.SUPERVISOR),
    "unregistered person": lambda d, c: Principal(PrincipalKind.ANONYMOUS),
    "the ticket's own citizen": lambda d, c: d.principal_of(c),
}


@pytest.mark.parametrize("who", sorted(OUTSIDERS))
@pytest.mark.parametrize("action", sorted(STAFF_ACTIONS))
def test_policy_refusals_raise_not_allowed_and_change_nothing(
        desk: Desk, citizen: Citizen, action: str, who: str) -> None:
    ticket = open_ticket(desk, citizen, kind=TicketKind.INFORMASI)
    principal = OUTSIDERS[who](desk, citizen)
    with desk.uow() as uow:
        before_ticket, before_events = uow.tickets.get(ticket.id or 0), uow.tickets.events(
            ticket.id or 0)
        before_outbox = list(uow.outbox.messages)
        with pytest.raises(NotAllowed):
            STAFF_ACTIONS[action](desk, uow, principal, ticket.id or 0)
        # Nothing changed even inside the refused unit of work, before any rollback.
        assert uow.tickets.get(ticket.id or 0) == before_ticket
        assert uow.tickets.events(ticket.id or 0) == before_events
        assert uow.outbox.messages == before_outbox


def test_a_citizen_cannot_see_another_citizens_ticket(desk: Desk, citizen: Citizen) -> None:
    ticket = open_ticket(desk, citizen)
    stranger = desk.principal_of(desk.citizen(5002, "Orang Lain"))
    with desk.uow() as uow:
        for ref in (ticket.id, ticket.reference, ticket.reference.lower()):
            with pytest.raises(TicketNotFound):
                desk.helpdesk.show_ticket(uow, stranger, ref)
        with pytest.raises(TicketNotFound):
            desk.helpdesk.citizen_follow_up(uow, stranger, ticket.id or 0, "halo")
        assert desk.helpdesk.citizen_tickets(uow, stranger) == []
        mine = desk.helpdesk.citizen_tickets(uow, desk.principal_of(citizen))
        assert [v.ticket.reference for v in mine] == [ticket.reference]


def test_a_citizen_cannot_rate_or_reopen_another_citizens_ticket(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    desk.run(desk.helpdesk.close, bapenda, ticket.id)
    stranger = desk.principal_of(desk.citizen(5002, "Orang Lain"))
    with pytest.raises(TicketNotFound):
        desk.run(desk.helpdesk.rate, stranger, ticket.id, 1)
    with pytest.raises(TicketNotFound):
        desk.run(desk.helpdesk.reopen, stranger, ticket.id)
    after = stored(desk, ticket)
    assert (after.rating, after.state) == (None, TicketState.CLOSED)


def test_staff_of_another_opd_see_not_found_rather_than_the_ticket(
        desk: Desk, citizen: Citizen, dishub: Principal) -> None:
    ticket = open_ticket(desk, citizen)
    with desk.uow() as uow, pytest.raises(TicketNotFound):
        desk.helpdesk.show_ticket(uow, dishub, ticket.reference)


def test_ppid_utama_staff_see_every_ticket_to_forward_it(desk: Desk, citizen: Citizen) -> None:
    ppid = desk.staff(203, "PPID")
    ticket = open_ticket(desk, citizen)
    with desk.uow() as uow:
        assert desk.helpdesk.show_ticket(uow, ppid, ticket.reference).ticket.id == ticket.id


def test_a_role_change_applies_at_once(desk: Desk, citizen: Citizen) -> None:
    ticket = open_ticket(desk, citizen)
    outsider = desk.staff(204, "DISHUB")
    with pytest.raises(NotAllowed):
        desk.run(desk.helpdesk.claim, outsider, ticket.id)
    insider = desk.staff(204, "BAPENDA")  # re-registered for BAPENDA
    assert desk.run(desk.helpdesk.claim, insider, ticket.id).ticket.state is TicketState.CLAIMED


# -- personal data on staff screens ---------------------------------------------------------

def test_an_anonymous_ticket_card_has_no_citizen_name(desk: Desk, citizen: Citizen) -> None:
    open_ticket(desk, citizen, anonymous=True)
    [card] = desk.sent_to(BAPENDA_CHAT)
    assert card.context["citizen_name"] is None
    assert card.context["anonymous"] is True
    text = render(desk, card)
    assert "Siti" not in text
    assert "identitas dirahasiakan" in text


def test_the_card_text_masks_a_nik_and_a_phone_number(desk: Desk, citizen: Citizen) -> None:
    ticket = open_ticket(desk, citizen, text="KTP saya NIK 3201234567891234 belum jadi, "
                                             "hubungi 0812-3456-7890")
    [card] = desk.sent_to(BAPENDA_CHAT)
    text = render(desk, card)
    assert "32xxxxxxxxxx1234" in text
    assert "0812xxxxx890" in text
    assert "3201234567891234" not in text
    assert "3456-7890" not in text
    # The citizen's own ticket keeps their words.
    assert "3201234567891234" in stored(desk, ticket).text


# -- staff registration ------------------------------------------------------------------------

def test_staff_need_a_configured_opd(desk: Desk) -> None:
    with pytest.raises(ValidationFailed):
        desk.staff(401, None)
    with pytest.raises(UnknownOpd):
        desk.staff(401, "DISPAR")
    with pytest.raises(ValidationFailed):
        desk.staff(401, "DISHUB", name="  ")
    assert desk.state.staff == {}


def test_supervisors_and_admins_belong_to_no_opd(desk: Desk) -> None:
    supervisor = desk.staff(402, "DISHUB", role=Role.SUPERVISOR)
    assert (supervisor.kind, supervisor.opd_code) == (PrincipalKind.SUPERVISOR, None)


def test_the_queue_lists_active_tickets_due_first(
        desk: Desk, citizen: Citizen, bapenda: Principal) -> None:
    first = open_ticket(desk, citizen, kind=TicketKind.INFORMASI)
    desk.clock.advance(hours=1)
    second = open_ticket(desk, citizen)
    desk.clock.advance(hours=1)
    done = open_ticket(desk, citizen)
    desk.run(desk.helpdesk.close, bapenda, done.id)
    with desk.uow() as uow:
        queue = desk.helpdesk.queue(uow, bapenda, "BAPENDA")
    assert [v.ticket.id for v in queue] == [first.id, second.id]


def test_a_fake_unit_of_work_rolls_back_unless_committed(desk: Desk, citizen: Citizen) -> None:
    before = copy.deepcopy(desk.state)
    with desk.uow() as uow:
        desk.helpdesk.open_ticket(uow, citizen=citizen, text="Tidak jadi", opd_code="BAPENDA")
        assert uow.outbox.messages
    assert desk.state == before


def test_only_admins_manage_staff_or_import_faq(desk: Desk, bapenda: Principal) -> None:
    supervisor = desk.staff(301, role=Role.SUPERVISOR, name="Sri")
    for principal in (bapenda, supervisor):
        with pytest.raises(NotAllowed):
            desk.run(desk.helpdesk.add_staff, telegram_id=999, name="X", role=Role.ADMIN,
                     opd_code=None, by=principal)
        with pytest.raises(NotAllowed):
            desk.run(desk.helpdesk.import_faq, [], by=principal)
        with pytest.raises(NotAllowed):
            desk.run(desk.helpdesk.remove_staff, 201, by=principal)
    admin = Principal(PrincipalKind.ADMIN, staff_id=1)
    desk.run(desk.helpdesk.add_staff, telegram_id=999, name="X", role=Role.ADMIN,
             opd_code=None, by=admin)
    with desk.uow() as uow:
        assert uow.staff.by_telegram_id(999) is not None


def test_erasure_forgets_what_was_delivered_to_the_citizen_and_about_their_tickets(
        desk: Desk, citizen: Citizen) -> None:
    first, second = open_ticket(desk, citizen), open_ticket(desk, citizen, "Lampu jalan mati")
    me = Principal(PrincipalKind.CITIZEN, citizen_id=citizen.id)
    desk.run(desk.helpdesk.erase_citizen, me, "[dihapus]")
    [(chat, ticket_ids)] = desk.state.forgotten
    assert chat == ("telegram", CITIZEN_CHAT)
    assert sorted(ticket_ids) == sorted((first.id, second.id))
