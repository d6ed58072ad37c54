"""The context every handler receives: the unit of work, the services and how to reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers.inbound import Inbound
from routing.outbox import Button, Outgoing, Priority
from routing.people import Citizen
from routing.policy import Principal
from routing.ports import UnitOfWork

if TYPE_CHECKING:
    from bot.services import Services


@dataclass
class HandlerContext:
    """One inbound message being handled inside one transaction."""

    inbound: Inbound
    uow: UnitOfWork
    services: Services
    replies: list[int] = field(default_factory=list)
    #: Counters to add once the transaction commits (a rolled-back attempt counts nothing).
    counts: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def helpdesk(self) -> Any:
        """The use cases."""
        return self.services.helpdesk

    def count(self, name: str, **labels: str) -> None:
        """Count an event in the metrics when (and only if) this transaction commits."""
        self.counts.append((name, labels))

    def principal(self) -> Principal:
        """The registered role of the sender (read fresh: CLI changes apply at once)."""
        return self.services.helpdesk.principal(self.uow, self.inbound.user_id)

    def citizen(self) -> Citizen:
        """The sender as a citizen (created on first contact)."""
        return self.uow.citizens.get_or_create(
            self.inbound.channel, str(self.inbound.chat_id), self.inbound.user_name,
            self.services.clock())

    def citizen_principal(self) -> Principal:
        """The sender acting as a citizen in their own chat."""
        citizen = self.citizen()
        assert citizen.id is not None
        return Principal.citizen(citizen.id)

    def reply(self, template: str, context: dict[str, Any] | None = None, *,
              buttons: tuple[tuple[Button, ...], ...] = (), quote: bool = False,
              ticket_id: int | None = None, link_purpose: str | None = None,
              attachment: dict[str, Any] | None = None) -> None:
        """Queue a reply to the chat the message came from (delivered after commit)."""
        message = Outgoing(
            channel=self.inbound.channel, chat_id=self.inbound.chat_id, template=template,
            context=context or {}, buttons=buttons, attachment=attachment,
            ticket_id=ticket_id, link_purpose=link_purpose,
            reply_to_message_id=self.inbound.message_id if quote else None,
            priority=Priority.REPLY,
        )
        self.replies.append(self.uow.outbox.add(message, self.services.clock()))
