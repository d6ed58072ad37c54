"""Tickets: kinds, states, explicit transitions and the audit events they produce.

Every transition is a method that checks the current state, stamps its own timestamp and
returns a :class:`TicketEvent`. Those events are the audit trail from which every metric is
derived; working-time durations are computed once, when the event happens, and stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from routing.errors import InvalidTransition, ReopenWindowClosed, ValidationFailed


class TicketKind(StrEnum):
    """What the citizen asks for; decides SLA targets and legal ceilings."""

    INFORMASI = "informasi"  # permohonan informasi, UU 14/2008
    PENGADUAN = "pengaduan"  # complaint, SP4N-LAPOR! practice
    ASPIRASI = "aspirasi"  # suggestion


class TicketState(StrEnum):
    """Where a ticket is in its life."""

    OPEN = "open"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    WAITING = "waiting"
    CLOSED = "closed"
    REJECTED = "rejected"


class EventType(StrEnum):
    """Kinds of audit events."""

    OPENED = "opened"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    WAITING = "waiting"
    RESUMED = "resumed"
    TRANSFERRED = "transferred"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"
    RATED = "rated"
    EXTENDED = "extended"
    DELIVERY_FAILED = "delivery_failed"
    ANONYMISED = "anonymised"


class ActorKind(StrEnum):
    """Who caused an event."""

    CITIZEN = "citizen"
    STAFF = "staff"
    SYSTEM = "system"


ACTIVE_STATES = frozenset({TicketState.OPEN, TicketState.CLAIMED, TicketState.ANSWERED,
                           TicketState.WAITING})
FINAL_STATES = frozenset({TicketState.CLOSED, TicketState.REJECTED})

# The lifecycle as data: action -> states it may start from. Transfers and reopens put the
# ticket back to OPEN; the rest move to the state named by the action.
ALLOWED_FROM: dict[str, frozenset[TicketState]] = {
    "claim": frozenset({TicketState.OPEN}),
    "answer": frozenset({TicketState.OPEN, TicketState.CLAIMED, TicketState.ANSWERED,
                         TicketState.WAITING}),
    "wait": frozenset({TicketState.OPEN, TicketState.CLAIMED, TicketState.ANSWERED}),
    "resume": frozenset({TicketState.WAITING}),
    "transfer": frozenset({TicketState.OPEN, TicketState.CLAIMED, TicketState.ANSWERED,
                           TicketState.WAITING}),
    "close": frozenset({TicketState.OPEN, TicketState.CLAIMED, TicketState.ANSWERED,
                        TicketState.WAITING}),
    "reject": frozenset({TicketState.OPEN, TicketState.CLAIMED}),
    "reopen": frozenset({TicketState.CLOSED}),
    "rate": frozenset({TicketState.ANSWERED, TicketState.CLOSED}),
    "extend": frozenset({TicketState.OPEN, TicketState.CLAIMED, TicketState.ANSWERED,
                         TicketState.WAITING}),
}

# Working seconds between two instants, minus pauses; provided by the working calendar.
Stopwatch = Callable[[datetime, datetime], float]


@dataclass(frozen=True)
class Actor:
    """Who acts: a citizen, a staff member (by staff id) or the system."""

    kind: ActorKind
    id: int | None = None
    name: str | None = None

    @classmethod
    def system(cls) -> Actor:
        """The bot itself (timers, automatic transitions)."""
        return cls(ActorKind.SYSTEM)


@dataclass
class Assignment:
    """One stretch of time an OPD held the ticket: what the OPD is charged for."""

    opd_code: str
    entered_at: datetime
    left_at: datetime | None = None
    first_response_at: datetime | None = None
    first_response_seconds: float | None = None
    held_seconds: float | None = None
    paused_seconds: float = 0.0
    id: int | None = None


@dataclass
class TicketEvent:
    """One audit-trail row: what happened, when, by whom, from which state to which."""

    type: EventType
    at: datetime
    actor: Actor
    opd_code: str
    from_state: TicketState | None
    to_state: TicketState
    data: dict[str, Any] = field(default_factory=dict)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("ticket timestamps must be timezone-aware")


@dataclass
class Ticket:
    """A citizen's question, request or complaint routed to an OPD queue."""

    reference: str
    kind: TicketKind
    opd_code: str
    text: str
    created_at: datetime
    citizen_id: int | None
    state: TicketState = TicketState.OPEN
    tier: str | None = None
    channel: str = "telegram"
    anonymous: bool = False
    confidential: bool = False
    claimed_by: int | None = None
    claimed_at: datetime | None = None
    first_response_at: datetime | None = None
    last_answer_at: datetime | None = None
    closed_at: datetime | None = None
    waiting_since: datetime | None = None
    paused_seconds: float = 0.0
    first_response_seconds: float | None = None
    resolution_seconds: float | None = None
    extension_reason: str | None = None
    rating: int | None = None
    reopen_count: int = 0
    delivery_failed: str | None = None
    id: int | None = None
    assignments: list[Assignment] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def open(cls, *, reference: str, kind: TicketKind, opd_code: str, text: str,
             citizen_id: int | None, at: datetime, actor: Actor, tier: str | None = None,
             channel: str = "telegram", anonymous: bool = False,
             confidential: bool = False) -> Ticket:
        """Open a ticket in an OPD's queue; the citizen-facing clock starts now."""
        _require_aware(at)
        if not text.strip():
            raise ValidationFailed("a ticket needs some text")
        ticket = cls(reference=reference, kind=kind, opd_code=opd_code, text=text,
                     created_at=at, citizen_id=citizen_id, tier=tier, channel=channel,
                     anonymous=anonymous, confidential=confidential)
        ticket.assignments.append(Assignment(opd_code=opd_code, entered_at=at))
        ticket._record(EventType.OPENED, at, actor, None, TicketState.OPEN,
                       {"kind": kind.value, "tier": tier})
        return ticket

    # -- helpers --------------------------------------------------------------------------

    @property
    def current_assignment(self) -> Assignment:
        """The OPD stretch that is running now (the last one)."""
        return self.assignments[-1]

    @property
    def is_active(self) -> bool:
        """Whether the ticket still waits for work."""
        return self.state in ACTIVE_STATES

    def pull_events(self) -> list[TicketEvent]:
        """Hand over the events recorded since the last call (for the repository to store)."""
        events, self.events = self.events, []
        return events

    def _check(self, action: str, at: datetime) -> None:
        # Both checks come before any change: a refused call leaves the ticket as it was.
        _require_aware(at)
        if self.state not in ALLOWED_FROM[action]:
            raise InvalidTransition(action, self.state.value)

    def _record(self, type_: EventType, at: datetime, actor: Actor,
                from_state: TicketState | None, to_state: TicketState,
                data: dict[str, Any] | None = None) -> TicketEvent:
        _require_aware(at)
        event = TicketEvent(type_, at, actor, self.opd_code, from_state, to_state, data or {})
        self.state = to_state
        self.events.append(event)
        return event

    def _paused_until(self, at: datetime, stopwatch: Stopwatch) -> float:
        """Working seconds of the pause still running at ``at`` (0 when not waiting)."""
        if self.waiting_since is None:
            return 0.0
        return stopwatch(self.waiting_since, at)

    def _end_pause(self, at: datetime, stopwatch: Stopwatch) -> None:
        if self.waiting_since is None:
            return
        paused = stopwatch(self.waiting_since, at)
        self.paused_seconds += paused
        self.current_assignment.paused_seconds += paused
        self.waiting_since = None

    def _held(self, at: datetime, stopwatch: Stopwatch) -> float:
        """Working seconds the current OPD has held the ticket, pauses excluded."""
        assignment = self.current_assignment
        total = stopwatch(assignment.entered_at, at)
        return max(0.0, total - assignment.paused_seconds - self._paused_until(at, stopwatch))

    def _since_open(self, at: datetime, stopwatch: Stopwatch) -> float:
        total = stopwatch(self.created_at, at)
        return max(0.0, total - self.paused_seconds - self._paused_until(at, stopwatch))

    # -- transitions ----------------------------------------------------------------------

    def claim(self, staff_id: int, at: datetime, actor: Actor) -> TicketEvent:
        """A staff member takes the ticket."""
        self._check("claim", at)
        self.claimed_by = staff_id
        self.claimed_at = at
        return self._record(EventType.CLAIMED, at, actor, self.state, TicketState.CLAIMED)

    def answer(self, at: datetime, actor: Actor, stopwatch: Stopwatch) -> TicketEvent:
        """A staff answer was relayed to the citizen; the first one stops the response clock."""
        self._check("answer", at)
        from_state = self.state
        self._end_pause(at, stopwatch)
        assignment = self.current_assignment
        data: dict[str, Any] = {}
        # Only a person's answer stops a response clock; the bot never answers for an OPD.
        human = actor.kind is ActorKind.STAFF
        if human and assignment.first_response_at is None:
            assignment.first_response_at = at
            assignment.first_response_seconds = self._held(at, stopwatch)
            data["opd_first_response_seconds"] = assignment.first_response_seconds
        if human and self.first_response_at is None:
            self.first_response_at = at
            self.first_response_seconds = self._since_open(at, stopwatch)
            data["first_response_seconds"] = self.first_response_seconds
        if self.claimed_by is None and actor.kind is ActorKind.STAFF:
            self.claimed_by = actor.id
            self.claimed_at = at
        self.last_answer_at = at
        return self._record(EventType.ANSWERED, at, actor, from_state, TicketState.ANSWERED, data)

    def wait_for_citizen(self, at: datetime, actor: Actor, reason: str = "") -> TicketEvent:
        """Pause the clock until the citizen supplies what is missing."""
        self._check("wait", at)
        self.waiting_since = at
        return self._record(EventType.WAITING, at, actor, self.state, TicketState.WAITING,
                            {"reason": reason} if reason else {})

    def resume(self, at: datetime, actor: Actor, stopwatch: Stopwatch) -> TicketEvent:
        """The citizen replied: the clock runs again and the ticket returns to work."""
        self._check("resume", at)
        self._end_pause(at, stopwatch)
        if self.current_assignment.first_response_at is not None:
            to_state = TicketState.ANSWERED
        elif self.claimed_by is not None:
            to_state = TicketState.CLAIMED
        else:
            to_state = TicketState.OPEN
        return self._record(EventType.RESUMED, at, actor, TicketState.WAITING, to_state)

    def transfer(self, to_opd: str, reason: str, at: datetime, actor: Actor,
                 stopwatch: Stopwatch) -> TicketEvent:
        """Move the ticket to another queue ("bukan wewenang"); each OPD pays only its stretch."""
        self._check("transfer", at)
        if to_opd == self.opd_code:
            raise ValidationFailed("the ticket is already in that queue")
        from_state = self.state
        from_opd = self.opd_code
        self._end_pause(at, stopwatch)
        assignment = self.current_assignment
        assignment.held_seconds = self._held(at, stopwatch)
        assignment.left_at = at
        self.opd_code = to_opd
        self.claimed_by = None
        self.claimed_at = None
        self.assignments.append(Assignment(opd_code=to_opd, entered_at=at))
        event = self._record(EventType.TRANSFERRED, at, actor, from_state, TicketState.OPEN,
                             {"from_opd": from_opd, "to_opd": to_opd, "reason": reason,
                              "held_seconds": assignment.held_seconds})
        # The event belongs to the OPD that gave the ticket away.
        event.opd_code = from_opd
        return event

    def close(self, at: datetime, actor: Actor, stopwatch: Stopwatch,
              note: str = "") -> TicketEvent:
        """Close the ticket; stamps the resolution time."""
        self._check("close", at)
        from_state = self.state
        self._end_pause(at, stopwatch)
        assignment = self.current_assignment
        assignment.held_seconds = self._held(at, stopwatch)
        assignment.left_at = at
        self.closed_at = at
        self.resolution_seconds = self._since_open(at, stopwatch)
        return self._record(EventType.CLOSED, at, actor, from_state, TicketState.CLOSED,
                            {"resolution_seconds": self.resolution_seconds, "note": note}
                            if note else {"resolution_seconds": self.resolution_seconds})

    def reject(self, reason: str, at: datetime, actor: Actor, stopwatch: Stopwatch) -> TicketEvent:
        """Reject the ticket as spam or abuse."""
        self._check("reject", at)
        from_state = self.state
        assignment = self.current_assignment
        assignment.held_seconds = self._held(at, stopwatch)
        assignment.left_at = at
        self.closed_at = at
        return self._record(EventType.REJECTED, at, actor, from_state, TicketState.REJECTED,
                            {"reason": reason})

    def reopen(self, at: datetime, actor: Actor, reopen_days: int,
               reason: str = "") -> TicketEvent:
        """The citizen reopens a closed ticket within the allowed number of days."""
        self._check("reopen", at)
        assert self.closed_at is not None
        if (at - self.closed_at).total_seconds() > reopen_days * 86400:
            raise ReopenWindowClosed(f"tickets can be reopened within {reopen_days} days")
        self.reopen_count += 1
        self.closed_at = None
        self.resolution_seconds = None
        self.claimed_by = None
        self.claimed_at = None
        self.assignments.append(Assignment(opd_code=self.opd_code, entered_at=at))
        return self._record(EventType.REOPENED, at, actor, TicketState.CLOSED, TicketState.OPEN,
                            {"reason": reason} if reason else {})

    def rate(self, rating: int, at: datetime, actor: Actor) -> TicketEvent:
        """The citizen rates the answer 1–5 (the latest rating counts)."""
        self._check("rate", at)
        if not 1 <= rating <= 5:
            raise ValidationFailed("rating must be between 1 and 5")
        self.rating = rating
        return self._record(EventType.RATED, at, actor, self.state, self.state,
                            {"rating": rating})

    def extend(self, reason: str, at: datetime, actor: Actor) -> TicketEvent:
        """Record the written reason for the +7 working-day extension (UU 14/2008 Pasal 22(8))."""
        self._check("extend", at)
        if self.kind is not TicketKind.INFORMASI:
            raise ValidationFailed("only information requests can be extended")
        if self.extension_reason:
            raise ValidationFailed("the extension was already used")
        if not reason.strip():
            raise ValidationFailed("an extension needs a written reason")
        self.extension_reason = reason.strip()
        return self._record(EventType.EXTENDED, at, actor, self.state, self.state,
                            {"reason": self.extension_reason})

    def anonymise(self, at: datetime, reason: str, placeholder: str) -> TicketEvent:
        """Remove the citizen's identity and words (UU 27/2022); keep what statistics need."""
        self.citizen_id = None
        self.text = placeholder
        self.extension_reason = None if self.extension_reason is None else placeholder
        return self._record(EventType.ANONYMISED, at, Actor.system(), self.state, self.state,
                            {"reason": reason})

    def record_delivery_failure(self, reason: str, at: datetime) -> TicketEvent:
        """The citizen could not be reached (blocked the bot, chat gone)."""
        _require_aware(at)
        self.delivery_failed = reason
        return self._record(EventType.DELIVERY_FAILED, at, Actor.system(), self.state,
                            self.state, {"reason": reason})
