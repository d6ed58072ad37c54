"""Schema migrations (db.migrate): from empty to head, idempotent, and matching the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from db.engine import make_engine
from db.migrate import SchemaOutOfDate, check_current, current_revision, head_revision, upgrade
from db.models import Base

pytestmark = pytest.mark.db


def test_migrations_run_from_an_empty_database_and_check_current_passes(
        empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="sahut db upgrade"):
            check_current(engine)
        assert current_revision(engine) is None
        before, after = upgrade(engine)
        assert (before, after) == (None, head_revision())
        check_current(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    head = head_revision()
    assert upgrade(engine) == (head, head)
    check_current(engine)


def test_the_migrations_build_exactly_the_schema_of_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
