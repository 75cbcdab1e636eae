"""Opening the store: an engine from a URL, its schema brought to the newest migration.

Any SQLAlchemy URL works; ``postgresql://`` (and ``postgres://``) are read as PostgreSQL through
psycopg 3, the driver labridge ships with. The migrations live inside the package and Alembic is
configured here in code, so an installed wheel migrates its database with no ``alembic.ini``.
Errors name the URL with its password masked: secrets never reach a message or a log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ..dburl import parse_url, scrub, sqlite_file
from ..errors import ConfigurationError
from ..filemodes import private, warn_if_shared

logger = logging.getLogger(__name__)

#: The Alembic script directory, shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

_URL_EXAMPLES = "sqlite:///path/to/labridge.db or postgresql://user@host:5432/dbname"
#: How long a SQLite writer waits for another one (another labridge process) before failing.
SQLITE_BUSY_SECONDS = 60
#: The execution option marking a connection that writes: its transaction takes the store's
#: write lock up front (see :func:`_emit_begin`), so concurrent runs queue instead of failing.
WRITE = "labridge_write"
#: PostgreSQL advisory lock keys (any fixed 64-bit numbers, per database).
PG_WRITE_LOCK = 0x6C61_6272_0001


class Store:
    """An open store: the engine and sessions on it. Close it (or use ``with``) when done."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        writer = engine.execution_options(**{WRITE: True})
        self._write_sessions = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; the caller commits, or opens transactions with ``session.begin()``."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on an exception.
        Nest further transactions with ``session.begin_nested()`` (savepoints). It holds the
        store's write lock (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL transaction-level advisory
        lock) from its start: another labridge process on the store waits its turn, and a
        read-then-write inside it never meets a conflicting writer."""
        with self._write_sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_store(url: str) -> Store:
    """Open the store at ``url`` and migrate it to the newest schema (a no-op when up to date).

    Raises :class:`~labridge.errors.ConfigurationError` when the URL is malformed, names a
    database labridge cannot use or reach, or a database migrated by a newer labridge.
    """
    sa_url = parse_url(url, "the store URL", _URL_EXAMPLES)
    shown = sa_url.render_as_string(hide_password=True)
    db_file = sqlite_file(sa_url)
    if db_file is not None:
        _private_file(db_file)
    try:
        engine = create_engine(sa_url)
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(
            f"cannot use the store URL {shown}: {scrub(exc, sa_url)}",
            hint=f"give a database URL such as {_URL_EXAMPLES}",
        ) from None
    _take_over_sqlite_transactions(engine)
    _serialise_postgres_writers(engine)
    try:
        migrate(engine)
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, DBAPIError | CommandError):
            raise _open_error(exc, sa_url, shown) from None
        raise
    if db_file is not None:
        _private_sidecars(db_file)
    logger.debug("store %s ready", shown)
    return Store(engine)


#: What SQLite keeps beside a store file while it is open (WAL, its index, a rollback journal).
SIDECARS = ("-wal", "-shm", "-journal")


def _private_file(path: Path) -> None:
    """Create a new store file readable by its owner alone (mode 0600, whatever the umask),
    before SQLite opens it: it holds learners' personal data (docs/data-protection.md). An
    existing one that others may read gets a warning with the command that fixes it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        warn_if_shared(path, "the store")
        return
    except OSError:
        return  # a missing directory, say: SQLite's own error says so when it opens
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _private_sidecars(path: Path) -> None:
    """SQLite gives its -wal and -shm files the store's mode; a private store's are set 0600
    here too, in case they were made before the store itself was private."""
    if not private(path):
        return
    for suffix in SIDECARS:
        side = path.with_name(path.name + suffix)
        try:
            os.chmod(side, 0o600)
        except OSError:
            continue  # not there (or not ours): nothing to protect


def exists(url: str) -> bool:
    """Whether the store at ``url`` was made already: its SQLite file is there, or its database
    holds labridge's tables (Alembic's version table, which the first migration writes). Asks
    without creating anything: opening a missing SQLite file would make it.

    An in-memory SQLite store counts as there (it is new by intent). Raises
    :class:`~labridge.errors.ConfigurationError` when the URL is malformed or the database
    cannot be reached, as :func:`open_store` does."""
    sa_url = parse_url(url, "the store URL", _URL_EXAMPLES)
    if sa_url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        return path is None or path.exists()
    shown = sa_url.render_as_string(hide_password=True)
    try:
        engine = create_engine(sa_url, poolclass=NullPool)
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(
            f"cannot use the store URL {shown}: {scrub(exc, sa_url)}",
            hint=f"give a database URL such as {_URL_EXAMPLES}",
        ) from None
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")
    except DBAPIError as exc:
        raise _open_error(exc, sa_url, shown) from None
    finally:
        engine.dispose()


def migrate(engine: Engine) -> None:
    """Run Alembic ``upgrade head`` on ``engine`` in one transaction, holding the store's write
    lock: two processes opening a new store at once migrate it once, one after the other."""
    with engine.execution_options(**{WRITE: True}).begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(connection: Connection) -> str | None:
    """The schema revision the database is at (``None`` before the first migration)."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest schema revision this labridge knows."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _open_error(exc: DBAPIError | CommandError, url: URL, shown: str) -> ConfigurationError:
    """Turn a failure while connecting or migrating into what the user should do about it."""
    if isinstance(exc, CommandError):
        return ConfigurationError(
            f"the store at {shown} has a schema this labridge does not know: {scrub(exc, url)}",
            hint="it was migrated by a newer labridge; upgrade labridge or use another database",
        )
    return ConfigurationError(
        f"cannot open the store at {shown}: {scrub(exc.orig or exc, url)}",
        hint="check that the database server is running and that the URL's host, port, "
        "user, password and database name are right",
    )


def _take_over_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy emit BEGIN on SQLite, so SELECTs, DDL and savepoints are transactional.

    Python's sqlite3 driver (before 3.16) begins transactions only before DML; the SQLAlchemy
    documentation ("Transactions with SQLite and the sqlite3 driver") gives this remedy.
    """
    if engine.dialect.name != "sqlite" or engine.dialect.driver != "pysqlite":
        return
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _emit_begin)


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Writers from several processes queue (busy timeout) instead of failing with "database is
    # locked"; WAL lets readers go on while one writes.
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA journal_mode = WAL")
    # Deleted rows are overwritten with zeros, not left in free pages of the file: an erased
    # learner's data must leave the file too (docs/data-protection.md).
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def _emit_begin(connection: Connection) -> None:
    # A writer takes the lock at BEGIN: a deferred transaction that reads and then writes can
    # fail at once (SQLITE_BUSY) when another process wrote in between, whatever the timeout.
    write = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _serialise_postgres_writers(engine: Engine) -> None:
    """On PostgreSQL a writing transaction takes a transaction-level advisory lock first, so
    labridge's read-then-write steps (upserts of synced sets, journal rows) never race another
    process's; row locks alone would let two inserts of one new row collide."""
    if engine.dialect.name != "postgresql":
        return
    event.listen(engine, "begin", _pg_write_lock)


def _pg_write_lock(connection: Connection) -> None:
    if connection.get_execution_options().get(WRITE, False):
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")
