"""kill -9 a worker at random points during a burst of 500 conversations, restart it.

A real ``python -m bot run`` process polls the fake Bot API. 500 citizens each send a
complaint, press the proposal's "Kirim" button, a ticket card reaches the OPD group, staff
reply to the card and the answer is relayed to the citizen: 1,500 updates and 2,500 outbox
messages. Meanwhile the worker is SIGKILLed a few times at seeded-random moments (when the
number of handled updates crosses random marks) and started again.

What must hold at the end:

* every update handled exactly once; every citizen has exactly one ticket; every
  conversation queued exactly its five messages (no duplicated effect of a redelivery);
* every outbox row is ``sent`` and its recorded ``message_id`` is a message the fake Bot
  API really delivered to that chat with that text;
* nothing is delivered again after it was confirmed: a row's confirmed message is its last
  delivery, and no row that was ``sent`` in the snapshot taken right before a kill is
  delivered by a later incarnation.

The honest part: Telegram has no idempotency key, so a message whose send was in flight
when the process died (delivered, not yet recorded) is delivered again by the next
incarnation (at-least-once). The test counts those duplicates and asserts each one is
explained by a kill: every delivery of a duplicated row comes from a different incarnation,
all but the last of which were killed before they could record it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bot.config import load_config
from bot.render import Renderer
from bot.services import build_services, system_clock
from tests.reliability.workers import (
    FAST_SENDER,
    Conversations,
    Delivery,
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

CONVERSATIONS = 500
KILLS = 4
SEED = 20261123
FIRST_CITIZEN = 610_001
#: Per conversation: proposal, ticket opened, card, staff acknowledgement, relayed answer.
TEMPLATES_PER_CONVERSATION = {
    "citizen/ticket_proposal": 1, "citizen/ticket_opened": 1, "staff/ticket_card": 1,
    "staff/answered": 1, "citizen/staff_answer": 1,
}
#: Generous bounds for a loaded 2-core machine (a run takes 60-85 s here).
RUN_LIMIT = 100.0
STALL_LIMIT = 15.0


@dataclass
class Kill:
    """One SIGKILL: which incarnation, when, and what was confirmed just before."""

    incarnation: int
    at: float
    mark: int
    processed: int
    confirmed: frozenset[int]


@dataclass
class Run:
    """The conversations plus the worker that is killed on cue."""

    talk: Conversations
    worker: Worker
    rng: random.Random
    citizens: list[int]
    kills: list[Kill] = field(default_factory=list)

    def kill_now(self, mark: int, processed: int) -> None:
        """Snapshot what is confirmed, SIGKILL the worker, start the next incarnation."""
        with self.talk.engine.connect() as conn:
            confirmed = frozenset(int(i) for i in conn.execute(text(
                "SELECT id FROM outbox WHERE state = 'sent'")).scalars())
        incarnation = self.worker.incarnation
        self.worker.kill()
        self.kills.append(Kill(incarnation, time.time(), mark, processed, confirmed))
        self.worker.start()


def _kill_marks(rng: random.Random, total: int) -> list[int]:
    """Random points (numbers of handled updates) at which to kill, well apart.

    The first lands while the burst of complaints is being worked off (hundreds of updates
    fetched from the Bot API and not yet handled), the others anywhere later: during presses,
    card deliveries, staff answers and relays.
    """
    burst = total // 3
    first = rng.randrange(burst // 10, burst * 8 // 10)
    while True:
        rest = sorted(rng.sample(range(burst, total * 9 // 10), KILLS - 1))
        marks = [first, *rest]
        if all(b - a >= total // 15 for a, b in itertools.pairwise(marks)):
            return marks


def _handled(engine: Engine) -> int:
    return int(scalar(engine, "SELECT count(*) FROM processed_updates") or 0)


async def _killer(run: Run, marks: list[int]) -> None:
    """SIGKILL the worker soon after the number of handled updates crosses each mark."""
    for mark in marks:
        while True:  # another process's progress: polled
            if (await asyncio.to_thread(_handled, run.talk.engine) >= mark
                    and run.worker.started()):
                break
            await asyncio.sleep(0.01)
        # A random extra moment after the mark, so kills land mid-batch and mid-send.
        await asyncio.sleep(run.rng.uniform(0.0, 0.05))
        handled = await asyncio.to_thread(_handled, run.talk.engine)
        await asyncio.to_thread(run.kill_now, mark, handled)


async def _drive(run: Run, marks: list[int]) -> None:
    """Push the burst, follow every conversation to its end, kill at the marks."""
    talk = run.talk
    total = 3 * len(run.citizens)
    talk.complain(run.citizens)  # the burst: every complaint at once
    killer = asyncio.create_task(_killer(run, marks))
    started = time.monotonic()
    last_progress, last_done = started, (-1, -1)
    try:
        while True:
            talk.press_proposals()
            done, waiting, sent = await asyncio.to_thread(talk.progress)
            now = time.monotonic()
            if (done, sent) != last_done:
                last_done, last_progress = (done, sent), now
            if done >= total and waiting == 0 and killer.done():
                killer.result()
                return
            talk.answer_cards(await asyncio.to_thread(talk.cards))
            if now - last_progress > STALL_LIMIT or now - started > RUN_LIMIT:
                lost = await asyncio.to_thread(talk.describe_lost)
                raise AssertionError(
                    f"run stalled after {now - started:.0f}s: {lost}; outbox waiting "
                    f"{waiting}; kills (mark, handled) "
                    f"{[(k.mark, k.processed) for k in run.kills]}; worker alive "
                    f"{run.worker.alive}")
            await asyncio.sleep(0.05)
    finally:
        killer.cancel()


def _check(run: Run, renderer: Renderer, report: Callable[[dict[str, Any]], None]) -> None:
    engine, n = run.talk.engine, len(run.citizens)
    # -- every update exactly once, every citizen exactly one ticket -------------------------
    assert not run.talk.never_handled(), run.talk.describe_lost()
    assert _handled(engine) == len(run.talk.pushed)
    with engine.connect() as conn:
        per_citizen: dict[str, int] = dict(conn.execute(text(
            "SELECT c.external_id, count(t.id) FROM tickets t "
            "JOIN citizens c ON c.id = t.citizen_id GROUP BY c.external_id")).all())
    assert len(per_citizen) == n, f"{n - len(per_citizen)} citizens have no ticket"
    assert set(per_citizen.values()) == {1}, {k: v for k, v in per_citizen.items() if v != 1}
    assert scalar(engine, "SELECT count(*) FROM tickets") == n
    # -- each conversation queued exactly its messages, all sent ------------------------------
    rows = outbox_rows(engine)
    templates = Counter(row.template for row in rows)
    assert templates == {t: c * n for t, c in TEMPLATES_PER_CONVERSATION.items()}, templates
    per_chat = Counter((row.chat_id, row.template) for row in rows if row.chat_id > 0)
    assert set(per_chat.values()) == {1}, "a citizen got a reply queued twice"
    states = Counter(row.state for row in rows)
    assert states == {"sent": len(rows)}, states
    # -- deliveries at the fake: confirmed once, repeated only across a kill ------------------
    deliveries = deliveries_by_row(run.talk.fake, rows, renderer)
    killed = {k.incarnation for k in run.kills}
    duplicated: dict[int, list[Delivery]] = {}
    for row in rows:
        found = deliveries[row.id]
        assert found, f"outbox row {row.id} ({row.template}) is 'sent' but never arrived"
        assert row.message_id == found[-1].message_id, (
            f"row {row.id}: confirmed message {row.message_id}, but it was delivered again "
            f"afterwards: {found}")
        if len(found) > 1:
            duplicated[row.id] = found
            by = [d.incarnation for d in found]
            assert len(set(by)) == len(by), f"row {row.id} sent twice by one process: {found}"
            assert all(i in killed for i in by[:-1]), (
                f"row {row.id}: an earlier copy came from a process that was not killed: "
                f"{found}")
    for kill in run.kills:
        for row_id in kill.confirmed:
            again = [d for d in deliveries[row_id] if d.incarnation > kill.incarnation]
            assert not again, f"row {row_id} was confirmed before kill {kill} yet sent again"
    extra = sum(len(found) - 1 for found in duplicated.values())
    # At most what the killed processes had in flight.
    assert extra <= len(run.kills) * FAST_SENDER["max_in_flight"], extra
    template_of = {row.id: row.template for row in rows}
    by_template = Counter(template_of[row_id] for row_id in duplicated)
    report({
        "conversations": n, "updates": len(run.talk.pushed), "outbox_rows": len(rows),
        "kills": [{"incarnation": k.incarnation, "mark": k.mark, "handled": k.processed,
                   "confirmed_before": len(k.confirmed)} for k in run.kills],
        "rows_delivered_twice_or_more": len(duplicated),
        "extra_deliveries": extra,
        "duplicates_by_template": dict(by_template),
        "relayed_answers_duplicated": by_template.get("citizen/staff_answer", 0),
    })


async def test_kill9_during_a_burst_of_500_conversations_loses_and_repeats_nothing_confirmed(
        tmp_path: Path, db_url: str, engine: Engine, worker_factory: Callable[..., Worker],
        capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeTelegram()
    fake.start()
    worker: Worker | None = None
    observer: Engine | None = None
    try:
        config_path = write_worker_config(tmp_path, db_url)
        staff = await asyncio.to_thread(seed_staff, db_url, engine, config_path)
        renderer = build_services(load_config(config_path, env={"DATABASE_URL": db_url}),
                                  clock=system_clock, engine=engine).renderer
        observer = observer_engine(db_url)
        worker = worker_factory(config_path, db_url, fake)
        worker.start()
        await asyncio.to_thread(worker.wait_started)
        rng = random.Random(SEED)
        citizens = [FIRST_CITIZEN + n for n in range(CONVERSATIONS)]
        run = Run(Conversations(fake, observer, FIRST_CITIZEN, staff), worker, rng, citizens)
        started = time.monotonic()
        await _drive(run, _kill_marks(rng, 3 * CONVERSATIONS))
        elapsed = time.monotonic() - started
        assert len(run.kills) == KILLS
        assert worker.alive, worker.log_tail()
        summary: dict[str, Any] = {}
        _check(run, renderer, summary.update)
        summary["seconds"] = round(elapsed, 1)
        summary["worker_logs_with_a_traceback"] = worker.tracebacks()
        with capsys.disabled():
            print("\nkill -9 run:", json.dumps(summary))
        assert worker.stop() == 0, worker.log_tail()
    finally:
        if worker is not None and worker.alive:
            worker.kill()
        fake.stop()
        if observer is not None:
            observer.dispose()
