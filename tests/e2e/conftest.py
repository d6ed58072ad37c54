"""Fixtures for end-to-end tests: a fake Bot API server and the running bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.builders import FixedClock
from tests.e2e.harness import Harness, running_bot
from tests.telegram_fake import FakeTelegram


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fake Telegram Bot API on 127.0.0.1."""
    server = FakeTelegram()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def bot(db_url: str, engine: Any, clock: FixedClock,
              fake: FakeTelegram) -> AsyncIterator[Harness]:
    """Sahut's real Application polling the fake server."""
    async with running_bot(db_url, engine, clock, fake) as harness:
        yield harness
