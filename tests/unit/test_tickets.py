"""Rules of the ticket lifecycle (routing.tickets): transitions, stamps and charged time."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.errors import InvalidTransition, ReopenWindowClosed, ValidationFailed
from routing.tickets import (
    ALLOWED_FROM,
    Actor,
    ActorKind,
    EventType,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketState,
)
from routing.worktime import WeekHours, WorkingCalendar
from tests.builders import MONDAY_9AM, WIB

T0 = MONDAY_9AM
CITIZEN = Actor(ActorKind.CITIZEN, 7)
STAFF = Actor(ActorKind.STAFF, 11, "Budi")
OPEN, CLAIMED, ANSWERED, WAITING, CLOSED, REJECTED = (
    TicketState.OPEN, TicketState.CLAIMED, TicketState.ANSWERED, TicketState.WAITING,
    TicketState.CLOSED, TicketState.REJECTED)


def wall(start: datetime, end: datetime) -> float:
    """A stopwatch that counts every second (keeps the arithmetic of these tests obvious)."""
    return max(0.0, (end - start).total_seconds())


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def new_ticket(kind: TicketKind = TicketKind.INFORMASI, opd: str = "BAPENDA") -> Ticket:
    ticket = Ticket.open(reference="PPID-2026-000001", kind=kind, opd_code=opd,
                         text="Mohon data anggaran jalan 2026", citizen_id=7, at=T0,
                         actor=CITIZEN)
    ticket.pull_events()
    return ticket


def ticket_in(state: TicketState) -> Ticket:
    """A fresh information request brought into ``state`` ten minutes after opening."""
    ticket = new_ticket()
    step: dict[TicketState, Callable[[Ticket], object]] = {
        OPEN: lambda t: None,
        CLAIMED: lambda t: t.claim(11, minutes(10), STAFF),
        ANSWERED: lambda t: t.answer(minutes(10), STAFF, wall),
        WAITING: lambda t: t.wait_for_citizen(minutes(10), STAFF, "kurang KTP"),
        CLOSED: lambda t: t.close(minutes(10), STAFF, wall),
        REJECTED: lambda t: t.reject("spam", minutes(10), STAFF, wall),
    }
    step[state](ticket)
    ticket.pull_events()
    assert ticket.state is state
    return ticket


# One way to perform each action; only the ticket's state decides whether it may run.
ACTIONS: dict[str, Callable[[Ticket, datetime], TicketEvent]] = {
    "claim": lambda t, at: t.claim(11, at, STAFF),
    "answer": lambda t, at: t.answer(at, STAFF, wall),
    "wait": lambda t, at: t.wait_for_citizen(at, STAFF, "kurang KTP"),
    "resume": lambda t, at: t.resume(at, CITIZEN, wall),
    "transfer": lambda t, at: t.transfer("DISHUB", "bukan wewenang", at, STAFF, wall),
    "close": lambda t, at: t.close(at, STAFF, wall),
    "reject": lambda t, at: t.reject("spam", at, STAFF, wall),
    "reopen": lambda t, at: t.reopen(at, CITIZEN, 14),
    "rate": lambda t, at: t.rate(4, at, CITIZEN),
    "extend": lambda t, at: t.extend("dokumen banyak", at, STAFF),
}
# The lifecycle as specified, written out independently of routing.tickets.
SPEC_ALLOWED_FROM: dict[str, set[TicketState]] = {
    "claim": {OPEN},
    "answer": {OPEN, CLAIMED, ANSWERED, WAITING},
    "wait": {OPEN, CLAIMED, ANSWERED},
    "resume": {WAITING},
    "transfer": {OPEN, CLAIMED, ANSWERED, WAITING},
    "close": {OPEN, CLAIMED, ANSWERED, WAITING},
    "reject": {OPEN, CLAIMED},
    "reopen": {CLOSED},
    "rate": {ANSWERED, CLOSED},
    "extend": {OPEN, CLAIMED, ANSWERED, WAITING},
}
# Where each action leads (None: the state does not change).
LEADS_TO: dict[str, TicketState | None] = {
    "claim": CLAIMED, "answer": ANSWERED, "wait": WAITING, "resume": OPEN,
    "transfer": OPEN, "close": CLOSED, "reject": REJECTED, "reopen": OPEN,
    "rate": None, "extend": None,
}
ALLOWED = [(a, s) for a in SPEC_ALLOWED_FROM for s in TicketState if s in SPEC_ALLOWED_FROM[a]]
FORBIDDEN = [(a, s) for a in SPEC_ALLOWED_FROM for s in TicketState
             if s not in SPEC_ALLOWED_FROM[a]]


def test_the_transition_table_is_the_specified_lifecycle() -> None:
    assert {a: set(states) for a, states in ALLOWED_FROM.items()} == SPEC_ALLOWED_FROM
    assert set(ACTIONS) == set(ALLOWED_FROM) == set(LEADS_TO)


@pytest.mark.parametrize(("action", "state"), ALLOWED, ids=[f"{a}-from-{s}" for a, s in ALLOWED])
def test_allowed_transition_moves_the_state_and_records_one_event(
        action: str, state: TicketState) -> None:
    ticket = ticket_in(state)
    event = ACTIONS[action](ticket, minutes(30))
    expected = LEADS_TO[action] or state
    assert ticket.state is expected
    assert event.from_state is state
    assert event.to_state is expected
    assert event.at == minutes(30)
    assert ticket.events == [event]


@pytest.mark.parametrize(("action", "state"), FORBIDDEN,
                         ids=[f"{a}-from-{s}" for a, s in FORBIDDEN])
def test_forbidden_transition_raises_and_changes_nothing(action: str, state: TicketState) -> None:
    ticket = ticket_in(state)
    before = copy.deepcopy(ticket)
    with pytest.raises(InvalidTransition) as raised:
        ACTIONS[action](ticket, minutes(30))
    assert (raised.value.action, raised.value.state) == (action, state.value)
    assert ticket == before


@pytest.mark.parametrize("action", sorted(ALLOWED_FROM))
def test_naive_datetime_is_rejected_before_anything_changes(action: str) -> None:
    state = next(s for s in TicketState if s in ALLOWED_FROM[action])
    ticket = ticket_in(state)
    before = copy.deepcopy(ticket)
    with pytest.raises(ValueError, match="timezone-aware"):
        ACTIONS[action](ticket, minutes(30).replace(tzinfo=None))
    assert ticket == before


def test_opening_with_a_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Ticket.open(reference="R", kind=TicketKind.PENGADUAN, opd_code="BAPENDA", text="x",
                    citizen_id=1, at=T0.replace(tzinfo=None), actor=CITIZEN)


def test_delivery_failure_with_a_naive_datetime_is_rejected() -> None:
    ticket = new_ticket()
    with pytest.raises(ValueError, match="timezone-aware"):
        ticket.record_delivery_failure("blocked", T0.replace(tzinfo=None))
    assert ticket.delivery_failed is None


def test_opening_needs_text() -> None:
    with pytest.raises(ValidationFailed):
        Ticket.open(reference="R", kind=TicketKind.PENGADUAN, opd_code="BAPENDA", text="  \n",
                    citizen_id=1, at=T0, actor=CITIZEN)


def test_opening_starts_the_first_assignment_and_records_opened() -> None:
    ticket = Ticket.open(reference="PPID-2026-000001", kind=TicketKind.PENGADUAN,
                         opd_code="BAPENDA", text="Jalan rusak", citizen_id=7, at=T0,
                         actor=CITIZEN, tier="ringan")
    assert ticket.state is OPEN
    assert ticket.is_active
    assert [(a.opd_code, a.entered_at, a.left_at) for a in ticket.assignments] == [
        ("BAPENDA", T0, None)]
    [event] = ticket.pull_events()
    assert (event.type, event.from_state, event.to_state) == (EventType.OPENED, None, OPEN)
    assert event.data == {"kind": "pengaduan", "tier": "ringan"}
    assert ticket.pull_events() == []


@pytest.mark.parametrize(("waiting_from", "back_to"), [(OPEN, OPEN), (CLAIMED, CLAIMED),
                                                       (ANSWERED, ANSWERED)])
def test_resume_returns_to_where_the_work_stood(waiting_from: TicketState,
                                                back_to: TicketState) -> None:
    ticket = ticket_in(waiting_from)
    ticket.wait_for_citizen(minutes(20), STAFF)
    ticket.resume(minutes(40), CITIZEN, wall)
    assert ticket.state is back_to


def test_each_stage_stamps_its_own_timestamp() -> None:
    ticket = new_ticket()
    assert (ticket.created_at, ticket.claimed_at, ticket.first_response_at,
            ticket.closed_at) == (T0, None, None, None)
    ticket.claim(11, minutes(10), STAFF)
    assert (ticket.claimed_by, ticket.claimed_at) == (11, minutes(10))
    ticket.answer(minutes(30), STAFF, wall)
    assert ticket.first_response_at == ticket.last_answer_at == minutes(30)
    ticket.wait_for_citizen(minutes(40), STAFF, "kirim KTP")
    assert ticket.waiting_since == minutes(40)
    ticket.resume(minutes(60), CITIZEN, wall)
    assert ticket.waiting_since is None
    assert ticket.paused_seconds == 20 * 60
    ticket.close(minutes(90), STAFF, wall)
    assert ticket.closed_at == minutes(90)
    assert ticket.resolution_seconds == 70 * 60  # 90 minutes open, 20 of them paused
    assert ticket.first_response_seconds == 30 * 60
    assert [e.type for e in ticket.pull_events()] == [
        EventType.CLAIMED, EventType.ANSWERED, EventType.WAITING, EventType.RESUMED,
        EventType.CLOSED]


def test_first_response_is_stamped_once_and_later_answers_only_move_last_answer() -> None:
    ticket = new_ticket()
    first = ticket.answer(minutes(30), STAFF, wall)
    second = ticket.answer(minutes(50), STAFF, wall)
    assert ticket.first_response_at == minutes(30)
    assert ticket.first_response_seconds == 30 * 60
    assert ticket.current_assignment.first_response_at == minutes(30)
    assert ticket.last_answer_at == minutes(50)
    assert first.data == {"opd_first_response_seconds": 1800.0, "first_response_seconds": 1800.0}
    assert second.data == {}


def test_an_answer_by_staff_on_an_unclaimed_ticket_claims_it() -> None:
    ticket = new_ticket()
    ticket.answer(minutes(5), STAFF, wall)
    assert (ticket.claimed_by, ticket.claimed_at) == (STAFF.id, minutes(5))


def test_transfer_charges_each_opd_only_its_own_stretch() -> None:
    ticket = new_ticket()
    ticket.claim(11, minutes(30), STAFF)
    event = ticket.transfer("DISHUB", "bukan wewenang", minutes(120), STAFF, wall)
    ticket.answer(minutes(180), Actor(ActorKind.STAFF, 12), wall)
    ticket.close(minutes(240), Actor(ActorKind.STAFF, 12), wall)

    first, second = ticket.assignments
    assert (first.opd_code, first.entered_at, first.left_at) == ("BAPENDA", T0, minutes(120))
    assert first.held_seconds == 2 * 3600
    assert first.first_response_at is None  # BAPENDA never answered
    assert (second.opd_code, second.entered_at, second.left_at) == (
        "DISHUB", minutes(120), minutes(240))
    assert second.first_response_seconds == 3600  # counted from when DISHUB got it
    assert second.held_seconds == 2 * 3600
    # The citizen waited three hours for the first answer, whoever gave it.
    assert ticket.first_response_seconds == 3 * 3600
    # The transfer is booked to the OPD that gave the ticket away.
    assert event.opd_code == "BAPENDA"
    assert event.data == {"from_opd": "BAPENDA", "to_opd": "DISHUB", "reason": "bukan wewenang",
                          "held_seconds": 7200.0}
    assert ticket.opd_code == "DISHUB"


def test_transfer_hands_over_an_unclaimed_ticket() -> None:
    ticket = ticket_in(CLAIMED)
    ticket.transfer("DISHUB", "bukan wewenang", minutes(30), STAFF, wall)
    assert (ticket.claimed_by, ticket.claimed_at, ticket.state) == (None, None, OPEN)


def test_transfer_to_the_same_queue_is_refused() -> None:
    ticket = new_ticket()
    with pytest.raises(ValidationFailed):
        ticket.transfer("BAPENDA", "x", minutes(5), STAFF, wall)


def test_pause_is_excluded_from_response_time() -> None:
    ticket = new_ticket()
    ticket.wait_for_citizen(minutes(60), STAFF, "kirim foto")
    ticket.resume(minutes(300), CITIZEN, wall)
    ticket.answer(minutes(360), STAFF, wall)
    assert ticket.paused_seconds == 4 * 3600
    assert ticket.current_assignment.paused_seconds == 4 * 3600
    assert ticket.first_response_seconds == 2 * 3600
    assert ticket.current_assignment.first_response_seconds == 2 * 3600


def test_answering_a_waiting_ticket_ends_the_pause() -> None:
    ticket = new_ticket()
    ticket.wait_for_citizen(minutes(60), STAFF)
    ticket.answer(minutes(180), STAFF, wall)
    assert ticket.waiting_since is None
    assert ticket.paused_seconds == 2 * 3600
    assert ticket.first_response_seconds == 3600


def test_a_pause_running_at_transfer_is_not_charged_to_the_opd() -> None:
    ticket = new_ticket()
    ticket.wait_for_citizen(minutes(60), STAFF)
    ticket.transfer("DISHUB", "bukan wewenang", minutes(180), STAFF, wall)
    assert ticket.assignments[0].held_seconds == 3600
    assert ticket.assignments[1].paused_seconds == 0


def test_response_time_counts_office_hours_only() -> None:
    calendar = WorkingCalendar(WIB, WeekHours.default(), {})
    friday_3pm = datetime(2026, 11, 27, 15, 0, tzinfo=WIB)
    ticket = Ticket.open(reference="R", kind=TicketKind.PENGADUAN, opd_code="BAPENDA",
                         text="Jalan rusak", citizen_id=7, at=friday_3pm, actor=CITIZEN)
    monday_830 = datetime(2026, 11, 30, 8, 30, tzinfo=WIB)
    ticket.answer(monday_830, STAFF, calendar.working_seconds)
    # Friday 15:00-16:30 and Monday 07:30-08:30: the weekend does not count.
    assert ticket.first_response_seconds == 2.5 * 3600


def test_reopen_is_allowed_until_the_window_closes() -> None:
    ticket = ticket_in(CLOSED)
    closed_at = ticket.closed_at
    assert closed_at is not None
    ticket.reopen(closed_at + timedelta(days=14), CITIZEN, 14, "belum selesai")
    assert ticket.state is OPEN
    assert (ticket.reopen_count, ticket.closed_at, ticket.resolution_seconds) == (1, None, None)
    assert [a.entered_at for a in ticket.assignments] == [T0, closed_at + timedelta(days=14)]


def test_reopen_after_the_window_is_refused_and_changes_nothing() -> None:
    ticket = ticket_in(CLOSED)
    assert ticket.closed_at is not None
    before = copy.deepcopy(ticket)
    with pytest.raises(ReopenWindowClosed):
        ticket.reopen(ticket.closed_at + timedelta(days=14, seconds=1), CITIZEN, 14)
    assert ticket == before


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
def test_rating_from_one_to_five_is_kept(rating: int) -> None:
    ticket = ticket_in(CLOSED)
    event = ticket.rate(rating, minutes(60), CITIZEN)
    assert ticket.rating == rating
    assert event.data == {"rating": rating}


@pytest.mark.parametrize("rating", [0, 6, -1, 10])
def test_rating_outside_one_to_five_is_refused(rating: int) -> None:
    ticket = ticket_in(CLOSED)
    with pytest.raises(ValidationFailed):
        ticket.rate(rating, minutes(60), CITIZEN)
    assert ticket.rating is None


def test_the_latest_rating_counts() -> None:
    ticket = ticket_in(CLOSED)
    ticket.rate(2, minutes(60), CITIZEN)
    ticket.rate(5, minutes(70), CITIZEN)
    assert ticket.rating == 5


@pytest.mark.parametrize("kind", [TicketKind.PENGADUAN, TicketKind.ASPIRASI])
def test_only_information_requests_can_be_extended(kind: TicketKind) -> None:
    ticket = new_ticket(kind)
    with pytest.raises(ValidationFailed):
        ticket.extend("banyak dokumen", minutes(10), STAFF)
    assert ticket.extension_reason is None


def test_an_information_request_can_be_extended_once_with_a_reason() -> None:
    ticket = new_ticket(TicketKind.INFORMASI)
    event = ticket.extend("  dokumen harus dikumpulkan dari 3 bidang ", minutes(10), STAFF)
    assert ticket.extension_reason == "dokumen harus dikumpulkan dari 3 bidang"
    assert event.type is EventType.EXTENDED
    with pytest.raises(ValidationFailed):
        ticket.extend("lagi", minutes(20), STAFF)
    assert ticket.extension_reason == "dokumen harus dikumpulkan dari 3 bidang"


def test_an_extension_needs_a_written_reason() -> None:
    ticket = new_ticket(TicketKind.INFORMASI)
    with pytest.raises(ValidationFailed):
        ticket.extend("   ", minutes(10), STAFF)
    assert ticket.extension_reason is None


def test_delivery_failure_is_noted_without_changing_the_state() -> None:
    ticket = ticket_in(ANSWERED)
    event = ticket.record_delivery_failure("bot blocked", minutes(20))
    assert ticket.delivery_failed == "bot blocked"
    assert ticket.state is ANSWERED
    assert (event.type, event.actor.kind) == (EventType.DELIVERY_FAILED, ActorKind.SYSTEM)


# -- random walks through the lifecycle ---------------------------------------------------------

def transfer_away(ticket: Ticket, at: datetime) -> TicketEvent:
    """Transfer to a queue other than the current one."""
    target = "DINSOS" if ticket.opd_code == "DISHUB" else "DISHUB"
    return ticket.transfer(target, "bukan wewenang", at, STAFF, wall)


STEP = st.tuples(st.sampled_from(sorted(ALLOWED_FROM)), st.integers(min_value=0, max_value=600))


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(STEP, max_size=25))
def test_any_sequence_of_actions_obeys_the_table_and_keeps_the_stamps(
        steps: list[tuple[str, int]]) -> None:
    ticket = new_ticket(TicketKind.INFORMASI)
    now = T0
    first_response: datetime | None = None
    paused = 0.0
    for action, gap in steps:
        now += timedelta(minutes=gap)
        state = ticket.state
        run = transfer_away if action == "transfer" else ACTIONS[action]
        try:
            run(ticket, now)
        except InvalidTransition:
            assert state not in ALLOWED_FROM[action]
            assert ticket.state is state
        except ValidationFailed:
            assert action == "extend"  # the extension was already used
        else:
            assert state in ALLOWED_FROM[action]
        # Stamps are set once and durations only grow.
        if first_response is not None:
            assert ticket.first_response_at == first_response
        first_response = ticket.first_response_at
        assert ticket.paused_seconds >= paused
        paused = ticket.paused_seconds
        assert (ticket.waiting_since is not None) == (ticket.state is WAITING)
        assert (ticket.closed_at is not None) == (ticket.state in (CLOSED, REJECTED))
        # Exactly the last stretch is open while the ticket is active, and it is its queue's.
        open_stretches = [a for a in ticket.assignments if a.left_at is None]
        assert open_stretches == ([ticket.assignments[-1]] if ticket.is_active else [])
        assert ticket.assignments[-1].opd_code == ticket.opd_code
        charged = sum(a.held_seconds or 0.0 for a in ticket.assignments)
        assert charged <= wall(T0, now)
    times = [e.at for e in ticket.pull_events()]
    assert times == sorted(times)
