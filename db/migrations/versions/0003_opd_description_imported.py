"""remember which OPD descriptions came from an import

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 00:00:00

Hand-written. Adds ``opds.description_imported``: true when the description was stored by
``sahut faq import`` (an OPD TOML file), so start-up keeps it instead of writing config.toml's
description over it. Existing rows start false (their description follows the config, as
before). Runs on SQLite (batch mode) and PostgreSQL.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('opds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description_imported', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('opds', schema=None) as batch_op:
        batch_op.drop_column('description_imported')
