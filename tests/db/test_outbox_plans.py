"""The sender's claim reads the outbox through its partial indexes, whatever the statistics.

A burst queues thousands of messages faster than the database refreshes its statistics. With
a plain state index, PostgreSQL once answered "is an older message of this chat open?" with
an anti join on the channel alone, walking the whole backlog for every candidate (~15-28 ms
per claim at 5,000 queued). These tests pin the plan's shape on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from bot.sender import _CLAIM, _EXPIRED, _SPACE_CHAT
from db.models import OutboxRow

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
GROUP = -1001000000001


def _fill(engine: Engine) -> None:
    """A backlog: one busy group with 300 queued cards, 300 citizens, 300 sent rows."""
    rows: list[dict[str, Any]] = []
    base = {"channel": "telegram", "template": "citizen/faq_answer", "context": {},
            "priority": 0, "attempts": 0, "created_at": NOW - timedelta(minutes=5),
            "sent_at": None}
    for n in range(300):
        rows.append({**base, "chat_id": 5000 + n, "state": "sent",
                     "available_at": NOW - timedelta(minutes=5), "sent_at": NOW})
        rows.append({**base, "chat_id": GROUP, "state": "pending", "priority": 1,
                     "available_at": NOW - timedelta(minutes=4)})
        rows.append({**base, "chat_id": 9000 + n, "state": "pending",
                     "available_at": NOW - timedelta(minutes=3)})
    with engine.begin() as conn:
        conn.execute(insert(OutboxRow), rows)


def _plan(engine: Engine, statement: Any, params: dict[str, Any]) -> str:
    """The database's plan for a statement, as one string."""
    with engine.connect() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        sql = str(compiled)
        values = compiled.construct_params(params)
        if conn.dialect.name == "sqlite":
            ordered = [values[name] for name in compiled.positiontup]
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(ordered)).all()
            return "\n".join(str(row[-1]) for row in rows)
        rows = conn.exec_driver_sql("EXPLAIN " + sql, values).all()
        return "\n".join(str(row[0]) for row in rows)


def test_the_claim_walks_the_ready_index_and_probes_each_chat_with_one_seek(
        engine: Engine) -> None:
    _fill(engine)
    plan = _plan(engine, _CLAIM, {"b_channel": "telegram", "b_now": NOW, "b_limit": 16})
    assert "ix_outbox_ready" in plan, plan
    if engine.dialect.name == "sqlite":
        assert "SEARCH earlier USING INDEX ix_outbox_open (channel=? AND chat_id=?)" in plan
    else:
        # A per-candidate subplan, never a join that could be planned on the channel alone.
        assert "SubPlan" in plan, plan
        assert "Join" not in plan, plan
        assert "ix_outbox_open" in plan, plan
        assert "chat_id = outbox.chat_id" in plan, plan


def test_expired_leases_are_found_through_the_leased_index(engine: Engine) -> None:
    _fill(engine)
    plan = _plan(engine, _EXPIRED, {"b_channel": "telegram", "b_now": NOW, "b_limit": 16})
    assert "ix_outbox_leased" in plan, plan
    assert "Join" not in plan, plan


def test_spacing_a_chat_touches_only_its_next_message(engine: Engine) -> None:
    _fill(engine)
    with engine.begin() as conn:
        moved = conn.execute(_SPACE_CHAT, {"b_channel": "telegram", "b_chat": GROUP,
                                           "b_later": NOW + timedelta(seconds=3)}).rowcount
    assert moved == 1
    plan = _plan(engine, _SPACE_CHAT, {"b_channel": "telegram", "b_chat": GROUP,
                                       "b_later": NOW + timedelta(seconds=3)})
    assert "ix_outbox_open" in plan, plan
