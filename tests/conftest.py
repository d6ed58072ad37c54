"""Shared fixtures: the test database (SQLite or PostgreSQL), config, clock and services.

Database contract (CI depends on it):

* ``SAHUT_TEST_DATABASE_URL`` unset: every database test gets a fresh SQLite file under its
  own ``tmp_path`` (a copy of a database migrated once per session, so it stays fast).
* ``SAHUT_TEST_DATABASE_URL=postgresql://user@host:port/db``: the session creates a fresh
  database ``sahut_test_<random>`` on that server, migrates it once, empties every table
  (TRUNCATE ... RESTART IDENTITY CASCADE) before each test and drops it at the end.

Every test that touches a database must be marked ``@pytest.mark.db`` (the ``db_url``
fixture refuses to serve unmarked tests), so ``pytest -m db`` selects all of them.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bot.config import Config
from bot.services import Services, build_services
from db.engine import is_sqlite, make_engine, normalise_url
from db.migrate import upgrade
from tests.builders import FixedClock, build_config

TEST_DATABASE_ENV = "SAHUT_TEST_DATABASE_URL"


def _server_url() -> str | None:
    """The PostgreSQL server to test on, or None for SQLite."""
    value = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not value or is_sqlite(value):
        return None
    return value


def _libpq(url: str, database: str | None = None) -> str:
    """A plain ``postgresql://`` URL (what libpq and users write), optionally another db."""
    parsed = make_url(normalise_url(url)).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, server_url: str) -> None:
        self.admin_url = _libpq(server_url)

    def create(self, suffix: str = "") -> str:
        """CREATE DATABASE sahut_test_<random><suffix>; return its URL."""
        name = f"sahut_test_{secrets.token_hex(4)}{suffix}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return _libpq(self.admin_url, name)

    def drop(self, url: str) -> None:
        """DROP DATABASE ... WITH (FORCE): lingering connections must not keep it alive."""
        name = make_url(url).database
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(url: str) -> None:
    """Empty every application table; the schema (and alembic_version) stays."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '15s'")
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'")]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer | None:
    """The PostgreSQL server named by SAHUT_TEST_DATABASE_URL (None: test on SQLite)."""
    server = _server_url()
    return PostgresServer(server) if server else None


@pytest.fixture(scope="session")
def _postgres_database(postgres_server: PostgresServer | None) -> Iterator[str | None]:
    """The session's migrated PostgreSQL database, dropped at the end (None on SQLite)."""
    if postgres_server is None:
        yield None
        return
    url = postgres_server.create()
    try:
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        postgres_server.drop(url)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets its own copy."""
    path = tmp_path_factory.mktemp("template") / "sahut.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # the last connection closing folds the WAL into the file
    return path


def _require_db_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("db") is None:
        pytest.fail("tests that use the database must be marked @pytest.mark.db")


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path,
           _postgres_database: str | None) -> str:
    """The test's database URL: an empty SQLite file, or the (truncated) PostgreSQL db."""
    _require_db_marker(request)
    if _postgres_database is None:
        return f"sqlite:///{tmp_path / 'sahut.db'}"
    _truncate_all(_postgres_database)
    return _postgres_database


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path,
                 postgres_server: PostgresServer | None) -> Iterator[str]:
    """A database with no schema at all (for migration tests)."""
    _require_db_marker(request)
    if postgres_server is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = postgres_server.create("_empty")
    try:
        yield url
    finally:
        postgres_server.drop(url)


@pytest.fixture
def engine(request: pytest.FixtureRequest, db_url: str,
           _postgres_database: str | None) -> Iterator[Engine]:
    """An engine on the test database, migrated to head."""
    if _postgres_database is None:
        template: Path = request.getfixturevalue("_sqlite_template")
        target = make_url(db_url).database
        assert target is not None
        shutil.copyfile(template, target)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing on Monday 2026-11-23 09:00 WIB; move it with .advance()/.set()."""
    return FixedClock()


@pytest.fixture
def config(db_url: str) -> Config:
    """Three OPDs (BAPENDA, DISHUB, DINSOS) and PPID Utama, on the test database."""
    return build_config(db_url)


@pytest.fixture
def services(config: Config, clock: FixedClock, engine: Engine) -> Iterator[Services]:
    """The composition root on the test database, with the test clock."""
    built = build_services(config, clock=clock, engine=engine)
    yield built
    built.dispose()
