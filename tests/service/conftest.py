"""The use cases wired to in-memory fakes: fast, no database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from bot.config import Config
from bot.services import build_calendar, sync_opds
from routing.outbox import Outgoing
from routing.people import Citizen, Role
from routing.policy import Principal
from routing.services import Helpdesk, HelpdeskSettings
from tests.builders import FixedClock, build_config
from tests.fakes import FakeState, FakeUnitOfWork

T = TypeVar("T")


@dataclass
class Desk:
    """A Helpdesk over one fake database, with helpers to set the scene."""

    helpdesk: Helpdesk
    state: FakeState
    clock: FixedClock
    config: Config

    def uow(self) -> FakeUnitOfWork:
        """A unit of work on the shared fake database."""
        return FakeUnitOfWork(self.state)

    def run(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a use case in its own committed unit of work, as the dispatcher does."""
        with self.uow() as uow:
            result = use_case(uow, *args, **kwargs)
            uow.commit()
        return result

    def citizen(self, chat_id: int = 5001, name: str = "Siti Aminah") -> Citizen:
        """A Telegram citizen (created on first contact)."""
        with self.uow() as uow:
            citizen = uow.citizens.get_or_create("telegram", str(chat_id), name, self.clock())
            uow.commit()
        return citizen

    def principal_of(self, citizen: Citizen) -> Principal:
        """The citizen acting in their own chat."""
        assert citizen.id is not None
        return Principal.citizen(citizen.id)

    def staff(self, telegram_id: int, opd: str | None = None, role: Role = Role.STAFF,
              name: str = "Petugas") -> Principal:
        """Register someone and return their principal (read back as the bot does)."""
        self.run(self.helpdesk.add_staff, telegram_id=telegram_id, name=name, role=role,
                 opd_code=opd)
        with self.uow() as uow:
            return self.helpdesk.principal(uow, telegram_id)

    @property
    def outbox(self) -> list[Outgoing]:
        """Every message queued so far (committed)."""
        return [message for _, message, _ in self.state.outbox]

    def sent_to(self, chat_id: int) -> list[Outgoing]:
        """Messages queued for one chat."""
        return [m for m in self.outbox if m.chat_id == chat_id]


@pytest.fixture
def desk(clock: FixedClock) -> Desk:
    """The test config's OPDs mirrored into a fresh fake database."""
    config = build_config()
    state = FakeState()
    with FakeUnitOfWork(state) as uow:
        sync_opds(uow, config, clock())
        uow.commit()
    helpdesk = Helpdesk(
        clock=clock, calendar=build_calendar(config), sla=config.sla,
        settings=HelpdeskSettings(reference_prefix=config.tickets.reference_prefix,
                                  ppid_code=config.ppid_utama.code,
                                  reopen_days=config.tickets.reopen_days),
    )
    return Desk(helpdesk, state, clock, config)
