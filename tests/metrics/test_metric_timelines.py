"""The responsiveness metric pinned on hand-built ticket timelines (pure, no database)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_SLA, DEFAULT_TIERS
from db.repositories import report_facts
from routing.metrics import (
    MetricSettings,
    OpdInfo,
    OpenTicket,
    Report,
    StretchFact,
    TargetBook,
    TicketFact,
    add_open_tickets,
    build_report,
    open_ticket_clocks,
    quantile,
    totals_from_facts,
)
from routing.sla import SlaConfig
from routing.tickets import Actor, ActorKind, Ticket, TicketKind
from routing.worktime import WeekHours, WorkingCalendar

WIB = ZoneInfo("Asia/Jakarta")
SLA = SlaConfig(DEFAULT_SLA, DEFAULT_TIERS, "sedang")
CITIZEN = Actor(ActorKind.CITIZEN, 1)
ALICE = Actor(ActorKind.STAFF, 10, "Alice")
BUDI = Actor(ActorKind.STAFF, 11, "Budi")
HOUR = 3600.0


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in the week of Monday 23 November 2026 (day 23 = Monday), WIB."""
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


def calendar(*holidays: date) -> WorkingCalendar:
    return WorkingCalendar(tz=WIB, hours=WeekHours.default(),
                           holidays={d: "libur" for d in holidays})


CAL = calendar()


def open_ticket(opd: str = "BAPENDA", when: datetime | None = None, *, ticket_id: int = 1,
                kind: TicketKind = TicketKind.PENGADUAN) -> Ticket:
    ticket = Ticket.open(reference=f"T-{ticket_id}", kind=kind, opd_code=opd,
                         text="jalan rusak", citizen_id=1, at=when or at(23, 8), actor=CITIZEN,
                         tier="sedang" if kind is TicketKind.PENGADUAN else None)
    ticket.id = ticket_id
    return ticket


def report(tickets: list[Ticket], *, cal: WorkingCalendar = CAL,
           now: datetime | None = None, min_tickets: int = 1,
           triage: tuple[str, ...] = ()) -> Report:
    """The reference pipeline: stored facts -> totals -> running clocks -> report."""
    now = now or at(30, 9)
    stretches, facts, running = [], [], []
    for t in tickets:
        assert t.id is not None
        for i, a in enumerate(t.assignments):
            stored = report_facts(t, i)
            stretches.append(StretchFact(t.id, a.opd_code, t.kind.value,
                                         stored["response_seconds"],
                                         a.first_response_seconds is not None))
        facts.append(TicketFact(t.id, t.opd_code, t.kind.value, t.tier,
                                bool(t.extension_reason), t.resolution_seconds, t.rating))
        if t.is_active:
            current = t.current_assignment
            age, held = open_ticket_clocks(
                created_at=t.created_at, paused_seconds=t.paused_seconds,
                waiting_since=t.waiting_since, entered_at=current.entered_at,
                stretch_paused_seconds=current.paused_seconds, now=now,
                stopwatch=cal.working_seconds)
            running.append(OpenTicket(t.id, t.opd_code, t.kind.value, t.tier,
                                      bool(t.extension_reason), t.first_response_at is not None,
                                      age, held, current.first_response_seconds is not None,
                                      True))
    book = TargetBook(SLA, cal.standard_day_seconds)
    totals = totals_from_facts(stretches, facts, book, frozenset(triage))
    add_open_tickets(totals, running, book, cal.standard_day_seconds)
    codes = sorted({s.opd_code for s in stretches})
    infos = [OpdInfo(c, c, c in triage) for c in codes]
    return build_report(totals, infos, MetricSettings(min_tickets_for_rank=min_tickets),
                        start=date(2026, 11, 1), end=date(2026, 11, 30))


def line(rep: Report, code: str) -> dict[str, object]:
    return next(o.to_json() for o in rep.opds if o.code == code)


def test_after_hours_opening_starts_the_clock_at_the_next_office_opening() -> None:
    ticket = open_ticket(when=at(23, 20))  # Monday 20:00, office closed
    ticket.answer(at(24, 9, 30), ALICE, CAL.working_seconds)  # Tuesday 09:30
    assert ticket.assignments[0].first_response_seconds == 2 * HOUR  # 07:30 -> 09:30
    assert line(report([ticket]), "BAPENDA")["first_response_median_hours"] == 2.0


def test_a_holiday_in_the_middle_is_not_counted() -> None:
    cal = calendar(date(2026, 11, 26))  # Thursday off
    ticket = open_ticket(when=at(25, 15))  # Wednesday 15:00
    ticket.answer(at(27, 8, 30), ALICE, cal.working_seconds)  # Friday 08:30
    # Wednesday 15:00-16:00 and Friday 07:30-08:30; Thursday counts nothing.
    assert ticket.assignments[0].first_response_seconds == 2 * HOUR
    assert line(report([ticket], cal=cal), "BAPENDA")["first_response_median_hours"] == 2.0


def test_a_transfer_charges_each_opd_only_for_the_time_it_held_the_ticket() -> None:
    ticket = open_ticket(when=at(23, 8))
    ticket.transfer("DISHUB", "bukan wewenang", at(23, 11), ALICE, CAL.working_seconds)
    ticket.answer(at(23, 13), BUDI, CAL.working_seconds)
    rep = report([ticket])
    bapenda, dishub = line(rep, "BAPENDA"), line(rep, "DISHUB")
    # The dump is charged its held time and never counts as an answer.
    assert (bapenda["tickets"], bapenda["answered"]) == (1, 0)
    assert bapenda["first_response_median_hours"] == 3.0
    assert (dishub["tickets"], dishub["answered"]) == (1, 1)
    assert dishub["first_response_median_hours"] == 2.0
    # The citizen-facing clock kept running from the original opening.
    assert ticket.first_response_seconds == 5 * HOUR


def test_the_triage_desk_answers_by_forwarding() -> None:
    ticket = open_ticket("PPID", at(23, 8))
    ticket.transfer("DINSOS", "kewenangan Dinsos", at(23, 8, 30), ALICE, CAL.working_seconds)
    rep = report([ticket], triage=("PPID",))
    ppid = line(rep, "PPID")
    assert (ppid["answered"], ppid["first_response_median_hours"]) == (1, 0.5)
    assert ppid["rank"] is None  # listed for reference, never ranked


def test_a_pause_waiting_for_the_citizen_is_excluded() -> None:
    ticket = open_ticket(when=at(23, 8))
    ticket.answer(at(23, 9), ALICE, CAL.working_seconds)
    ticket.wait_for_citizen(at(23, 9), ALICE, "lengkapi KTP")
    ticket.resume(at(24, 9), CITIZEN, CAL.working_seconds)  # 8.5 working hours paused
    ticket.close(at(24, 10), ALICE, CAL.working_seconds)
    # Opening to close is 10.5 working hours, of which 8.5 were paused.
    assert ticket.resolution_seconds == 2 * HOUR
    assert line(report([ticket]), "BAPENDA")["resolution_median_hours"] == 2.0


def test_a_reopen_counts_the_ticket_once_and_its_new_stretch_needs_a_new_answer() -> None:
    ticket = open_ticket(when=at(23, 8))
    ticket.answer(at(23, 9), ALICE, CAL.working_seconds)
    ticket.close(at(23, 10), ALICE, CAL.working_seconds)
    ticket.reopen(at(24, 8), CITIZEN, 14, "belum beres")
    ticket.answer(at(24, 10), ALICE, CAL.working_seconds)
    ticket.close(at(24, 11), ALICE, CAL.working_seconds)
    out = line(report([ticket]), "BAPENDA")
    assert (out["tickets"], out["answered"]) == (1, 1)
    assert out["first_response_median_hours"] == 1.5  # responses of 1 h and 2 h
    # A premature close does not stop the clock: opening to the final close.
    assert out["resolution_median_hours"] == 11.5


def test_a_ticket_answered_by_two_staff_counts_only_the_first_answer() -> None:
    ticket = open_ticket(when=at(23, 8))
    ticket.answer(at(23, 9), ALICE, CAL.working_seconds)
    ticket.answer(at(23, 12), BUDI, CAL.working_seconds)
    out = line(report([ticket]), "BAPENDA")
    assert (out["answered"], out["first_response_median_hours"]) == (1, 1.0)


def test_a_bot_answer_never_counts_as_a_response() -> None:
    ticket = open_ticket(when=at(23, 8))
    ticket.answer(at(23, 8, 1), Actor.system(), CAL.working_seconds)
    assert ticket.first_response_at is None
    ticket.answer(at(23, 10), ALICE, CAL.working_seconds)
    out = line(report([ticket]), "BAPENDA")
    assert (out["answered"], out["first_response_median_hours"]) == (1, 2.0)


def test_the_informasi_ceiling_grows_by_seven_days_only_with_a_recorded_reason() -> None:
    day = CAL.standard_day_seconds
    opened = at(2, 8)  # Monday 2 November 2026
    tickets = []
    for ticket_id, reason in ((1, None), (2, "dokumen di beberapa bidang")):
        ticket = open_ticket("DISKOMINFO", opened, ticket_id=ticket_id,
                             kind=TicketKind.INFORMASI)
        ticket.answer(at(2, 9), ALICE, CAL.working_seconds)
        if reason:
            ticket.extend(reason, at(2, 9), ALICE)
        ticket.close(CAL.add_working_seconds(opened, 12 * day), ALICE, CAL.working_seconds)
        tickets.append(ticket)
    assert line(report(tickets[:1]), "DISKOMINFO")["breached_legal_pct"] == 100.0
    assert line(report(tickets[1:]), "DISKOMINFO")["breached_legal_pct"] == 0.0


def test_an_unanswered_ticket_past_its_target_is_a_miss_and_overdue() -> None:
    ticket = open_ticket(when=at(16, 8))  # a week before; three working days is the target
    out = line(report([ticket], now=at(23, 9)), "BAPENDA")
    assert (out["open"], out["overdue"], out["within_target_pct"]) == (1, 1, 0.0)
    assert out["first_response_median_hours"] is None  # still running: not a response


def test_an_opd_below_the_minimum_is_listed_without_a_rank() -> None:
    tickets = []
    for i in range(3):
        t = open_ticket("DISHUB", at(23, 8), ticket_id=i + 1)
        t.answer(at(23, 12), ALICE, CAL.working_seconds)
        tickets.append(t)
    fast = open_ticket("BAPENDA", at(23, 8), ticket_id=9)
    fast.answer(at(23, 8, 5), BUDI, CAL.working_seconds)
    rep = report([*tickets, fast], min_tickets=2)
    assert line(rep, "DISHUB")["rank"] == 1
    assert line(rep, "BAPENDA")["rank"] is None
    assert line(rep, "BAPENDA")["index"] is not None  # reported, just not ranked


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9, 9.1),
    ([5.0], 0.9, 5.0),
    ([], 0.5, None),
])
def test_quantiles_interpolate_linearly_between_neighbours(
        values: list[float], q: float, expected: float | None) -> None:
    result = quantile(values, q)
    assert result == pytest.approx(expected) if expected is not None else result is None
