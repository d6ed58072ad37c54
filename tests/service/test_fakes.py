"""The fakes keep faith with the ports: same methods, same parameters, same transaction rules."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest

import routing.ports as ports
from db import repositories as sql
from routing.people import Role, Staff
from routing.tickets import Actor, ActorKind, Ticket, TicketKind
from tests import fakes
from tests.builders import MONDAY_9AM

IMPLEMENTATIONS: dict[type, tuple[type, type]] = {
    ports.TicketRepository: (fakes.FakeTicketRepository, sql.SqlTicketRepository),
    ports.OpdRepository: (fakes.FakeOpdRepository, sql.SqlOpdRepository),
    ports.StaffRepository: (fakes.FakeStaffRepository, sql.SqlStaffRepository),
    ports.CitizenRepository: (fakes.FakeCitizenRepository, sql.SqlCitizenRepository),
    ports.FaqRepository: (fakes.FakeFaqRepository, sql.SqlFaqRepository),
    ports.LinkRepository: (fakes.FakeLinkRepository, sql.SqlLinkRepository),
    ports.DraftRepository: (fakes.FakeDraftRepository, sql.SqlDraftRepository),
    ports.OutboxRepository: (fakes.FakeOutbox, sql.SqlOutboxRepository),
    ports.UpdateLog: (fakes.FakeUpdateLog, sql.SqlUpdateLog),
    ports.UnitOfWork: (fakes.FakeUnitOfWork, sql.SqlUnitOfWork),
}


def protocol_methods(port: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(port).items()
            if callable(member) and (not name.startswith("_") or name in ("__enter__",
                                                                          "__exit__"))}


def parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_every_port_has_a_fake() -> None:
    declared = {obj for obj in vars(ports).values()
                if inspect.isclass(obj) and getattr(obj, "_is_protocol", False)
                and obj.__module__ == ports.__name__}
    assert declared == set(IMPLEMENTATIONS)


@pytest.mark.parametrize("port", list(IMPLEMENTATIONS), ids=lambda p: p.__name__)
@pytest.mark.parametrize("which", ["fake", "sql"])
def test_implementations_have_every_method_of_their_port(port: type, which: str) -> None:
    implementation = IMPLEMENTATIONS[port][0 if which == "fake" else 1]
    for name, signature in protocol_methods(port).items():
        method = getattr(implementation, name, None)
        assert method is not None, f"{implementation.__name__}.{name} is missing"
        assert parameters(inspect.signature(method)) == parameters(signature), name


def test_the_fake_unit_of_work_has_every_repository() -> None:
    uow = fakes.FakeUnitOfWork()
    for name in ports.UnitOfWork.__annotations__:
        assert hasattr(uow, name), name


def add_staff(uow: fakes.FakeUnitOfWork, telegram_id: int) -> None:
    uow.staff.add(Staff(telegram_id, f"staff {telegram_id}", Role.ADMIN), MONDAY_9AM)


def crash_after_adding(uow: fakes.FakeUnitOfWork, telegram_id: int) -> None:
    add_staff(uow, telegram_id)
    raise RuntimeError("handler crashed")


def test_a_fake_unit_of_work_rolls_back_unless_committed() -> None:
    state = fakes.FakeState()
    with fakes.FakeUnitOfWork(state) as uow:
        add_staff(uow, 1)
        assert uow.committed is False
    assert state.staff == {}
    with fakes.FakeUnitOfWork(state) as uow:
        add_staff(uow, 2)
        uow.commit()
        assert uow.committed is True
        add_staff(uow, 3)  # after the commit: rolled back on exit
    assert set(state.staff) == {2}
    with pytest.raises(RuntimeError), fakes.FakeUnitOfWork(state) as uow:
        crash_after_adding(uow, 4)
    assert set(state.staff) == {2}


def test_fake_repositories_hand_out_copies() -> None:
    with fakes.FakeUnitOfWork() as uow:
        ticket = Ticket.open(reference="PPID-2026-000001", kind=TicketKind.PENGADUAN,
                             opd_code="BAPENDA", text="x", citizen_id=1, at=MONDAY_9AM,
                             actor=Actor(ActorKind.CITIZEN, 1))
        uow.tickets.add(ticket)
        loaded = uow.tickets.get(ticket.id or 0)
        assert loaded is not None
        loaded.claim(5, MONDAY_9AM + timedelta(minutes=5), Actor(ActorKind.STAFF, 5))
        assert uow.tickets.get(ticket.id or 0) != loaded  # unsaved changes stay local
        uow.tickets.save(loaded)
        assert uow.tickets.get(ticket.id or 0) == loaded
        assert [e["type"] for e in uow.tickets.events(ticket.id or 0)] == ["opened", "claimed"]
