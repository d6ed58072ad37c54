"""outbox: partial indexes for the sender's questions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:00:00

Hand-written. Replaces ``ix_outbox_pending`` and ``ix_outbox_chat`` (which held every row
ever sent) with partial indexes over the open rows only, one per question the sender asks:
``ix_outbox_ready`` (pending rows in claim order), ``ix_outbox_open`` (is an older message
of this chat pending or in flight?) and ``ix_outbox_leased`` (in-flight rows whose lease
ran out). With statistics lagging behind a burst, PostgreSQL answered the per-chat probe
from the old state index by walking the whole backlog (~15-28 ms per claim at 5,000
queued). Runs on SQLite (batch mode) and PostgreSQL, both of which support partial indexes.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

READY = "state = 'pending'"
OPEN = "state IN ('pending', 'sending')"
LEASED = "state = 'sending'"


def _partial(predicate: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')
        batch_op.drop_index('ix_outbox_chat')
        batch_op.create_index('ix_outbox_ready', ['channel', 'priority', 'available_at', 'id'],
                              unique=False, **_partial(READY))
        batch_op.create_index('ix_outbox_open', ['channel', 'chat_id', 'id'], unique=False,
                              **_partial(OPEN))
        batch_op.create_index('ix_outbox_leased', ['channel', 'lease_until'], unique=False,
                              **_partial(LEASED))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_leased')
        batch_op.drop_index('ix_outbox_open')
        batch_op.drop_index('ix_outbox_ready')
        batch_op.create_index('ix_outbox_chat', ['channel', 'chat_id', 'id'], unique=False)
        batch_op.create_index('ix_outbox_pending', ['state', 'priority', 'available_at'],
                              unique=False)
