"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (psycopg2 is not a dependency)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def is_sqlite(url: str) -> bool:
    """Whether the URL points to SQLite."""
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and write-locking transactions."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", 30)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so that BEGIN IMMEDIATE
        # below is what really starts each transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # SQLite's own busy handler waits in sleeps of up to 100 ms: in one process, threads
    # queue on a lock instead (the database is single-process, so this is the only writer).
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the lock up front: no deadlocked read-to-write upgrades between
        # threads, and reference counters stay unique.
        held = writer.acquire(timeout=30)
        connection.info["sahut_writer"] = held
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    # SQLAlchemy fires these events *before* it ends the transaction, so end it here first
    # (the dialect's own COMMIT/ROLLBACK then finds no transaction and does nothing) and only
    # then let the next writer in: releasing earlier sends it into SQLite's busy handler.
    def _commit(connection: Any) -> None:
        try:
            connection.connection.dbapi_connection.commit()
        finally:
            _release(connection)

    def _rollback(connection: Any) -> None:
        try:
            connection.connection.dbapi_connection.rollback()
        except Exception:  # SQLAlchemy's own rollback runs next and reports it
            pass
        finally:
            _release(connection)

    def _release(connection: Any) -> None:
        if connection.info.pop("sahut_writer", False):
            writer.release()

    event.listen(engine, "commit", _commit)
    event.listen(engine, "rollback", _rollback)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (handlers render after committing)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
