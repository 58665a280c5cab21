"""Engine set-up and session helpers shared by the app, the CLI and the read-only export.

SQLite gets WAL (readers never block the writer), foreign keys, a busy timeout, and explicit BEGIN
statements so that list assignment can ask for `BEGIN IMMEDIATE` (the write lock up front).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

try:  # POSIX: writers of several processes queue on an flock (see _WriteGate)
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]  # the module is absent there; None marks it

from sqlalchemy import Connection, Dialect, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine

IMMEDIATE = "study_sqlite_immediate"
"""Execution option: on SQLite, open the transaction with BEGIN IMMEDIATE."""

_configured: set[int] = set()

AnySession = Session | scoped_session[Any]
"""A Session, or Flask-SQLAlchemy's `db.session`: the proxy that stands for the request's Session."""


def normalise_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


POOL_SIZE = 16
"""Connections kept per process: at least the gunicorn threads per worker, so no request opens (and
then closes) a connection of its own; on PostgreSQL that costs a new backend process each time."""


def engine_options(url: str) -> dict[str, Any]:
    """The app's pool settings.

    No ping before each use: it cost a round trip per request (a fifth of PostgreSQL's throughput in
    benchmarks/server_throughput.py). After a database restart the first request on a stale connection
    fails with a 503 that the page retries, and SQLAlchemy then replaces every pooled connection.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return {}  # an in-memory database lives in one connection (SQLAlchemy's singleton pool)
    return {"pool_pre_ping": False, "pool_size": POOL_SIZE, "max_overflow": POOL_SIZE}


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


class _WriteGate:
    """Who may write a SQLite file next: threads of this process queue on a lock, processes on an
    flock of `<database>-writelock`. Both wake the next writer the moment the last one is done,
    where SQLite's own busy handler sleeps and polls (1, 2, 5, 10 ... ms), which left the database idle
    between writers of different gunicorn workers. SQLite's own lock still guards everything else."""

    def __init__(self, database: str | None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        if database and database != ":memory:" and fcntl is not None:
            try:
                self._fd = os.open(f"{database}-writelock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only folder: rely on SQLite's lock alone
                self._fd = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)


_gates: dict[str, _WriteGate] = {}
_gates_guard = threading.Lock()


def _process_lock(engine: Engine) -> AbstractContextManager[None]:
    """The write gate of the engine's database file (one per file, shared by all its engines)."""
    database = engine.url.database or ""
    if engine.url.query.get("uri") and database.startswith("file:"):
        database = database[len("file:") :]
    readonly = engine.url.query.get("mode") == "ro"
    key = f"memory:{id(engine)}" if database in ("", ":memory:") else os.path.abspath(database)
    with _gates_guard:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = _WriteGate(None if readonly or key.startswith("memory:") else key)
    return gate.hold()


@contextmanager
def write_lock(session: AnySession) -> Iterator[None]:
    """Run the block in a write transaction that holds the database's write lock from its first
    statement; the block commits or rolls back.

    SQLite: BEGIN IMMEDIATE, so a read is never upgraded to a write after another connection committed
    (SQLITE_BUSY_SNAPSHOT). Threads of one process first queue on a process-wide lock, which hands the
    write lock over at once instead of leaving them to SQLite's sleep-and-poll busy handler.
    PostgreSQL: a plain transaction; callers lock rows with SELECT ... FOR UPDATE or UPDATE.
    The session must not be inside a transaction already (it is committed first).
    """
    real = session() if isinstance(session, scoped_session) else session
    if real.in_transaction():
        real.commit()
    bind = real.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name != "sqlite":
        real.connection()
        yield
        return
    with _process_lock(engine):
        try:
            real.connection(execution_options={IMMEDIATE: True})
            yield
        finally:
            if real.in_transaction():  # never leave the lock held past the block
                real.rollback()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A Core connection inside a write transaction, committed when the block ends (rolled back on an
    error): the answer-saving hot path, which needs no ORM session. Same locking as `write_lock`."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _process_lock(engine), engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            yield conn


class Prepared:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor.

    For the answer-saving path, whose few statements run for every trial of every participant:
    SQLAlchemy's per-execution work (cache key, execution context, result wrapping) was about a sixth
    of a save's CPU. Values must already be in the driver's form (see `driver_value`).
    """

    def __init__(self, build: Callable[[Dialect], ClauseElement]) -> None:
        self._build = build
        self._compiled: dict[str, Compiled] = {}

    def _for(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._build(dialect).compile(dialect=dialect)
        return found

    def fetchone(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Execute with `params` on `conn` and return the first row (None when there is none)."""
        return self._execute(conn.engine, conn.connection, params, conn.invalidate)

    def fetchone_autocommit(self, engine: Engine, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Execute alone, committed by itself (psycopg's autocommit), on a pooled connection.

        For a statement that is a whole transaction (PostgreSQL's one-statement save): no SQLAlchemy
        Connection around it and no isolation level set and reset, which cost a tenth of a save.
        """
        dbapi_error = engine.dialect.loaded_dbapi.Error
        try:  # the pool's connect is not wrapped by SQLAlchemy: an outage would escape faults.py
            pooled = engine.raw_connection()
        except dbapi_error as exc:
            raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=engine.dialect) from exc
        try:
            driver = pooled.driver_connection
            assert driver is not None  # a connection just checked out of the pool is open
            try:
                driver.autocommit = True
            except dbapi_error as exc:  # a pooled connection the server closed meanwhile
                pooled.invalidate(exc)
                raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=engine.dialect) from exc
            try:
                return self._execute(engine, pooled, params, pooled.invalidate)
            finally:
                if pooled.is_valid:  # an invalidated connection is closed and never pooled again
                    driver.autocommit = False
        finally:
            pooled.close()

    def _execute(
        self,
        engine: Engine,
        pooled: PoolProxiedConnection,
        params: dict[str, Any],
        invalidate: Callable[[BaseException], None],
    ) -> Any:
        dialect = engine.dialect
        compiled = self._for(dialect)
        full = compiled.construct_params(params)
        assert full is not None  # None only for DDL; a compiled statement always has its parameters
        positions = getattr(compiled, "positiontup", None)
        args: Any = tuple(full[name] for name in positions) if positions else full
        sql = str(compiled)
        cursor = pooled.cursor()
        try:
            cursor.execute(sql, args)
            return cursor.fetchone() if cursor.description else None
        except dialect.loaded_dbapi.Error as exc:  # wrapped as SQLAlchemy would, so faults.py answers 503
            lost = dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
            if lost:  # as SQLAlchemy does: drop this connection and every other pooled one
                invalidate(exc)
                engine.dispose()  # closes the idle ones: dropping them unclosed leaks sockets
            raise DBAPIError.instance(
                sql, args, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
            ) from exc
        finally:
            cursor.close()


def driver_value(dialect: Dialect, type_: TypeEngine[Any], value: Any) -> Any:
    """`value` as SQLAlchemy would send it to the driver for a column of `type_` (e.g. SQLite stores
    times as text in its own format), so rows written through `Prepared` read back like any other."""
    process = type_.bind_processor(dialect)
    return process(value) if process is not None else value
