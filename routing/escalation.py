"""SLA escalation as a pure decision: which notices are due at ``now``.

A ticket's clocks run from its opening in working time, pauses excluded (the same due
instants as :func:`routing.sla.deadlines` and ``/terlambat``). At ``reminder_share`` of a
target the OPD group gets a reminder; at 100 % the OPD group and the supervisors get a
breach notice. Every notice has a stable key; the runner stores the key in the same
transaction as the outgoing message, so a notice goes out exactly once, whatever the number
of runs or processes. Waiting tickets are skipped: their clock is paused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from routing.sla import SlaConfig, deadlines
from routing.tickets import Ticket, TicketState
from routing.worktime import WorkingCalendar

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"


@dataclass(frozen=True)
class Notice:
    """One escalation message to queue (for an OPD group or for all supervisors)."""

    key: str
    kind: str  # "reminder" | "breach"
    audience: str  # "opd" | "supervisors"
    ticket_id: int
    reference: str
    opd_code: str
    deadline: str  # FIRST_RESPONSE | RESOLUTION
    due_at: datetime
    elapsed_share: float


def _key(kind: str, ticket: Ticket, deadline: str, target: str) -> str:
    # The reopen count starts a fresh set of notices after the citizen reopens the ticket.
    return f"{kind}:{ticket.id}:{ticket.reopen_count}:{deadline}:{target}"


def due_notices(tickets: Iterable[Ticket], *, now: datetime, sla: SlaConfig,
                calendar: WorkingCalendar, reminder_share: float) -> list[Notice]:
    """Every notice due at ``now`` for the given tickets (the runner drops those sent)."""
    day = calendar.standard_day_seconds
    out: list[Notice] = []
    for ticket in tickets:
        if not ticket.is_active or ticket.state is TicketState.WAITING or ticket.id is None:
            continue
        elapsed = calendar.working_seconds(ticket.created_at, now) - ticket.paused_seconds
        due = deadlines(ticket, sla, calendar)
        checks: list[tuple[str, float, datetime]] = []
        if ticket.first_response_at is None:
            checks.append((FIRST_RESPONSE, sla.for_kind(ticket.kind).first_response_days * day,
                           due.first_response))
        checks.append((RESOLUTION, sla.resolution_days(ticket) * day, due.resolution))
        for deadline, target, due_at in checks:
            share = elapsed / target if target > 0 else 1.0
            if share >= 1.0:
                wanted = [("breach", "opd", f"opd:{ticket.opd_code}"),
                          ("breach", "supervisors", "supervisors")]
            elif share >= reminder_share:
                wanted = [("reminder", "opd", f"opd:{ticket.opd_code}")]
            else:
                wanted = []
            out.extend(Notice(_key(kind, ticket, deadline, target), kind, audience, ticket.id,
                              ticket.reference, ticket.opd_code, deadline, due_at,
                              round(share, 3))
                       for kind, audience, target in wanted)
    return out


def digest_due(now: datetime, tz: tzinfo, at: time | None) -> date | None:
    """The local date whose daily digest is due at ``now`` (None before the hour or if off)."""
    if at is None:
        return None
    local = now.astimezone(tz)
    return local.date() if local.time() >= at else None


def digest_key(day: date) -> str:
    """The exactly-once key of a day's supervisor digest."""
    return f"digest:{day.isoformat()}"
