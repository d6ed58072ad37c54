"""report facts on assignments, report indexes, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:00:00

Hand-written. Copies each ticket's opening instant and kind onto its assignments and stores
the response charged to each assignment, so reports aggregate one table through covering
indexes; adds the ``notifications`` table that makes escalation messages exactly-once.
Runs on SQLite (batch mode) and PostgreSQL.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

ACTIVE = "state IN ('open', 'claimed', 'answered', 'waiting')"


def upgrade() -> None:
    with op.batch_alter_table('ticket_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('response_seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('first_hold', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('first_answer', sa.Boolean(), nullable=True))

    # Backfill from the tickets (portable correlated subqueries).
    op.execute(
        "UPDATE ticket_assignments SET "
        "opened_at = (SELECT t.created_at FROM tickets t WHERE t.id = ticket_assignments.ticket_id), "
        "kind = (SELECT t.kind FROM tickets t WHERE t.id = ticket_assignments.ticket_id), "
        "response_seconds = COALESCE(first_response_seconds, held_seconds), "
        "first_hold = NOT EXISTS (SELECT 1 FROM ticket_assignments p "
        "  WHERE p.ticket_id = ticket_assignments.ticket_id "
        "  AND p.seq < ticket_assignments.seq AND p.opd_code = ticket_assignments.opd_code), "
        "first_answer = (first_response_seconds IS NOT NULL AND NOT EXISTS ("
        "  SELECT 1 FROM ticket_assignments p WHERE p.ticket_id = ticket_assignments.ticket_id "
        "  AND p.seq < ticket_assignments.seq AND p.opd_code = ticket_assignments.opd_code "
        "  AND p.first_response_seconds IS NOT NULL))"
    )

    with op.batch_alter_table('ticket_assignments', schema=None) as batch_op:
        # Per-OPD counts stream through this one in order (no sort, no join).
        batch_op.create_index(
            'ix_assignments_report',
            ['opd_code', 'kind', 'opened_at', 'first_hold', 'first_answer',
             'response_seconds'], unique=False)
        batch_op.create_index(
            'ix_assignments_current',
            ['ticket_id', 'opd_code', 'entered_at', 'paused_seconds', 'first_response_seconds'],
            unique=False, sqlite_where=sa.text('left_at IS NULL'),
            postgresql_where=sa.text('left_at IS NULL'))
        # Medians and p90 walk this one (ORDER BY response LIMIT/OFFSET per OPD).
        batch_op.create_index(
            'ix_assignments_response', ['opd_code', 'response_seconds', 'opened_at'],
            unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(
            'ix_tickets_report',
            ['opd_code', 'kind', 'tier', 'created_at', 'state', 'resolution_seconds', 'rating',
             'extension_reason'], unique=False)
        batch_op.create_index(
            'ix_tickets_resolution', ['opd_code', 'resolution_seconds', 'created_at'],
            unique=False)
        batch_op.create_index(
            'ix_tickets_week', ['created_at', 'kind', 'first_response_seconds'], unique=False)
        # Small partial covering indexes: only the tickets active now.
        batch_op.create_index(
            'ix_tickets_active',
            ['state', 'id', 'kind', 'tier', 'created_at', 'paused_seconds', 'waiting_since',
             'first_response_at', 'extension_reason'], unique=False,
            sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))

    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('target', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_ticket_id'), ['ticket_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_ticket_id'))
    op.drop_table('notifications')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_active')
        batch_op.drop_index('ix_tickets_week')
        batch_op.drop_index('ix_tickets_resolution')
        batch_op.drop_index('ix_tickets_report')
    with op.batch_alter_table('ticket_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_response')
        batch_op.drop_index('ix_assignments_current')
        batch_op.drop_index('ix_assignments_report')
        batch_op.drop_column('first_answer')
        batch_op.drop_column('first_hold')
        batch_op.drop_column('response_seconds')
        batch_op.drop_column('kind')
        batch_op.drop_column('opened_at')
