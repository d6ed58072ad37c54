"""The authorization table (routing.policy): every action for every role, own and other ticket."""

from __future__ import annotations

import pytest

from routing.errors import NotAllowed
from routing.people import Role, Staff
from routing.policy import Action, Principal, PrincipalKind, authorize, is_allowed
from routing.tickets import Actor, ActorKind, Ticket, TicketKind
from tests.builders import MONDAY_9AM

A = Action
CITIZEN_ID, OTHER_CITIZEN_ID = 7, 8
QUEUE_WORK = {A.VIEW_TICKET, A.ANSWER, A.CLAIM, A.TRANSFER, A.CLOSE, A.REJECT, A.WAIT, A.EXTEND,
              A.VIEW_QUEUE}
EVERYTHING = set(Action)

# role -> (allowed on their "own" ticket/queue, allowed on an "other" one).
# own: the citizen's own ticket; a ticket in the staff member's own OPD (PPID: in the PPID
# Utama queue). other: another citizen's ticket; a ticket in another OPD's queue.
EXPECTED: dict[str, tuple[set[Action], set[Action]]] = {
    "citizen": ({A.VIEW_TICKET, A.REOPEN, A.RATE}, set()),
    "staff": (QUEUE_WORK, set()),
    "ppid": (QUEUE_WORK, {A.VIEW_TICKET}),  # the triage desk sees every ticket
    "supervisor": ({A.VIEW_TICKET, A.VIEW_QUEUE, A.VIEW_SUMMARY, A.VIEW_REPORT},) * 2,
    "admin": (EVERYTHING - {A.RATE, A.REOPEN},) * 2,  # only the citizen judges an answer
    "anonymous": (set(), set()),
}
PRINCIPALS = {
    "citizen": Principal.citizen(CITIZEN_ID),
    "staff": Principal(PrincipalKind.STAFF, opd_code="BAPENDA", staff_id=11),
    "ppid": Principal(PrincipalKind.PPID, opd_code="PPID", staff_id=12),
    "supervisor": Principal(PrincipalKind.SUPERVISOR, staff_id=13),
    "admin": Principal(PrincipalKind.ADMIN, staff_id=14),
    "anonymous": Principal(PrincipalKind.ANONYMOUS),
}


def ticket(opd: str, citizen_id: int | None) -> Ticket:
    return Ticket.open(reference="PPID-2026-000001", kind=TicketKind.INFORMASI, opd_code=opd,
                       text="Mohon data", citizen_id=citizen_id, at=MONDAY_9AM,
                       actor=Actor(ActorKind.CITIZEN, citizen_id))


def own_ticket(role: str) -> Ticket:
    return ticket("PPID" if role == "ppid" else "BAPENDA", CITIZEN_ID)


def other_ticket(role: str) -> Ticket:
    return ticket("BAPENDA" if role == "ppid" else "DISHUB", OTHER_CITIZEN_ID)


CASES = [(role, action, whose) for role in EXPECTED for action in Action
         for whose in ("own", "other")]


@pytest.mark.parametrize(("role", "action", "whose"), CASES,
                         ids=[f"{r}-{a.value}-{w}" for r, a, w in CASES])
def test_authorization_table(role: str, action: Action, whose: str) -> None:
    t = own_ticket(role) if whose == "own" else other_ticket(role)
    allowed_own, allowed_other = EXPECTED[role]
    expected = action in (allowed_own if whose == "own" else allowed_other)
    # Queue-level actions name the queue; ticket actions name the ticket.
    assert is_allowed(PRINCIPALS[role], action, t, opd_code=t.opd_code) is expected


def test_every_role_of_the_policy_is_in_the_table() -> None:
    assert {p.kind for p in PRINCIPALS.values()} == set(PrincipalKind)


@pytest.mark.parametrize("role", ["citizen", "staff", "ppid", "anonymous"])
def test_ticket_actions_without_a_ticket_are_refused(role: str) -> None:
    for action in (A.VIEW_TICKET, A.ANSWER, A.CLOSE, A.RATE):
        assert not is_allowed(PRINCIPALS[role], action, None)


def test_a_citizen_cannot_act_on_a_ticket_without_a_citizen() -> None:
    assert not is_allowed(Principal.citizen(CITIZEN_ID), A.VIEW_TICKET, ticket("BAPENDA", None))


def test_staff_see_only_their_own_queue() -> None:
    staff = PRINCIPALS["staff"]
    assert is_allowed(staff, A.VIEW_QUEUE, opd_code="BAPENDA")
    assert not is_allowed(staff, A.VIEW_QUEUE, opd_code="DISHUB")
    assert not is_allowed(staff, A.VIEW_QUEUE)


def test_authorize_raises_not_allowed_naming_role_and_action() -> None:
    with pytest.raises(NotAllowed, match="staff may not close"):
        authorize(PRINCIPALS["staff"], A.CLOSE, other_ticket("staff"))
    authorize(PRINCIPALS["staff"], A.CLOSE, own_ticket("staff"))  # no exception


@pytest.mark.parametrize(("staff", "kind"), [
    (Staff(1, "Ani", Role.ADMIN), PrincipalKind.ADMIN),
    (Staff(2, "Sari", Role.SUPERVISOR), PrincipalKind.SUPERVISOR),
    (Staff(3, "Budi", Role.STAFF, "PPID"), PrincipalKind.PPID),
    (Staff(4, "Dewi", Role.STAFF, "BAPENDA"), PrincipalKind.STAFF),
])
def test_registered_people_map_to_their_principal(staff: Staff, kind: PrincipalKind) -> None:
    principal = Principal.for_staff(staff, ppid_code="PPID")
    assert principal.kind is kind
    assert (principal.opd_code, principal.name) == (staff.opd_code, staff.name)
