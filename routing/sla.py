"""SLA targets per ticket kind and the due instants they imply, in working time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from routing.tickets import Ticket, TicketKind
from routing.worktime import WorkingCalendar


@dataclass(frozen=True)
class KindSla:
    """Targets and legal ceiling of one ticket kind, in working days."""

    first_response_days: float
    resolution_days: float
    legal_days: float | None
    extension_days: float = 0.0


@dataclass(frozen=True)
class SlaConfig:
    """SLA targets per ticket kind; complaint resolution depends on its tier."""

    kinds: Mapping[TicketKind, KindSla]
    complaint_tiers: Mapping[str, float]
    default_complaint_tier: str

    def for_kind(self, kind: TicketKind) -> KindSla:
        """The SLA of a ticket kind."""
        return self.kinds[kind]

    def resolution_days(self, ticket: Ticket) -> float:
        """Resolution target of a ticket: per tier for complaints."""
        if ticket.kind is TicketKind.PENGADUAN:
            tier = ticket.tier or self.default_complaint_tier
            return self.complaint_tiers.get(tier, self.kinds[ticket.kind].resolution_days)
        return self.kinds[ticket.kind].resolution_days

    def legal_days(self, ticket: Ticket) -> float | None:
        """Legal ceiling: informasi 10 (+7 with a recorded reason), complaints per tier."""
        sla = self.kinds[ticket.kind]
        if ticket.kind is TicketKind.PENGADUAN:
            return self.resolution_days(ticket)
        if sla.legal_days is None:
            return None
        return sla.legal_days + (sla.extension_days if ticket.extension_reason else 0.0)


@dataclass(frozen=True)
class Deadlines:
    """When a ticket is due, as aware instants."""

    first_response: datetime
    resolution: datetime
    legal: datetime | None


def deadlines(ticket: Ticket, sla: SlaConfig, calendar: WorkingCalendar) -> Deadlines:
    """Due instants of a ticket counted from its opening, shifted by the paused time."""
    day = calendar.standard_day_seconds
    paused = ticket.paused_seconds
    start = ticket.created_at
    kind = sla.for_kind(ticket.kind)
    legal_days = sla.legal_days(ticket)
    add = calendar.add_working_seconds
    return Deadlines(
        first_response=add(start, kind.first_response_days * day + paused),
        resolution=add(start, sla.resolution_days(ticket) * day + paused),
        legal=(add(start, legal_days * day + paused)
               if legal_days is not None else None),
    )
