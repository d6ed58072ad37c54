"""Ticket references stay unique and gap-free when many workers open tickets at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.services import Services
from routing.people import Citizen

pytestmark = pytest.mark.db

THREADS = 8
TICKETS_PER_THREAD = 25


def test_references_are_unique_when_eight_threads_open_tickets_at_once(
        services: Services) -> None:
    citizens: list[Citizen] = []
    with services.uow() as uow:
        for n in range(THREADS):
            citizens.append(uow.citizens.get_or_create("telegram", str(6000 + n), f"Warga {n}",
                                                       services.clock()))
        uow.commit()
    # Everyone starts together, so the very first allocation (which creates the year's
    # counter) is contended too.
    start = threading.Barrier(THREADS)

    def open_many(citizen: Citizen) -> list[str]:
        start.wait(timeout=30)
        references = []
        for n in range(TICKETS_PER_THREAD):
            with services.uow() as uow:
                view = services.helpdesk.open_ticket(
                    uow, citizen=citizen, text=f"Laporan nomor {n}",
                    opd_code=("BAPENDA", "DISHUB", "DINSOS")[n % 3])
                uow.commit()
            references.append(view.ticket.reference)
        return references

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        per_thread = list(pool.map(open_many, citizens))

    references = [ref for refs in per_thread for ref in refs]
    total = THREADS * TICKETS_PER_THREAD
    assert len(set(references)) == total
    assert sorted(references) == [f"PPID-2026-{n:06d}" for n in range(1, total + 1)]
    for refs in per_thread:  # each worker saw its own references grow
        assert refs == sorted(refs)
    with services.uow() as uow:
        stored = uow.tickets.find()
    assert sorted(t.reference for t in stored) == sorted(references)
