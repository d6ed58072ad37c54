"""Faults at the edges: redelivered updates, a flooded or failing Bot API, pacing, priority."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import SenderConfig
from bot.sender import OutboxSender, Pacer, RenderedMessage
from bot.services import Services, build_services, system_clock
from bot.webhook import SECRET_HEADER, make_webhook_app
from db.engine import make_engine
from db.models import OutboxRow, ProcessedUpdateRow, TicketRow
from routing.outbox import Outgoing, Priority
from tests.e2e.harness import CITIZEN, seed
from tests.reliability.conftest import (
    SECRET,
    expected_texts,
    live_bot,
    live_config,
    wait_until,
    without_repeats,
)
from tests.telegram_fake import FakeTelegram

pytestmark = [pytest.mark.e2e, pytest.mark.db]


@pytest.fixture
def fake() -> Any:
    server = FakeTelegram()
    server.start()
    yield server
    server.stop()


def _count(services: Services, model: Any, *where: Any) -> int:
    with services.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _outbox_done(services: Services) -> bool:
    return _count(services, OutboxRow, OutboxRow.state.in_(("pending", "sending"))) == 0


# -- the same update twice ------------------------------------------------------------------

@asynccontextmanager
async def webhook_worker(db_url: str, fake: FakeTelegram) -> AsyncIterator[
        tuple[httpx.AsyncClient, Services]]:
    """One webhook worker (own engine, own sender) served in-process over ASGI."""
    config = live_config(db_url, fake, overall_per_second=1000.0, private_chat_interval=0.0)
    engine = make_engine(db_url)
    services = build_services(config, clock=system_clock, engine=engine)
    app = make_webhook_app(config, services, public_url=None)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            try:
                yield client, services
            finally:
                pass
    engine.dispose()


async def test_the_same_update_twice_and_to_two_workers_at_once_has_one_effect(
        db_url: str, engine: Any, fake: FakeTelegram) -> None:
    seed(build_services(live_config(db_url, fake), clock=system_clock, engine=engine))
    async with AsyncExitStack() as stack:
        first, services = await stack.enter_async_context(webhook_worker(db_url, fake))
        second, _ = await stack.enter_async_context(webhook_worker(db_url, fake))
        headers = {SECRET_HEADER: SECRET}
        updates = [fake.message_update(CITIZEN + n, CITIZEN + n,
                                       "petugas samsat minta uang tambahan tanpa kuitansi")
                   for n in range(10)]
        for number, update in enumerate(updates, start=1):
            update["update_id"] = 900 + number
        # Concurrently to both workers, then once more to each, in sequence.
        answers = await asyncio.gather(*(client.post("/telegram", json=u, headers=headers)
                                         for u in updates for client in (first, second)))
        for update in updates:
            for client in (first, second):
                answers.append(await client.post("/telegram", json=update, headers=headers))
        assert {a.status_code for a in answers} == {200}
        await wait_until(lambda: _outbox_done(services), 20)
        assert _count(services, ProcessedUpdateRow) == len(updates)
        for n in range(10):
            # One proposal per citizen: one reply, not two or four.
            assert len(fake.texts_to(CITIZEN + n)) == 1, fake.texts_to(CITIZEN + n)


# -- a flooded and failing Bot API ----------------------------------------------------------

async def test_429_5xx_and_timeouts_for_a_while_then_everything_arrives_in_order(
        db_url: str, engine: Any, fake: FakeTelegram) -> None:
    citizens = [CITIZEN + n for n in range(12)]
    async with live_bot(db_url, engine, fake, read_timeout=0.4, overall_per_second=200.0,
                        private_chat_interval=0.02) as bot:
        fake.fail_next("sendMessage", status=429, retry_after=1, times=6)
        fake.fail_next("sendMessage", status=500, times=6)
        fake.fail_next("sendMessage", status=502, times=4)
        fake.disconnect_next("sendMessage", times=4)
        fake.delay("sendMessage", 0.8)  # longer than the client's read timeout
        for text in ("/start", "halo min", "/bantuan"):
            for citizen in citizens:
                update = fake.push_message(citizen, citizen, text)
                bot.pushed.append(update["update_id"])
        await asyncio.sleep(1.5)
        fake.delay("sendMessage", 0)  # the API recovers
        await wait_until(lambda: _outbox_done(bot.services), 25)
        await bot.settle(10)
        with bot.services.session_factory() as session:
            states = dict(session.execute(select(OutboxRow.state, func.count())
                                          .group_by(OutboxRow.state)).all())
        assert states == {"sent": 3 * len(citizens)}
        expected = expected_texts(bot.services)
        for citizen in citizens:
            delivered = fake.texts_to(citizen)
            # A timed-out call that the API did perform is repeated back to back (Telegram
            # has no idempotency key); anything else arrives once, in order.
            assert without_repeats(delivered) == expected[citizen]
        statuses = [c.status for c in fake.calls_of("sendMessage")]
        assert statuses.count(429) == 6, statuses
        assert statuses.count(500) == 6, statuses


async def test_a_blocked_citizen_is_given_up_and_others_still_get_answers(
        db_url: str, engine: Any, fake: FakeTelegram) -> None:
    async with live_bot(db_url, engine, fake, overall_per_second=200.0,
                        private_chat_interval=0.0) as bot:
        fake.fail_chat(CITIZEN)
        await bot.say(CITIZEN, CITIZEN, "/start")
        await bot.say(CITIZEN + 1, CITIZEN + 1, "/start")
        assert fake.texts_to(CITIZEN + 1)
        assert _count(bot.services, OutboxRow, OutboxRow.state == "failed") == 1


# -- pacing and priority --------------------------------------------------------------------

async def test_pacer_keeps_the_overall_rate_per_chat_interval_and_group_window() -> None:
    settings = SenderConfig(overall_per_second=100.0, group_per_minute=3,
                            private_chat_interval=0.2)
    pacer = Pacer(settings)
    started = time.monotonic()
    await asyncio.gather(*(pacer.acquire(1000 + n) for n in range(50)))
    elapsed = time.monotonic() - started
    assert 0.35 <= elapsed <= 1.0  # 50 messages at 100/s (0.1 s of credit)
    assert 0.15 < pacer.ready_in(1049) <= 0.2
    for _ in range(3):
        await pacer.acquire(-100)
    assert pacer.ready_in(-100) > 59  # the fourth message to the group waits a minute
    pacer.flood(7, 2.0)
    assert pacer.ready_in(7) > 1.9  # one chat flooded: only it waits
    assert pacer.ready_in(8) == 0
    pacer.flood(9, 2.0)
    assert pacer.ready_in(8) > 1.9  # several chats flooded: everyone waits


class RecordingTransport:
    """Accepts everything and remembers the order (with a little latency)."""

    def __init__(self) -> None:
        self.order: list[tuple[int, str]] = []
        self.ids = 0

    async def send(self, message: RenderedMessage) -> int:
        await asyncio.sleep(0.001)
        self.order.append((message.chat_id, message.text))
        self.ids += 1
        return self.ids


async def test_citizens_replies_go_before_cards_and_digests_at_the_overall_rate(
        services: Services) -> None:
    now = services.clock()
    with services.uow() as uow:
        for n in range(60):
            uow.outbox.add(Outgoing("telegram", -500 - n, "common/unknown_command",
                                    priority=Priority.DIGEST if n % 2 else Priority.CARD), now)
        uow.commit()
    with services.uow() as uow:
        for n in range(30):
            uow.outbox.add(Outgoing("telegram", 100 + n, "common/unknown_command"), now)
        uow.commit()
    transport = RecordingTransport()
    settings = SenderConfig(overall_per_second=100.0, max_in_flight=8)
    sender = OutboxSender(session_factory=services.session_factory,
                          renderer=services.renderer, transport=transport, channel="telegram",
                          helpdesk=services.helpdesk, clock=services.clock, settings=settings)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(sender.run(stop, idle_seconds=0.05))
    await wait_until(lambda: sender.pending() == 0, 10)
    elapsed = time.monotonic() - started
    stop.set()
    await task
    chats = [chat for chat, _ in transport.order]
    assert len(chats) == 90
    assert all(chat > 0 for chat in chats[:30])  # every reply before any card or digest
    assert elapsed >= 0.75  # 90 messages at 100/s


async def test_a_database_outage_in_the_sender_is_waited_out(services: Services) -> None:
    """A failing commit after a confirmed send is retried, never sent twice."""
    now = services.clock()
    with services.uow() as uow:
        uow.outbox.add(Outgoing("telegram", 4242, "common/unknown_command"), now)
        uow.commit()
    transport = RecordingTransport()
    sender = OutboxSender(session_factory=services.session_factory,
                          renderer=services.renderer, transport=transport, channel="telegram",
                          helpdesk=services.helpdesk, clock=services.clock,
                          lease_seconds=timedelta(seconds=30).total_seconds())
    real_finish = sender._finish
    failures = [2]

    def flaky_finish(row: Any, message_id: int) -> None:
        if failures[0]:
            failures[0] -= 1
            from sqlalchemy.exc import OperationalError
            raise OperationalError("COMMIT", {}, ConnectionError("server closed"))
        real_finish(row, message_id)

    sender._finish = flaky_finish  # type: ignore[method-assign]
    await sender.drain()
    assert len(transport.order) == 1
    assert _count(services, OutboxRow, OutboxRow.state == "sent") == 1
    assert _count(services, TicketRow) == 0


class StuckTransport:
    """A platform that takes its time: every send waits until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def send(self, message: RenderedMessage) -> int:
        await self.release.wait()
        return 1


async def test_the_sender_sleeps_while_its_pipeline_is_full_however_often_it_is_woken(
        services: Services) -> None:
    now = services.clock()
    with services.uow() as uow:
        for n in range(10):
            uow.outbox.add(Outgoing("telegram", 5000 + n, "common/unknown_command"), now)
        uow.commit()
    transport = StuckTransport()
    sender = OutboxSender(session_factory=services.session_factory,
                          renderer=services.renderer, transport=transport, channel="telegram",
                          helpdesk=services.helpdesk, clock=services.clock,
                          settings=SenderConfig(max_in_flight=2))
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await wait_until(lambda: len(sender._in_flight) == 2, 5)
    before = sender.rounds
    for _ in range(50):  # commits elsewhere keep waking it
        sender.wakeup.set()
        await asyncio.sleep(0.002)
    assert sender.rounds - before <= 51  # one round per wake-up at most, never a spin
    transport.release.set()
    await wait_until(lambda: sender.pending() == 0, 10)
    stop.set()
    await task
