"""Group commit: several updates in one transaction, each with exactly its own effects."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from bot.intake import Intake
from bot.services import Services
from db.models import OutboxRow, ProcessedUpdateRow
from handlers.dispatch import Dispatcher
from handlers.inbound import Inbound
from handlers.ratelimit import RateLimiter

QUESTION = "min gmn cara bayar pajak kendaraan bermotor?"


def _question(chat: int, update_id: int, text: str = QUESTION) -> Inbound:
    return Inbound(channel="telegram", chat_id=chat, user_id=chat, update_id=update_id,
                   text=text)


def _templates(services: Services, chat: int) -> list[str]:
    with services.session_factory() as session:
        return list(session.scalars(select(OutboxRow.template).where(
            OutboxRow.chat_id == chat).order_by(OutboxRow.id)))


def _processed(services: Services) -> int:
    with services.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessedUpdateRow)) or 0)


def _dispatcher(services: Services) -> Dispatcher:
    return Dispatcher(services, RateLimiter(10**6, 10**6))


@pytest.mark.db
def test_a_batch_gives_every_message_its_replies_and_claims_every_update(
        services: Services) -> None:
    results = _dispatcher(services).handle_batch(
        [_question(8000 + n, 900 + n) for n in range(5)])
    assert all(isinstance(r, list) and len(r) == 1 for r in results)
    assert _processed(services) == 5
    for n in range(5):
        assert len(_templates(services, 8000 + n)) == 1
    assert services.metrics.counter("updates_handled_total", channel="telegram") == 5


@pytest.mark.db
def test_a_refused_message_rolls_back_the_batch_and_every_message_is_handled_alone(
        services: Services) -> None:
    refused = Inbound(channel="telegram", chat_id=8100, user_id=8100, update_id=1001,
                      text="/ringkasan", command="ringkasan")  # a citizen is no supervisor
    results = _dispatcher(services).handle_batch(
        [_question(8101, 1000), refused, _question(8102, 1002)])
    assert all(isinstance(r, list) for r in results)
    assert _templates(services, 8100) == ["supervisor/refused"]
    assert len(_templates(services, 8101)) == 1
    assert len(_templates(services, 8102)) == 1
    assert _processed(services) == 3
    # The rolled-back attempt counted nothing: two questions, two decisions.
    decisions = sum(services.metrics.counter("decisions_total", decision=d)
                    for d in ("answer", "suggest", "route", "triage", "smalltalk"))
    assert decisions == 2


@pytest.mark.db
def test_the_same_update_twice_in_one_batch_has_one_effect(services: Services) -> None:
    first, again = _question(8200, 2000), _question(8200, 2000)
    results = _dispatcher(services).handle_batch([first, again])
    assert results[1] == []
    assert len(_templates(services, 8200)) == 1
    assert _processed(services) == 1


@pytest.mark.db
def test_an_update_already_handled_alone_is_skipped_in_a_later_batch(
        services: Services) -> None:
    dispatcher = _dispatcher(services)
    dispatcher.handle(_question(8300, 3000))
    results = dispatcher.handle_batch([_question(8300, 3000), _question(8301, 3001)])
    assert results[0] == []
    assert len(_templates(services, 8300)) == 1
    assert len(_templates(services, 8301)) == 1


class _Recorder:
    """A batch handler that blocks its first batch until released, recording every batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.entered = threading.Event()

    def __call__(self, inbounds: Sequence[Inbound]) -> list[list[int] | Exception]:
        if not self.batches:
            self.entered.set()
            self.release.wait(5)
        self.batches.append([i.update_id or 0 for i in inbounds])
        return [ValueError(f"bad {i.update_id}") if i.update_id == 13 else [i.update_id or 0]
                for i in inbounds]


async def test_the_intake_keeps_arrival_order_and_batches_what_queued_meanwhile() -> None:
    recorder = _Recorder()
    intake = Intake(recorder, max_batch=4)
    try:
        futures = [intake.submit(_question(1, 1))]
        assert await asyncio.to_thread(recorder.entered.wait, 5)
        futures += [intake.submit(_question(1, n)) for n in range(2, 11)]
        recorder.release.set()
        done = await asyncio.gather(*futures)
    finally:
        await asyncio.to_thread(intake.stop)
    assert done == [[n] for n in range(1, 11)]
    # What queued while the first batch ran became the next batches, at most 4 at a time.
    assert recorder.batches == [[1], [2, 3, 4, 5], [6, 7, 8, 9], [10]]


async def test_the_intake_gives_each_message_its_own_error() -> None:
    recorder = _Recorder()
    recorder.release.set()
    intake = Intake(recorder)
    try:
        ok, bad = intake.submit(_question(1, 12)), intake.submit(_question(1, 13))
        assert await ok == [12]
        with pytest.raises(ValueError, match="bad 13"):
            await bad
    finally:
        await asyncio.to_thread(intake.stop)


async def test_stopping_the_intake_handles_what_was_already_queued() -> None:
    recorder = _Recorder()
    intake = Intake(recorder)
    futures = [intake.submit(_question(1, n)) for n in range(20, 25)]
    recorder.release.set()
    await asyncio.to_thread(intake.stop)
    assert await asyncio.gather(*futures) == [[n] for n in range(20, 25)]
    assert [n for b in recorder.batches for n in b] == list(range(20, 25))


async def test_lanes_keep_each_chats_order_while_other_chats_move_on() -> None:
    blocked = threading.Event()
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def handle(inbounds: Sequence[Inbound]) -> list[list[int] | Exception]:
        if inbounds[0].chat_id == 1 and not blocked.is_set():
            blocked.wait(5)  # chat 1's lane is stuck on its first batch
        with lock:
            seen.extend((i.chat_id, i.update_id or 0) for i in inbounds)
        return [[i.update_id or 0] for i in inbounds]

    intake = Intake(handle, lanes=2)
    try:
        first = [intake.submit(_question(1, n)) for n in (1, 2, 3)]
        other = [intake.submit(_question(2, n)) for n in (4, 5, 6)]
        assert await asyncio.wait_for(asyncio.gather(*other), 5) == [[4], [5], [6]]
        assert not any(f.done() for f in first)  # still waiting behind the stuck batch
        blocked.set()
        assert await asyncio.wait_for(asyncio.gather(*first), 5) == [[1], [2], [3]]
    finally:
        await asyncio.to_thread(intake.stop)
    assert [n for chat, n in seen if chat == 1] == [1, 2, 3]
