"""SLA targets and due instants (routing.sla), counted in working time."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from routing.sla import KindSla, SlaConfig, deadlines
from routing.tickets import Actor, ActorKind, Ticket, TicketKind
from routing.worktime import DayHours, WeekHours, WorkingCalendar
from tests.builders import WIB

# A round office day (08:00-16:00, 8 h = one working day) keeps the expected instants obvious.
EIGHT_TO_FOUR = DayHours(time(8), time(16))
CALENDAR = WorkingCalendar(
    WIB, WeekHours((EIGHT_TO_FOUR,) * 5 + (None, None)),
    {date(2026, 12, 24): "Cuti Bersama Natal", date(2026, 12, 25): "Natal"},
    standard_day_seconds=8 * 3600,
)
SLA = SlaConfig(
    kinds={
        TicketKind.INFORMASI: KindSla(first_response_days=3, resolution_days=10, legal_days=10,
                                      extension_days=7),
        TicketKind.PENGADUAN: KindSla(first_response_days=3, resolution_days=14, legal_days=60),
        TicketKind.ASPIRASI: KindSla(first_response_days=3, resolution_days=14, legal_days=None),
    },
    complaint_tiers={"ringan": 5, "sedang": 14, "berat": 60},
    default_complaint_tier="sedang",
)
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)


def wib(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def ticket(kind: TicketKind, at: datetime = MONDAY, tier: str | None = None) -> Ticket:
    return Ticket.open(reference="PPID-2026-000001", kind=kind, opd_code="BAPENDA",
                       text="Mohon salinan data", citizen_id=1, at=at,
                       actor=Actor(ActorKind.CITIZEN, 1), tier=tier)


def test_first_response_is_due_three_working_days_after_opening() -> None:
    due = deadlines(ticket(TicketKind.PENGADUAN), SLA, CALENDAR)
    assert due.first_response == wib(11, 26)  # Thursday, same hour


def test_information_request_is_legally_due_after_ten_working_days() -> None:
    due = deadlines(ticket(TicketKind.INFORMASI), SLA, CALENDAR)
    assert due.legal == wib(12, 7)  # two weekends skipped
    assert due.resolution == wib(12, 7)


def test_extension_adds_seven_working_days_only_once_a_reason_is_recorded() -> None:
    t = ticket(TicketKind.INFORMASI)
    assert SLA.legal_days(t) == 10
    t.extend("dokumen tersebar di tiga bidang", wib(11, 30), Actor(ActorKind.STAFF, 5))
    assert SLA.legal_days(t) == 17
    # Still counted from the opening: 17 working days after Monday 23 November.
    assert deadlines(t, SLA, CALENDAR).legal == wib(12, 16)


def test_an_empty_extension_reason_does_not_extend() -> None:
    t = ticket(TicketKind.INFORMASI)
    t.extension_reason = ""
    assert SLA.legal_days(t) == 10


def test_paused_time_shifts_every_deadline() -> None:
    t = ticket(TicketKind.INFORMASI)
    t.paused_seconds = 2 * 3600
    due = deadlines(t, SLA, CALENDAR)
    assert due.first_response == wib(11, 26, 11)
    assert due.legal == wib(12, 7, 11)


def test_a_pause_spanning_the_closing_hour_moves_the_deadline_into_the_next_day() -> None:
    t = ticket(TicketKind.PENGADUAN)
    t.paused_seconds = 8 * 3600  # one whole working day
    assert deadlines(t, SLA, CALENDAR).first_response == wib(11, 27)


def test_question_sent_before_christmas_is_due_after_the_holidays() -> None:
    due = deadlines(ticket(TicketKind.PENGADUAN, at=wib(12, 22)), SLA, CALENDAR)
    # Tue 22: Wed 23, then Thu 24 and Fri 25 are holidays, then the weekend.
    assert due.first_response == wib(12, 29)


def test_question_sent_on_friday_night_is_counted_from_monday_morning() -> None:
    due = deadlines(ticket(TicketKind.PENGADUAN, at=wib(11, 27, 21)), SLA, CALENDAR)
    assert due.first_response == wib(12, 2, 16)  # Mon, Tue, Wed: three full office days


@pytest.mark.parametrize(("tier", "days", "due"), [
    ("ringan", 5, wib(11, 30)),
    ("sedang", 14, wib(12, 11)),
    (None, 14, wib(12, 11)),  # no tier: the configured default
    ("tidak-dikenal", 14, wib(12, 11)),  # unknown tier: the kind's own target
])
def test_complaint_resolution_depends_on_its_tier(tier: str | None, days: float,
                                                  due: datetime) -> None:
    t = ticket(TicketKind.PENGADUAN, tier=tier)
    assert SLA.resolution_days(t) == days
    assert SLA.legal_days(t) == days  # a complaint's ceiling is its tier
    deadline = deadlines(t, SLA, CALENDAR)
    assert deadline.resolution == due
    assert deadline.legal == due


def test_a_heavy_complaint_gets_sixty_working_days() -> None:
    t = ticket(TicketKind.PENGADUAN, tier="berat")
    assert SLA.resolution_days(t) == 60
    assert deadlines(t, SLA, CALENDAR).resolution > deadlines(
        ticket(TicketKind.PENGADUAN, tier="sedang"), SLA, CALENDAR).resolution


def test_a_complaint_cannot_be_extended_like_an_information_request() -> None:
    t = ticket(TicketKind.PENGADUAN, tier="ringan")
    t.extension_reason = "set by hand"
    assert SLA.legal_days(t) == 5


def test_an_aspiration_has_no_legal_deadline() -> None:
    t = ticket(TicketKind.ASPIRASI)
    assert SLA.legal_days(t) is None
    due = deadlines(t, SLA, CALENDAR)
    assert due.legal is None
    assert due.resolution == wib(12, 11)


def test_deadlines_are_aware_instants_in_the_province_zone() -> None:
    due = deadlines(ticket(TicketKind.INFORMASI), SLA, CALENDAR)
    for moment in (due.first_response, due.resolution, due.legal):
        assert moment is not None
        assert moment.utcoffset() is not None
        assert moment.tzinfo == WIB
