"""Who may do what: the single authorization decision point every use case calls."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from routing.errors import NotAllowed
from routing.people import Role, Staff
from routing.tickets import Ticket


class PrincipalKind(StrEnum):
    """The roles the policy knows."""

    CITIZEN = "citizen"
    STAFF = "staff"  # PPID Pembantu of one OPD
    PPID = "ppid"  # PPID Utama staff (the triage desk)
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    ANONYMOUS = "anonymous"  # an unregistered person in a staff group


class Action(StrEnum):
    """Everything a person can ask the bot to do."""

    VIEW_TICKET = "view_ticket"
    ANSWER = "answer"
    CLAIM = "claim"
    TRANSFER = "transfer"
    CLOSE = "close"
    REJECT = "reject"
    WAIT = "wait"
    EXTEND = "extend"
    REOPEN = "reopen"
    RATE = "rate"
    VIEW_QUEUE = "view_queue"
    VIEW_SUMMARY = "view_summary"
    VIEW_REPORT = "view_report"
    MANAGE_STAFF = "manage_staff"
    IMPORT_FAQ = "import_faq"


@dataclass(frozen=True)
class Principal:
    """Who is acting, as the policy sees them."""

    kind: PrincipalKind
    opd_code: str | None = None
    staff_id: int | None = None
    citizen_id: int | None = None
    name: str | None = None

    @classmethod
    def for_staff(cls, staff: Staff, ppid_code: str) -> Principal:
        """Map a registered person to a principal."""
        if staff.role is Role.ADMIN:
            kind = PrincipalKind.ADMIN
        elif staff.role is Role.SUPERVISOR:
            kind = PrincipalKind.SUPERVISOR
        elif staff.opd_code == ppid_code:
            kind = PrincipalKind.PPID
        else:
            kind = PrincipalKind.STAFF
        return cls(kind, opd_code=staff.opd_code, staff_id=staff.id, name=staff.name)

    @classmethod
    def citizen(cls, citizen_id: int) -> Principal:
        """A citizen acting in their own chat."""
        return cls(PrincipalKind.CITIZEN, citizen_id=citizen_id)


# The operator at the server's command line (sahut staff/faq ...): trusted as an admin.
OPERATOR = Principal(PrincipalKind.ADMIN, name="operator")

# Actions on a ticket that the team holding it performs.
QUEUE_ACTIONS = frozenset({Action.ANSWER, Action.CLAIM, Action.TRANSFER, Action.CLOSE,
                           Action.REJECT, Action.WAIT, Action.EXTEND, Action.VIEW_TICKET})
CITIZEN_ACTIONS = frozenset({Action.VIEW_TICKET, Action.REOPEN, Action.RATE})
OVERSIGHT_ACTIONS = frozenset({Action.VIEW_SUMMARY, Action.VIEW_REPORT})
ADMIN_ONLY = frozenset({Action.MANAGE_STAFF, Action.IMPORT_FAQ})


def is_allowed(principal: Principal, action: Action, ticket: Ticket | None = None,
               opd_code: str | None = None) -> bool:
    """The authorization table in code: may ``principal`` do ``action`` (on ``ticket``)?

    ``opd_code`` names the queue for queue-level actions such as viewing a queue.
    """
    kind = principal.kind
    if kind is PrincipalKind.ANONYMOUS:
        return False
    if kind is PrincipalKind.CITIZEN:
        return (action in CITIZEN_ACTIONS and ticket is not None
                and ticket.citizen_id is not None and ticket.citizen_id == principal.citizen_id)
    if action in (Action.RATE, Action.REOPEN):
        return False  # only the citizen judges the answer they received
    if kind is PrincipalKind.ADMIN:
        return True
    if kind is PrincipalKind.SUPERVISOR:
        return action in OVERSIGHT_ACTIONS or action is Action.VIEW_TICKET or (
            action is Action.VIEW_QUEUE)
    if action in ADMIN_ONLY or action in OVERSIGHT_ACTIONS:
        return False
    # Staff of an OPD, or PPID Utama staff: act on what sits in their own queue.
    if action is Action.VIEW_QUEUE:
        return opd_code is not None and opd_code == principal.opd_code
    if ticket is None:
        return False
    if kind is PrincipalKind.PPID and action is Action.VIEW_TICKET:
        return True  # the triage desk sees every ticket to forward it
    return action in QUEUE_ACTIONS and ticket.opd_code == principal.opd_code


def authorize(principal: Principal, action: Action, ticket: Ticket | None = None,
              opd_code: str | None = None) -> None:
    """Raise NotAllowed unless the policy allows the action."""
    if not is_allowed(principal, action, ticket, opd_code):
        raise NotAllowed(f"{principal.kind.value} may not {action.value}")
