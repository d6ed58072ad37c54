"""Helpers for fault tests: the real bot on a real clock, with chosen sender settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from telegram.request import HTTPXRequest

from bot.config import Config
from bot.sender import render_row
from bot.services import Services, build_services, system_clock
from bot.telegram_app import (
    build_application,
    poll_updates,
    start_background,
    stop_background,
)
from db.models import OutboxRow
from tests.builders import build_config
from tests.e2e.harness import TOKEN, Harness, seed
from tests.reliability.workers import Worker
from tests.telegram_fake import FakeTelegram

SECRET = "reliability-secret"
#: Fast retries so faults clear within seconds.
FAST_SENDER = {"retry_base_seconds": 0.05, "retry_max_seconds": 0.5, "max_attempts": 30,
               "lease_seconds": 5.0, "max_in_flight": 16}


def live_config(db_url: str, fake: FakeTelegram, **sender: Any) -> Config:
    """Configuration for the fake Bot API with the given [sender] settings."""
    return build_config(db_url, telegram={"base_url": fake.base_url,
                                          "base_file_url": fake.base_file_url},
                        sender={**FAST_SENDER, **sender},
                        env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET})


@asynccontextmanager
async def live_bot(db_url: str, engine: Any, fake: FakeTelegram, *, read_timeout: float = 5.0,
                   seed_data: bool = True, **sender: Any) -> AsyncIterator[Harness]:
    """The real Application polling the fake, on the wall clock (retries must mature)."""
    config = live_config(db_url, fake, **sender)
    services = build_services(config, clock=system_clock, engine=engine)
    if seed_data:
        seed(services)
    request = HTTPXRequest(connection_pool_size=32, read_timeout=read_timeout)
    app = build_application(config, services, request=request)
    async with app:
        await app.start()
        await start_background(app)
        stop = asyncio.Event()
        poller = asyncio.create_task(poll_updates(app, stop, long_poll=1))
        try:
            yield Harness(fake, services)
        finally:
            stop.set()
            await poller
            await stop_background(app)
            await app.stop()


def expected_texts(services: Services) -> dict[int, list[str]]:
    """What each chat should have received, in queue order, rendered like the sender does."""
    with services.session_factory() as session:
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        out: dict[int, list[str]] = {}
        for row in rows:
            out.setdefault(row.chat_id, []).append(render_row(row, services.renderer).text)
    return out


def without_repeats(texts: list[str]) -> list[str]:
    """Collapse a message repeated back to back (a timed-out send that Telegram did get)."""
    out: list[str] = []
    for text in texts:
        if not out or out[-1] != text:
            out.append(text)
    return out


async def wait_until(predicate: Any, limit: float, step: float = 0.05) -> None:
    """Poll ``predicate`` (sync, run in a thread) until true or fail after ``limit`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await asyncio.to_thread(predicate):
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Build real worker processes (:class:`~tests.reliability.workers.Worker`), logging
    under ``tmp_path``; any still running at teardown is killed."""
    made: list[Worker] = []

    def make(config: Path, db_url: str, fake: FakeTelegram,
             extra_env: Mapping[str, str] | None = None,
             run_args: Sequence[str] = ()) -> Worker:
        worker = Worker(config, db_url, fake, tmp_path, extra_env, run_args)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        if worker.alive:
            worker.kill()
