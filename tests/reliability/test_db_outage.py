"""A database outage mid-run: the bot waits it out, loses no update, answers everyone.

The outage is made on the test's own database only (other tests and CI may share the
server, so the server is not restarted): new connections are refused
(``ALLOW_CONNECTIONS false``) and every open one is terminated, as a restart would, then
connections are allowed again. PostgreSQL only (SQLite has no server to lose).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from db.models import OutboxRow, ProcessedUpdateRow
from tests.e2e.harness import CITIZEN
from tests.reliability.conftest import live_bot, wait_until
from tests.telegram_fake import FakeTelegram

pytestmark = [pytest.mark.e2e, pytest.mark.db]


def _admin(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    name = parsed.database or ""
    admin = parsed.set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False), name


def _outage(url: str, down: bool) -> None:
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        allow = "false" if down else "true"
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {allow}')
        if down:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


async def test_workers_reconnect_after_a_database_outage(db_url: str, engine: Any) -> None:
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to lose")
    fake = FakeTelegram()
    fake.start()
    try:
        async with live_bot(db_url, engine, fake, overall_per_second=500.0,
                            private_chat_interval=0.0) as bot:
            citizens = [CITIZEN + n for n in range(20)]
            for citizen in citizens[:10]:
                bot.pushed.append(fake.push_message(citizen, citizen, "/start")["update_id"])
            await bot.settle(15)
            await asyncio.to_thread(_outage, db_url, True)
            try:
                for citizen in citizens[10:]:
                    bot.pushed.append(fake.push_message(citizen, citizen,
                                                        "/start")["update_id"])
                await asyncio.sleep(2.0)
            finally:
                await asyncio.to_thread(_outage, db_url, False)

            def done() -> bool:
                with bot.services.session_factory() as session:
                    handled = session.scalar(select(func.count())
                                             .select_from(ProcessedUpdateRow)) or 0
                    waiting = session.scalar(select(func.count()).select_from(OutboxRow)
                                             .where(OutboxRow.state != "sent")) or 0
                return handled == len(citizens) and waiting == 0

            await wait_until(done, 25, step=0.2)
            for citizen in citizens:
                assert len(fake.texts_to(citizen)) == 1, citizen
    finally:
        _outage(db_url, False)
        fake.stop()
