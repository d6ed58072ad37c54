"""Domain errors: each is something a user can be told in plain words."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""

    code = "error"


class TicketNotFound(DomainError):
    """No ticket with that reference or id (or not one the actor may see)."""

    code = "ticket_not_found"


class InvalidTransition(DomainError):
    """The ticket's state does not allow this action (e.g. answering a closed ticket)."""

    code = "invalid_transition"

    def __init__(self, action: str, state: str) -> None:
        self.action = action
        self.state = state
        super().__init__(f"cannot {action} a ticket that is {state}")


class NotAllowed(DomainError):
    """The actor's role does not allow this action on this ticket."""

    code = "not_allowed"


class UnknownOpd(DomainError):
    """An OPD code that is not configured."""

    code = "unknown_opd"


class ReopenWindowClosed(DomainError):
    """The citizen tried to reopen a ticket after the allowed number of days."""

    code = "reopen_window_closed"


class ValidationFailed(DomainError):
    """Input that cannot be accepted (empty text, bad rating, ...)."""

    code = "validation_failed"
