"""SQL repositories and unit of work (db.repositories) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from bot.services import Services
from db.models import OutboxRow, TicketRow
from faq.model import FaqEntry
from routing.outbox import Button, Outgoing, Priority
from routing.people import Citizen, Draft, MessageLink, Role, Staff
from routing.policy import PrincipalKind
from routing.ports import UnitOfWork
from routing.tickets import Actor, ActorKind, Ticket, TicketKind, TicketState
from tests.builders import BAPENDA_CHAT, FixedClock

pytestmark = pytest.mark.db


def make_citizen(services: Services, chat_id: int = 5001, name: str = "Siti") -> Citizen:
    with services.uow() as uow:
        citizen = uow.citizens.get_or_create("telegram", str(chat_id), name, services.clock())
        uow.commit()
    return citizen


def open_ticket(services: Services, citizen: Citizen, **kwargs: object) -> Ticket:
    with services.uow() as uow:
        view = services.helpdesk.open_ticket(uow, citizen=citizen, text="Jalan rusak di km 12",
                                             opd_code="BAPENDA", **kwargs)  # type: ignore[arg-type]
        uow.commit()
    return view.ticket


def reload(services: Services, ticket_id: int) -> Ticket:
    with services.uow() as uow:
        ticket = uow.tickets.get(ticket_id)
    assert ticket is not None
    return ticket


def test_a_ticket_round_trips_with_its_assignments_and_events(
        services: Services, clock: FixedClock) -> None:
    citizen = make_citizen(services)
    ticket = open_ticket(services, citizen, kind=TicketKind.INFORMASI)
    assert ticket.id is not None
    staff = Actor(ActorKind.STAFF, None, "Budi")
    with services.uow() as uow:
        loaded = uow.tickets.get(ticket.id, for_update=True)
        assert loaded is not None
        clock.advance(hours=1)
        loaded.wait_for_citizen(clock(), staff, "kirim KTP")
        clock.advance(hours=2)
        loaded.transfer("DISHUB", "bukan wewenang", clock(), staff,
                        services.helpdesk.stopwatch)
        clock.advance(minutes=30)
        loaded.answer(clock(), staff, services.helpdesk.stopwatch)
        loaded.extend("dokumen banyak", clock(), staff)
        loaded.rate(5, clock(), Actor(ActorKind.CITIZEN, citizen.id))
        uow.tickets.save(loaded)
        uow.commit()

    again = reload(services, ticket.id)
    assert again == loaded  # every field, every assignment; timestamps as instants
    assert [(a.opd_code, a.held_seconds) for a in again.assignments] == [
        ("BAPENDA", 3600.0), ("DISHUB", None)]
    assert again.assignments[1].first_response_seconds == 1800
    assert again.paused_seconds == 2 * 3600
    with services.uow() as uow:
        events = uow.tickets.events(ticket.id)
    assert [(e["type"], e["opd_code"], e["from_state"], e["to_state"]) for e in events] == [
        ("opened", "BAPENDA", None, "open"),
        ("waiting", "BAPENDA", "open", "waiting"),
        ("transferred", "BAPENDA", "waiting", "open"),
        ("answered", "DISHUB", "open", "answered"),
        ("extended", "DISHUB", "answered", "answered"),
        ("rated", "DISHUB", "answered", "answered"),
    ]
    assert events[2]["data"] == {"from_opd": "BAPENDA", "to_opd": "DISHUB",
                                 "reason": "bukan wewenang", "held_seconds": 3600.0}
    assert events[0]["actor_kind"] == "citizen"
    assert events[0]["actor_id"] == citizen.id


def test_timestamps_come_back_aware_and_in_utc(services: Services, clock: FixedClock) -> None:
    ticket = open_ticket(services, make_citizen(services))
    again = reload(services, ticket.id or 0)
    assert again.created_at == clock()  # 09:00 WIB is 02:00 UTC
    assert again.created_at.tzinfo is UTC
    assert again.created_at.hour == 2
    assert again.assignments[0].entered_at.tzinfo is UTC
    with services.uow() as uow:
        [event] = uow.tickets.events(ticket.id or 0)
    assert event["at"].tzinfo is UTC


def test_a_naive_datetime_is_refused_by_the_database_layer(services: Services) -> None:
    with services.uow() as uow, pytest.raises(StatementError, match="naive"):
        uow.citizens.get_or_create("telegram", "1", "x", datetime(2026, 11, 23, 9))  # noqa: DTZ001


def test_find_filters_by_queue_state_and_citizen(services: Services, clock: FixedClock) -> None:
    siti, budi = make_citizen(services, 5001), make_citizen(services, 5002, "Budi")
    first = open_ticket(services, siti)
    clock.advance(minutes=1)
    second = open_ticket(services, budi)
    with services.uow() as uow:
        assert [t.id for t in uow.tickets.find(opd_code="BAPENDA")] == [first.id, second.id]
        assert uow.tickets.find(opd_code="DISHUB") == []
        assert [t.id for t in uow.tickets.find(citizen_id=budi.id)] == [second.id]
        assert [t.id for t in uow.tickets.find(states=[TicketState.OPEN], limit=1)] == [first.id]
        assert uow.tickets.find(states=[TicketState.CLOSED]) == []
        assert uow.tickets.by_reference(" ppid-2026-000002 ") == uow.tickets.get(second.id or 0)


def crash_after_adding(uow: UnitOfWork, staff: Staff, now: datetime) -> None:
    uow.staff.add(staff, now)
    raise RuntimeError("handler crashed")


def test_the_unit_of_work_rolls_back_unless_committed(services: Services) -> None:
    now = services.clock()
    with services.uow() as uow:
        uow.staff.add(Staff(111, "Tidak jadi", Role.ADMIN), now)
    with services.uow() as uow:
        uow.staff.add(Staff(222, "Jadi", Role.ADMIN), now)
        uow.commit()
        uow.staff.add(Staff(333, "Sesudah commit", Role.ADMIN), now)
    with pytest.raises(RuntimeError), services.uow() as uow:
        crash_after_adding(uow, Staff(444, "Gagal", Role.ADMIN), now)
    with services.uow() as uow:
        assert [s.telegram_id for s in uow.staff.all()] == [222]


def test_explicit_rollback_discards_the_changes(services: Services) -> None:
    with services.uow() as uow:
        uow.staff.add(Staff(111, "x", Role.ADMIN), services.clock())
        uow.rollback()
        assert uow.staff.by_telegram_id(111) is None


def test_references_count_per_prefix_and_year(services: Services) -> None:
    with services.uow() as uow:
        refs = [uow.tickets.next_reference("PPID", 2026) for _ in range(2)]
        refs.append(uow.tickets.next_reference("PPID", 2027))
        refs.append(uow.tickets.next_reference("LAPOR", 2026))
        refs.append(uow.tickets.next_reference("PPID", 2026))
        uow.commit()
    assert refs == ["PPID-2026-000001", "PPID-2026-000002", "PPID-2027-000001",
                    "LAPOR-2026-000001", "PPID-2026-000003"]


def test_tickets_get_consecutive_references_and_a_rolled_back_one_leaves_no_gap(
        services: Services) -> None:
    citizen = make_citizen(services)
    assert open_ticket(services, citizen).reference == "PPID-2026-000001"
    with services.uow() as uow:  # opened, then rolled back
        services.helpdesk.open_ticket(uow, citizen=citizen, text="x", opd_code="DISHUB")
    assert open_ticket(services, citizen).reference == "PPID-2026-000002"


def test_the_update_log_claims_an_update_once(services: Services) -> None:
    now = services.clock()
    with services.uow() as uow:
        assert uow.updates.claim("telegram", 1001, now) is True
        assert uow.updates.claim("telegram", 1001, now) is False
        uow.commit()
    with services.uow() as uow:
        assert uow.updates.claim("telegram", 1001, now) is False  # redelivery
        assert uow.updates.claim("console", 1001, now) is True  # another channel
        assert uow.updates.claim("telegram", 1002, now) is True


def test_an_update_whose_handling_rolled_back_can_be_claimed_again(services: Services) -> None:
    now = services.clock()
    with services.uow() as uow:
        assert uow.updates.claim("telegram", 7, now)
    with services.uow() as uow:
        assert uow.updates.claim("telegram", 7, now)


def test_the_outbox_stores_a_pending_message(services: Services) -> None:
    message = Outgoing(channel="telegram", chat_id=BAPENDA_CHAT, template="staff/ticket_card",
                       context={"reference": "PPID-2026-000001", "n": 1},
                       buttons=((Button("claim", "t:1:claim"),),
                                (Button("star", "r:1:5", {"n": 5}),)),
                       link_purpose="card", priority=Priority.CARD)
    with services.uow() as uow:
        first = uow.outbox.add(message, services.clock())
        second = uow.outbox.add(message, services.clock())
        uow.commit()
    assert second == first + 1
    with services.session_factory() as session:
        row = session.get(OutboxRow, first)
        assert row is not None
        assert (row.state, row.attempts, row.priority) == ("pending", 0, int(Priority.CARD))
        assert row.available_at == services.clock()
        assert row.context == {"reference": "PPID-2026-000001", "n": 1}
        assert row.keyboard == {"rows": [[{"label": "claim", "data": "t:1:claim", "params": {}}],
                                         [{"label": "star", "data": "r:1:5",
                                           "params": {"n": 5}}]]}


def test_faq_upsert_counts_new_and_updated_and_remove_samples_keeps_real_entries(
        services: Services, clock: FixedClock) -> None:
    sample = FaqEntry("sample-1", "BAPENDA", "Contoh?", "Contoh.", ("v",), ("k",))
    real = FaqEntry("bapenda-001", "BAPENDA", "Bayar PKB?", "Di Samsat.", ("Pajak motor?",),
                    ("PKB", "pajak"))
    with services.uow() as uow:
        stamp = uow.faqs.stamp()
        assert uow.faqs.upsert_many([sample], clock(), sample=True) == (1, 0)
        assert uow.faqs.upsert_many([real], clock()) == (1, 0)
        uow.commit()
    clock.advance(minutes=1)
    changed = FaqEntry("bapenda-001", "BAPENDA", "Bayar PKB?", "Di Samsat atau e-Samsat.")
    with services.uow() as uow:
        assert uow.faqs.stamp() != stamp
        assert uow.faqs.upsert_many([changed], clock()) == (0, 1)
        assert uow.faqs.remove_samples() == 1
        uow.commit()
    with services.uow() as uow:
        assert uow.faqs.count() == 1
        assert uow.faqs.get("sample-1") is None
        assert uow.faqs.get("bapenda-001") == changed
        assert uow.faqs.all("BAPENDA") == [changed]
        assert uow.faqs.all("DISHUB") == []


def test_faq_lists_round_trip(services: Services) -> None:
    entry = FaqEntry("dishub-1", "DISHUB", "Jadwal bus?", "Lihat aplikasi.",
                     ("Kapan bus berangkat?", "Jam bus?"), ("bus", "AKDP"))
    with services.uow() as uow:
        uow.faqs.upsert_many([entry], services.clock())
        uow.commit()
    with services.uow() as uow:
        assert uow.faqs.all() == [entry]


def test_staff_added_or_removed_is_visible_at_once(services: Services) -> None:
    helpdesk = services.helpdesk
    with services.uow() as uow:
        helpdesk.add_staff(uow, telegram_id=777, name="Budi", role=Role.STAFF,
                           opd_code="bapenda")
        uow.commit()
    with services.uow() as uow:
        principal = helpdesk.principal(uow, 777)
        assert (principal.kind, principal.opd_code, principal.name) == (
            PrincipalKind.STAFF, "BAPENDA", "Budi")
        staff_id = principal.staff_id
    with services.uow() as uow:  # registering again changes the role, keeps the person
        helpdesk.add_staff(uow, telegram_id=777, name="Budi", role=Role.SUPERVISOR,
                           opd_code=None)
        uow.commit()
    with services.uow() as uow:
        principal = helpdesk.principal(uow, 777)
        assert (principal.kind, principal.staff_id) == (PrincipalKind.SUPERVISOR, staff_id)
        assert uow.staff.remove(777) is True
        assert uow.staff.remove(777) is False
        uow.commit()
    with services.uow() as uow:
        assert helpdesk.principal(uow, 777).kind is PrincipalKind.ANONYMOUS
        assert uow.staff.all() == []


def test_removing_staff_who_claimed_a_ticket_keeps_the_ticket(services: Services) -> None:
    ticket = open_ticket(services, make_citizen(services))
    with services.uow() as uow:
        services.helpdesk.add_staff(uow, telegram_id=777, name="Budi", role=Role.STAFF,
                                    opd_code="BAPENDA")
        uow.commit()
    with services.uow() as uow:
        services.helpdesk.claim(uow, services.helpdesk.principal(uow, 777), ticket.id or 0)
        uow.commit()
    with services.uow() as uow:
        assert uow.staff.remove(777)
        uow.commit()
    again = reload(services, ticket.id or 0)
    assert (again.state, again.claimed_by) == (TicketState.CLAIMED, None)


def test_citizens_are_found_by_channel_identity(services: Services, clock: FixedClock) -> None:
    first = make_citizen(services, 5001, "Siti")
    with services.uow() as uow:
        uow.citizens.mark_blocked(first.id or 0, clock())
        uow.commit()
    with services.uow() as uow:
        assert uow.citizens.get(first.id or 0) == Citizen(
            "telegram", "5001", "Siti", first.id, blocked_at=clock())
    again = make_citizen(services, 5001, "Siti Aminah")
    assert again.id == first.id
    assert (again.display_name, again.blocked_at) == ("Siti Aminah", None)
    assert make_citizen(services, 5002).id != first.id


def test_links_and_drafts_round_trip(services: Services) -> None:
    ticket = open_ticket(services, make_citizen(services))
    tid = ticket.id or 0
    now = services.clock()
    with services.uow() as uow:
        uow.links.add(MessageLink("telegram", BAPENDA_CHAT, 42, tid, "card"), now)
        uow.links.add(MessageLink("telegram", 5001, 43, tid, "relay"), now)
        uow.drafts.put(Draft("telegram", 5001, {"text": "halo", "attachments": []}), now)
        uow.commit()
    with services.uow() as uow:
        assert uow.links.find("telegram", BAPENDA_CHAT, 42) == MessageLink(
            "telegram", BAPENDA_CHAT, 42, tid, "card")
        assert uow.links.find("console", BAPENDA_CHAT, 42) is None
        assert [lk.message_id for lk in uow.links.for_ticket(tid)] == [42, 43]
        assert [lk.message_id for lk in uow.links.for_ticket(tid, "relay")] == [43]
        assert uow.drafts.get("telegram", 5001) == Draft(
            "telegram", 5001, {"text": "halo", "attachments": []})
        uow.drafts.put(Draft("telegram", 5001, {"text": "lain"}), now + timedelta(minutes=1))
        uow.commit()
    with services.uow() as uow:
        draft = uow.drafts.get("telegram", 5001)
        assert draft is not None
        assert draft.data == {"text": "lain"}
        uow.drafts.delete("telegram", 5001)
        uow.commit()
    with services.uow() as uow:
        assert uow.drafts.get("telegram", 5001) is None


def test_opds_are_mirrored_from_the_config(services: Services) -> None:
    with services.uow() as uow:
        opds = uow.opds.all()
        bapenda = uow.opds.get("bapenda")
    assert [o.code for o in opds] == ["BAPENDA", "DINSOS", "DISHUB", "PPID"]
    assert opds[-1].is_ppid_utama
    assert bapenda is not None
    assert (bapenda.name, bapenda.queue_chat_id) == ("Badan Pendapatan Daerah", BAPENDA_CHAT)


def test_ticket_rows_hold_one_row_per_ticket(services: Services) -> None:
    citizen = make_citizen(services)
    for _ in range(3):
        open_ticket(services, citizen)
    with services.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(TicketRow)) == 3
