"""Exactly-once bookkeeping of escalation messages: claim a key, or learn it was taken."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import NotificationRow


def claim(session: Session, *, key: str, kind: str, target: str, at: datetime,
          ticket_id: int | None = None) -> bool:
    """Insert the key unless it exists; True when this transaction owns it now.

    On PostgreSQL a concurrent claimer of the same key waits for the first transaction and
    then gets nothing (ON CONFLICT DO NOTHING); SQLite serialises writers. Either way only
    one transaction can commit the key, and with it the message it queues.
    """
    table = NotificationRow.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(table)
            .values(key=key, kind=kind, target=target, ticket_id=ticket_id, created_at=at)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(table.c.id))
    return session.execute(stmt).first() is not None
