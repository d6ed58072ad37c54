"""Housekeeping: delivery history, dedupe keys and abandoned drafts go once they are spent.

Each of these tables grows with every message (millions of rows a year at province scale)
and the outbox and drafts hold what citizens wrote (UU 27/2022: keep personal data no
longer than needed). Open outbox rows are never touched: only messages delivered or given
up. Safe to run from several workers at once (PostgreSQL skips rows another run holds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select

from db.models import DraftRow, OutboxRow, ProcessedUpdateRow

#: Rows deleted per transaction, so a first run over a large backlog holds no long locks.
BATCH = 5_000


@dataclass(frozen=True)
class Retention:
    """How long each kind of row is kept."""

    sent_messages: timedelta
    processed_updates: timedelta
    idle_drafts: timedelta


@dataclass(frozen=True)
class Pruned:
    """How many rows one run deleted (or would delete, on a dry run)."""

    messages: int = 0
    processed_updates: int = 0
    drafts: int = 0


def prune(engine: Engine, now: datetime, retention: Retention, *,
          dry_run: bool = False) -> Pruned:
    """Delete spent rows older than their retention; return how many."""
    outbox = OutboxRow
    spent = select(outbox.id).where(
        outbox.state.in_(("sent", "failed")),
        outbox.created_at < now - retention.sent_messages).order_by(outbox.id)
    updates = ProcessedUpdateRow.processed_at < now - retention.processed_updates
    drafts = DraftRow.updated_at < now - retention.idle_drafts
    if dry_run:
        with engine.connect() as conn:
            return Pruned(
                messages=int(conn.scalar(select(func.count()).select_from(spent.subquery()))
                             or 0),
                processed_updates=int(conn.scalar(
                    select(func.count()).select_from(ProcessedUpdateRow).where(updates)) or 0),
                drafts=int(conn.scalar(
                    select(func.count()).select_from(DraftRow).where(drafts)) or 0))
    messages = 0
    while True:
        with engine.begin() as conn:
            batch = spent.limit(BATCH)
            if conn.dialect.name == "postgresql":
                batch = batch.with_for_update(skip_locked=True)
            done = conn.execute(delete(outbox).where(outbox.id.in_(batch))).rowcount or 0
        messages += done
        if done < BATCH:
            break
    with engine.begin() as conn:
        processed = conn.execute(delete(ProcessedUpdateRow).where(updates)).rowcount or 0
        idle = conn.execute(delete(DraftRow).where(drafts)).rowcount or 0
    return Pruned(messages=messages, processed_updates=processed, drafts=idle)
