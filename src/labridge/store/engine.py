"""Opening the store: an engine from a URL, its schema brought to the newest migration.

Any SQLAlchemy URL works; ``postgresql://`` (and ``postgres://``) are read as PostgreSQL through
psycopg 3, the driver labridge ships with. The migrations live inside the package and Alembic is
configured here in code, so an installed wheel migrates its database with no ``alembic.ini``.
Errors name the URL with its password masked: secrets never reach a message or a log.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ..dburl import parse_url, scrub, sqlite_file
from ..errors import ConfigurationError, StoreError
from ..filemodes import private, warn_if_shared

logger = logging.getLogger(__name__)

#: The Alembic script directory, shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

_URL_EXAMPLES = "sqlite:///path/to/labridge.db or postgresql://user@host:5432/dbname"
#: How long a writer waits for another one (another labridge process, or any program holding a
#: lock on the store) before failing with a store error: SQLite's busy timeout, PostgreSQL's
#: ``lock_timeout``.
SQLITE_BUSY_SECONDS = 60
#: The execution option marking a connection that writes: its transaction takes the store's
#: write lock up front (see :func:`_emit_begin`), so concurrent runs queue instead of failing.
WRITE = "labridge_write"
#: PostgreSQL advisory lock keys (any fixed 64-bit numbers, per database).
PG_WRITE_LOCK = 0x6C61_6272_0001


class Store:
    """An open store: the engine and sessions on it. Close it (or use ``with``) when done."""

    def __init__(self, engine: Engine, shown: str = "") -> None:
        self.engine = engine
        #: The store's URL as messages show it (password masked).
        self.shown = shown
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        writer = engine.execution_options(**{WRITE: True})
        self._write_sessions = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; the caller commits, or opens transactions with ``session.begin()``."""
        with self._failures_named(), self._sessions() as session:
            yield session

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on an exception.
        Nest further transactions with ``session.begin_nested()`` (savepoints). It holds the
        store's write lock (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL transaction-level advisory
        lock) from its start: another labridge process on the store waits its turn, and a
        read-then-write inside it never meets a conflicting writer."""
        with self._failures_named(), self._write_sessions.begin() as session:
            yield session

    @contextmanager
    def _failures_named(self) -> Iterator[None]:
        """A database failure inside (the store locked, its file gone, the server down) as the
        store error that names this store and says what to do."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise store_failure(exc, self.shown) from None

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
    # hide_parameters: a failing statement's error text never quotes the values it carried
    # (learners' pushed records).
    engine = _engine(sa_url, shown, hide_parameters=True)
    _take_over_sqlite_transactions(engine)
    _serialise_postgres_writers(engine)
    try:
        migrate(engine)
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, DBAPIError) or _is_alembic_error(exc):
            raise _open_error(exc, sa_url, shown) from None
        if isinstance(exc, SQLAlchemyError):
            raise store_failure(exc, shown) from None
        raise
    if db_file is not None:
        _private_sidecars(db_file)
    logger.debug("store %s ready", shown)
    return Store(engine, shown)


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
    engine = _engine(sa_url, shown, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")
    except DBAPIError as exc:
        raise _open_error(exc, sa_url, shown) from None
    finally:
        engine.dispose()


def _engine(sa_url: URL, shown: str, **options: Any) -> Engine:
    """An engine for the store at ``sa_url``, or the error that says which URL cannot be used
    (``shown``: the URL with its password masked)."""
    try:
        return create_engine(sa_url, **options)
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(
            f"cannot use the store URL {shown}: {scrub(exc, sa_url)}",
            hint=f"give a database URL such as {_URL_EXAMPLES}",
        ) from None


_ONE_MIGRATION = threading.Lock()


def migrate(engine: Engine) -> None:
    """Run Alembic ``upgrade head`` on ``engine`` in one transaction, holding the store's write
    lock: two processes opening a new store at once migrate it once, one after the other. A
    store already at the newest revision is only read, without Alembic (which costs a command
    like ``labridge status`` most of its start-up)."""
    head = head_in_files()
    with engine.connect() as connection:
        if head is not None and current_revision(connection) == head:
            return
    from alembic import command

    # Alembic keeps the migration under way in module globals (alembic.context, .op): two
    # threads migrating two stores at once (a fleet worker's tenants) would undo each other's.
    with _ONE_MIGRATION, engine.execution_options(**{WRITE: True}).begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(connection: Connection) -> str | None:
    """The schema revision the database is at (``None`` before the first migration): the row
    Alembic keeps in ``alembic_version``."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    found = list(versions)
    return found[0] if len(found) == 1 else None


_REVISION = re.compile(r"^revision(?:: *str)? *= *[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision(?:: *[^=]+)? *= *(?:[\"']([^\"']+)[\"']|None)", re.M)


@cache
def head_in_files() -> str | None:
    """The newest revision of the migrations shipped, read from their files without Alembic:
    the one revision no other names as its ``down_revision``; ``None`` (ask Alembic) for
    anything else, a branch say. tests/store holds it equal to Alembic's own head."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            downs.add(down.group(1))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _is_alembic_error(exc: BaseException) -> bool:
    """Alembic's refusal of a revision it does not know (a store a newer labridge migrated);
    Alembic is only asked when it was imported, since only then can it have raised."""
    if "alembic" not in sys.modules:
        return False
    from alembic.util.exc import CommandError

    return isinstance(exc, CommandError)


def _open_error(exc: BaseException, url: URL, shown: str) -> ConfigurationError:
    """Turn a failure while connecting or migrating into what the user should do about it."""
    if not isinstance(exc, DBAPIError):  # Alembic's: a revision it does not know
        return ConfigurationError(
            f"the store at {shown} has a schema this labridge does not know: {scrub(exc, url)}",
            hint="it was migrated by a newer labridge; upgrade labridge or use another database",
        )
    known = _known_failure(exc, url, f"the store at {shown}")
    if known is not None:
        return known
    return StoreError(
        f"cannot open the store at {shown}: {scrub(exc.orig or exc, url)}",
        hint="check that the database server is running and that the URL's host, port, "
        "user, password and database name are right",
    )


def store_failure(exc: SQLAlchemyError, shown: str = "") -> StoreError:
    """A store error for a database failure in the middle of a command (the store locked, its
    file deleted or replaced, the server gone). The message is the driver's first line for
    SQLite, the error class and SQLSTATE for PostgreSQL: never the statement or its values."""
    where = f" at {shown}" if shown else ""
    if isinstance(exc, DBAPIError):
        known = _known_failure(exc, None, f"the store{where}")
        if known is not None:
            return known
    return StoreError(
        f"the store{where} failed: {_driver_line(exc)}",
        hint="run the command again; if it fails again, check the database server (or the "
        "SQLite file) and that no other program changed the store",
    )


def _driver_line(exc: SQLAlchemyError) -> str:
    """What went wrong, without values: SQLite's messages name tables and columns only;
    PostgreSQL's primary message may quote a value (``invalid input syntax ...: "x"``), so
    only its class and SQLSTATE are shown."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if orig is not None and sqlstate:
        return f"{type(orig).__name__} (SQLSTATE {sqlstate})"
    text = str(orig if orig is not None else type(exc).__name__)
    return text.splitlines()[0] if text else type(exc).__name__


#: PostgreSQL's lock_not_available (lock_timeout) and SQLite's "database is locked".
_PG_LOCKED = "55P03"


def _known_failure(exc: DBAPIError, url: URL | None, store: str) -> StoreError | None:
    """The failures with a precise fix: locked; not a database; a file that cannot be opened."""
    text = str(exc.orig).splitlines()[0] if exc.orig is not None else ""
    if getattr(exc.orig, "sqlstate", None) == _PG_LOCKED or text.startswith("database is locked"):
        return StoreError(
            f"{store} is locked by another program (waited {SQLITE_BUSY_SECONDS} s)",
            hint="another labridge command, or a database tool with an open transaction, holds "
            "the store: let it finish or close it, then run the command again",
        )
    if text.startswith("file is not a database"):
        return StoreError(
            f"{store} is not a labridge store: the file is not a SQLite database",
            hint="check the --db path (or [store] database_url); move that file away if "
            "labridge should create a new store there",
        )
    if text.startswith(("unable to open database file", "attempt to write a readonly")):
        return StoreError(f"cannot open {store}: {text}", hint=_file_hint(url))
    if text.startswith("no such table"):
        return StoreError(
            f"{store} lost its tables while the command ran: {text}",
            hint="was the file deleted or replaced meanwhile? check the --db path, then run "
            "the command again",
        )
    return None


def _file_hint(url: URL | None) -> str:
    """Why SQLite cannot open the file, in terms of the path."""
    database = url.database if url is not None else None
    if not database or database.startswith("file:"):
        return "check the --db path and its permissions"
    path = Path(database)
    if path.is_dir():
        return (
            f"{path} is a directory: give the path of a file inside it, e.g. {path / 'labridge.db'}"
        )
    if not path.parent.is_dir():
        return f"the directory {path.parent} does not exist: create it, or give another --db path"
    return (
        f"labridge cannot read or write {path} or its directory: check their owner and "
        f"permissions (e.g. chmod 600 {path})"
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
    event.listen(engine, "connect", _pg_connect)
    event.listen(engine, "begin", _pg_write_lock)


def _pg_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # As SQLite's busy timeout: a writer queues behind another for a while, then fails with a
    # store error naming the lock, instead of hanging for ever behind a forgotten transaction.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = {SQLITE_BUSY_SECONDS * 1000}")
    dbapi_connection.commit()


def _pg_write_lock(connection: Connection) -> None:
    if connection.get_execution_options().get(WRITE, False):
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")
