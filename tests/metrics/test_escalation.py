"""Escalation: reminders at the configured share, breach notices, a daily digest — once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from bot.scheduler import escalate_once
from bot.services import Services, build_services
from db.models import NotificationRow, OutboxRow
from routing.escalation import digest_due, due_notices
from routing.people import Role
from routing.policy import Principal, PrincipalKind
from routing.sla import SlaConfig
from routing.tickets import Actor, ActorKind, Ticket, TicketKind
from routing.worktime import WorkingCalendar
from tests.builders import BAPENDA_CHAT, MONDAY_9AM, WIB, FixedClock, build_config

SUPERVISOR_ID = 555


def _open(services: Services) -> Ticket:
    with services.uow() as uow:
        citizen = uow.citizens.get_or_create("telegram", "4242", "Warga", services.clock())
        view = services.helpdesk.open_ticket(uow, citizen=citizen, text="lampu jalan mati",
                                             opd_code="BAPENDA", kind=TicketKind.PENGADUAN)
        services.helpdesk.add_staff(uow, telegram_id=SUPERVISOR_ID, name="Sri",
                                    role=Role.SUPERVISOR, opd_code=None)
        uow.commit()
    return view.ticket


def _sent(services: Services, template: str, chat_id: int | None = None) -> int:
    with services.session_factory() as session:
        stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.template == template)
        if chat_id is not None:
            stmt = stmt.where(OutboxRow.chat_id == chat_id)
        return int(session.scalar(stmt) or 0)


def _after(services: Services, ticket: Ticket, share: float) -> datetime:
    """The instant a share of the first-response target has elapsed (plus a minute)."""
    cal = services.calendar
    target = services.config.sla.for_kind(ticket.kind).first_response_days
    return cal.add_working_seconds(ticket.created_at,
                                   share * target * cal.standard_day_seconds + 60)


@pytest.mark.db
def test_a_reminder_goes_to_the_opd_group_once_at_the_configured_share(
        services: Services, clock: FixedClock, engine: Engine) -> None:
    ticket = _open(services)
    clock.set(_after(services, ticket, 0.70))
    escalate_once(services)
    assert _sent(services, "staff/sla_reminder") == 0
    clock.set(_after(services, ticket, 0.75))
    escalate_once(services)
    escalate_once(services)  # the same runner again
    other = build_services(services.config, clock=clock, engine=engine)  # a second process
    escalate_once(other)
    assert _sent(services, "staff/sla_reminder", BAPENDA_CHAT) == 1


@pytest.mark.db
def test_a_breach_notifies_the_opd_group_and_the_supervisors_once(
        services: Services, clock: FixedClock) -> None:
    ticket = _open(services)
    clock.set(_after(services, ticket, 1.0))
    for _ in range(3):
        escalate_once(services)
    assert _sent(services, "staff/sla_breach", BAPENDA_CHAT) == 1
    assert _sent(services, "supervisor/sla_breach", SUPERVISOR_ID) == 1
    assert _sent(services, "staff/sla_reminder") == 0  # past 100 %: only the breach


@pytest.mark.db
def test_an_answered_ticket_gets_no_first_response_notice(
        services: Services, clock: FixedClock) -> None:
    ticket = _open(services)
    assert ticket.id is not None
    with services.uow() as uow:
        staff = services.helpdesk.add_staff(uow, telegram_id=77, name="Ani", role=Role.STAFF,
                                            opd_code="BAPENDA")
        principal = Principal(PrincipalKind.STAFF, opd_code="BAPENDA", staff_id=staff.id,
                              name="Ani")
        services.helpdesk.answer(uow, principal, ticket.id, "sedang kami cek")
        uow.commit()
    clock.set(_after(services, ticket, 1.0))
    escalate_once(services)
    assert _sent(services, "staff/sla_breach") == 0


@pytest.mark.db
def test_concurrent_runners_send_each_notice_exactly_once(
        services: Services, clock: FixedClock, engine: Engine) -> None:
    ticket = _open(services)
    clock.set(_after(services, ticket, 1.0))
    runners = [build_services(services.config, clock=clock, engine=engine) for _ in range(3)]
    barrier = threading.Barrier(len(runners))
    errors: list[BaseException] = []

    def run(s: Services) -> None:
        try:
            barrier.wait()
            escalate_once(s)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert _sent(services, "staff/sla_breach", BAPENDA_CHAT) == 1
    assert _sent(services, "supervisor/sla_breach", SUPERVISOR_ID) == 1
    assert _sent(services, "supervisor/digest", SUPERVISOR_ID) == 1


@pytest.mark.db
def test_the_daily_digest_goes_to_supervisors_once_a_day_after_its_hour(
        db_url: str, clock: FixedClock, engine: Engine) -> None:
    config = build_config(db_url, report={"digest_time": "07:00"})
    services = build_services(config, clock=clock, engine=engine)
    _open(services)
    clock.set(datetime(2026, 11, 24, 6, 59, tzinfo=WIB))
    escalate_once(services)
    assert _sent(services, "supervisor/digest") == 0
    clock.set(datetime(2026, 11, 24, 7, 0, tzinfo=WIB))
    escalate_once(services)
    clock.advance(hours=5)
    escalate_once(services)  # later the same day, or after a restart: state is in the db
    assert _sent(services, "supervisor/digest", SUPERVISOR_ID) == 1
    clock.set(datetime(2026, 11, 25, 7, 30, tzinfo=WIB))
    escalate_once(services)
    assert _sent(services, "supervisor/digest", SUPERVISOR_ID) == 2
    with services.session_factory() as session:
        keys = set(session.scalars(select(NotificationRow.key)
                                   .where(NotificationRow.kind == "digest")))
    assert keys == {"digest:2026-11-24", "digest:2026-11-25"}
    services.dispose()


def test_a_waiting_ticket_gets_no_reminder_while_its_clock_is_paused(
        services_free_calendar: tuple[WorkingCalendar, SlaConfig]) -> None:
    calendar, sla = services_free_calendar
    ticket = Ticket.open(reference="T-1", kind=TicketKind.ASPIRASI, opd_code="DINSOS",
                         text="usul", citizen_id=None, at=MONDAY_9AM,
                         actor=Actor(ActorKind.CITIZEN))
    ticket.id = 1
    late = MONDAY_9AM + timedelta(days=14)
    assert {n.kind for n in due_notices([ticket], now=late, sla=sla, calendar=calendar,
                                        reminder_share=0.75)} == {"breach"}
    ticket.wait_for_citizen(MONDAY_9AM, Actor(ActorKind.STAFF, 1), "data kurang")
    assert due_notices([ticket], now=late, sla=sla, calendar=calendar,
                       reminder_share=0.75) == []


def test_no_digest_before_its_local_hour_or_when_switched_off() -> None:
    from datetime import time

    morning = datetime(2026, 11, 24, 6, 0, tzinfo=WIB)
    assert digest_due(morning, WIB, time(7, 0)) is None
    assert digest_due(morning + timedelta(hours=1), WIB, time(7, 0)) == morning.date()
    assert digest_due(morning + timedelta(hours=5), WIB, None) is None


@pytest.fixture
def services_free_calendar() -> tuple[WorkingCalendar, SlaConfig]:
    from bot.services import build_calendar

    config = build_config()
    return build_calendar(config), config.sla
