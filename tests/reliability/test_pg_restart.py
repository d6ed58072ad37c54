"""PostgreSQL restarted mid-run: the worker reconnects and carries on, nothing lost or doubled.

Unlike ``test_db_outage.py`` (which refuses connections to one database of the shared
server), this restarts a real PostgreSQL server: a private cluster started for the test
(``private_postgres.py``), never the shared server other tests use. A real worker process
(``python -m bot run``) serves citizens through the fake Bot API while the server is stopped
(``pg_ctl stop -m fast``: every connection is cut, new ones are refused), left down for a few
seconds while updates keep arriving, and started again.

Runs in the PostgreSQL pass of the suite (``SAHUT_TEST_DATABASE_URL`` set, ``-m db``) and
is skipped elsewhere: the SQLite pass has no server to restart, and running it in both
passes would only repeat the same private-cluster test. It is also skipped when the
PostgreSQL server binaries or (as root) the ``postgres`` user are missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from bot.config import load_config
from bot.services import build_services, system_clock
from db.engine import make_engine
from db.migrate import upgrade
from tests.conftest import TEST_DATABASE_ENV
from tests.reliability.private_postgres import PrivateCluster, unavailable_reason
from tests.reliability.workers import (
    Conversations,
    Worker,
    deliveries_by_row,
    observer_engine,
    outbox_rows,
    scalar,
    seed_staff,
    write_worker_config,
)
from tests.telegram_fake import FakeTelegram

pytestmark = [pytest.mark.e2e, pytest.mark.db]

FIRST_CITIZEN = 620_001
PER_PHASE = 40
#: How long the server stays down while citizens keep writing.
DOWNTIME = 3.0
LIMIT = 45.0


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A private PostgreSQL cluster on a free port, always stopped and removed."""
    if not os.environ.get(TEST_DATABASE_ENV, "").startswith("postgresql"):
        pytest.skip(f"runs in the PostgreSQL pass ({TEST_DATABASE_ENV}=postgresql://...)")
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = PrivateCluster()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


def _started_at(url: str) -> Any:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    return row[0]


async def _until(talk: Conversations, predicate: Any, limit: float, what: str) -> None:
    """Keep the citizens going (presses, staff replies) until ``predicate()`` holds."""
    deadline = time.monotonic() + limit
    while True:
        talk.press_proposals()
        if await asyncio.to_thread(predicate):
            return
        if time.monotonic() > deadline:
            lost = await asyncio.to_thread(talk.describe_lost)
            raise AssertionError(f"{what} not reached in {limit}s: {lost}")
        await asyncio.sleep(0.05)


async def test_postgresql_restart_mid_run_loses_and_repeats_nothing(
        tmp_path: Path, cluster: PrivateCluster, worker_factory: Callable[..., Worker],
        capsys: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    engine = make_engine(cluster.url)
    observer: Engine | None = None
    fake = FakeTelegram()
    fake.start()
    worker: Worker | None = None
    try:
        upgrade(engine)
        config = write_worker_config(tmp_path, cluster.url)
        staff = seed_staff(cluster.url, engine, config)
        renderer = build_services(load_config(config, env={"DATABASE_URL": cluster.url}),
                                  clock=system_clock, engine=engine).renderer
        engine.dispose()
        observer = observer_engine(cluster.url)
        worker = worker_factory(config, cluster.url, fake)
        worker.start()
        await asyncio.to_thread(worker.wait_started)
        talk = Conversations(fake, observer, FIRST_CITIZEN, staff)
        before, during, after = (
            [FIRST_CITIZEN + phase * PER_PHASE + n for n in range(PER_PHASE)]
            for phase in range(3))
        citizens = before + during + after

        # Before: the first citizens are answered and start pressing "Kirim".
        talk.complain(before)
        await _until(talk, lambda: len(talk.pressed) >= PER_PHASE // 2, LIMIT,
                     "first proposals")
        first_start = await asyncio.to_thread(_started_at, cluster.url)

        # During: the server goes down (every connection cut) and stays down a while;
        # complaints and presses keep arriving.
        await asyncio.to_thread(cluster.stop, "fast")
        down_at = time.monotonic()
        talk.complain(during)
        while time.monotonic() - down_at < DOWNTIME:
            talk.press_proposals()  # proposals delivered before the stop
            await asyncio.sleep(0.05)
        assert worker.alive, worker.log_tail()
        await asyncio.to_thread(cluster.start)
        assert await asyncio.to_thread(_started_at, cluster.url) > first_start

        # After: more citizens; everyone gets to a ticket.
        talk.complain(after)

        def finished() -> bool:
            done, waiting, _ = talk.progress()
            return (len(talk.pressed) == len(citizens) and done == len(talk.pushed)
                    and waiting == 0)

        await _until(talk, finished, LIMIT, "every conversation at its ticket")
        assert worker.alive, worker.log_tail()

        # Every update handled exactly once; one ticket per citizen.
        assert not talk.never_handled()
        assert scalar(observer, "SELECT count(*) FROM processed_updates") == len(talk.pushed)
        assert len(talk.pushed) == 2 * len(citizens)
        assert scalar(observer, "SELECT count(*) FROM tickets") == len(citizens)
        assert scalar(observer, "SELECT count(DISTINCT citizen_id) FROM tickets") == len(
            citizens)
        # Every reply queued once, sent, and delivered exactly once.
        rows = outbox_rows(observer)
        templates = Counter(row.template for row in rows)
        assert templates == {"citizen/ticket_proposal": len(citizens),
                             "citizen/ticket_opened": len(citizens),
                             "staff/ticket_card": len(citizens)}, templates
        assert {row.state for row in rows} == {"sent"}
        deliveries = deliveries_by_row(fake, rows, renderer)
        repeated = {row_id: found for row_id, found in deliveries.items() if len(found) != 1}
        assert not repeated, f"rows not delivered exactly once: {repeated}"
        for citizen in citizens:
            assert len(fake.texts_to(citizen)) == 2, (citizen, fake.texts_to(citizen))

        log = "\n".join(path.read_text(encoding="utf-8", errors="replace")
                        for path in worker.logs)
        summary = {"citizens": len(citizens), "updates": len(talk.pushed),
                   "messages": len(rows), "downtime_s": DOWNTIME,
                   "worker_warnings_about_the_database": log.count("database unavailable"),
                   "worker_logs_with_a_traceback": worker.tracebacks(),
                   "seconds": round(time.monotonic() - began, 1)}
        with capsys.disabled():
            print("\nPostgreSQL restart run:", json.dumps(summary))
        assert worker.stop() == 0, worker.log_tail()
    finally:
        if worker is not None and worker.alive:
            worker.kill()
        fake.stop()
        engine.dispose()
        if observer is not None:
            observer.dispose()
