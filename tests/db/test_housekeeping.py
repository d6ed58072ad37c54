"""Housekeeping deletes spent rows past their retention and nothing that is still needed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from bot.cli import main
from bot.scheduler import run_escalation
from bot.services import Services
from db import housekeeping
from db.housekeeping import Retention, prune
from db.models import DraftRow, OutboxRow, ProcessedUpdateRow
from tests.builders import write_config

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
RETENTION = Retention(sent_messages=timedelta(days=30), processed_updates=timedelta(hours=48),
                      idle_drafts=timedelta(days=30))


def _message(chat_id: int, state: str, at: datetime) -> dict[str, Any]:
    return {"channel": "telegram", "chat_id": chat_id, "template": "citizen/faq_answer",
            "context": {"text": "pajak motor"}, "priority": 0, "state": state, "attempts": 0,
            "created_at": at, "available_at": at}


def _fill(engine: Engine, now: datetime = NOW) -> None:
    old, young = now - timedelta(days=31), now - timedelta(days=29)
    with engine.begin() as conn:
        conn.execute(insert(OutboxRow), [
            _message(1, "sent", old), _message(2, "failed", old),  # spent and old: go
            _message(3, "sent", young),                            # too young: stays
            _message(4, "pending", old), _message(5, "sending", old),  # open: always stay
        ])
        conn.execute(insert(ProcessedUpdateRow), [
            {"channel": "telegram", "update_id": 1, "processed_at": now - timedelta(hours=49)},
            {"channel": "telegram", "update_id": 2, "processed_at": now - timedelta(hours=47)},
        ])
        conn.execute(insert(DraftRow), [
            {"channel": "telegram", "chat_id": 1, "data": {}, "updated_at": old},
            {"channel": "telegram", "chat_id": 2, "data": {}, "updated_at": young},
        ])


def _left(engine: Engine) -> tuple[list[int], list[int], list[int]]:
    with engine.connect() as conn:
        return (sorted(conn.scalars(select(OutboxRow.chat_id))),
                sorted(conn.scalars(select(ProcessedUpdateRow.update_id))),
                sorted(conn.scalars(select(DraftRow.chat_id))))


def test_prune_deletes_only_spent_rows_older_than_their_retention(engine: Engine) -> None:
    _fill(engine)
    pruned = prune(engine, NOW, RETENTION)
    assert (pruned.messages, pruned.processed_updates, pruned.drafts) == (2, 1, 1)
    assert _left(engine) == ([3, 4, 5], [2], [2])
    assert prune(engine, NOW, RETENTION) == housekeeping.Pruned()  # nothing left to do


def test_a_dry_run_counts_and_deletes_nothing(engine: Engine) -> None:
    _fill(engine)
    pruned = prune(engine, NOW, RETENTION, dry_run=True)
    assert (pruned.messages, pruned.processed_updates, pruned.drafts) == (2, 1, 1)
    assert _left(engine) == ([1, 2, 3, 4, 5], [1, 2], [1, 2])


def test_a_large_history_is_deleted_in_batches(engine: Engine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "BATCH", 7)
    with engine.begin() as conn:
        conn.execute(insert(OutboxRow), [_message(n, "sent", NOW - timedelta(days=40))
                                         for n in range(30)])
    assert prune(engine, NOW, RETENTION).messages == 30
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OutboxRow)) == 0


def test_sahut_db_prune_reports_what_it_deleted(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path, engine: Engine,
                                                db_url: str) -> None:
    _fill(engine, datetime.now(UTC))  # the CLI prunes against the real clock
    config = write_config(tmp_path / "config.toml", db_url)
    capsys.readouterr()
    assert main(["--config", str(config), "db", "prune", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("Would delete 2 delivered message(s)")
    assert _left(engine) == ([1, 2, 3, 4, 5], [1, 2], [1, 2])
    assert main(["--config", str(config), "db", "prune"]) == 0
    assert capsys.readouterr().out == (
        "Deleted 2 delivered message(s) older than 30 days, 1 update id(s) older than 48 "
        "hours and 1 draft(s) idle for 30 days.\n")
    assert _left(engine) == ([3, 4, 5], [2], [2])


async def test_the_running_bot_prunes_on_its_escalation_loop(services: Services) -> None:
    _fill(services.engine, services.clock())
    stop = asyncio.Event()
    loop = asyncio.create_task(run_escalation(services, stop, interval=0.01))
    try:
        for _ in range(200):
            if _left(services.engine)[0] == [3, 4, 5]:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 10)
    assert _left(services.engine) == ([3, 4, 5], [2], [2])
