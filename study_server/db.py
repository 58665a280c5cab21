"""Engine set-up and session helpers shared by the app, the CLI and the read-only export.

SQLite gets WAL (readers never block the writer), foreign keys, a busy timeout, and explicit BEGIN
statements so that list assignment can ask for `BEGIN IMMEDIATE` (the write lock up front).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, scoped_session

IMMEDIATE = "study_sqlite_immediate"
"""Execution option: on SQLite, open the transaction with BEGIN IMMEDIATE."""

_configured: set[int] = set()


def normalise_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def configure_engine(engine: Engine) -> Engine:
    """Install the SQLite connection settings on `engine` (idempotent; no-op for PostgreSQL)."""
    if engine.dialect.name != "sqlite" or id(engine) in _configured:
        return engine
    _configured.add(id(engine))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite's own is deferred-only)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")
        if engine.url.database not in (None, "", ":memory:") and engine.url.query.get("mode") != "ro":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str, *, readonly: bool = False, **kwargs: Any) -> Engine:
    """An engine with our SQLite settings; `readonly` opens SQLite with mode=ro and makes PostgreSQL
    transactions READ ONLY, so an analysis can never change the study's data."""
    parsed = make_url(normalise_url(url))
    if readonly and parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("a read-only SQLite engine needs a database file")
        parsed = parsed.set(database=f"file:{parsed.database}", query={"mode": "ro", "uri": "true"})
    engine = configure_engine(create_engine(parsed, **kwargs))
    if readonly and parsed.get_backend_name() == "postgresql":
        engine = engine.execution_options(postgresql_readonly=True)
    return engine


@contextmanager
def write_lock(session: Session) -> Iterator[None]:
    """Start the session's transaction holding SQLite's write lock (BEGIN IMMEDIATE).

    On PostgreSQL this is a plain transaction; callers lock rows with SELECT ... FOR UPDATE.
    The session must not be inside a transaction already (it is committed/rolled back first).
    """
    real = session() if isinstance(session, scoped_session) else session
    if real.in_transaction():
        real.commit()
    real.connection(execution_options={IMMEDIATE: True})
    yield
