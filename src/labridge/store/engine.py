"""Opening the store: an engine from a URL, its schema brought to the newest migration.

Any SQLAlchemy URL works; ``postgresql://`` (and ``postgres://``) are read as PostgreSQL through
psycopg 3, the driver labridge ships with. The migrations live inside the package and Alembic is
configured here in code, so an installed wheel migrates its database with no ``alembic.ini``.
Errors name the URL with its password masked: secrets never reach a message or a log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ..dburl import parse_url, scrub
from ..errors import ConfigurationError

logger = logging.getLogger(__name__)

#: The Alembic script directory, shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

_URL_EXAMPLES = "sqlite:///path/to/labridge.db or postgresql://user@host:5432/dbname"


class Store:
    """An open store: the engine and sessions on it. Close it (or use ``with``) when done."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; the caller commits, or opens transactions with ``session.begin()``."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on an exception.
        Nest further transactions with ``session.begin_nested()`` (savepoints)."""
        with self._sessions.begin() as session:
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
    try:
        engine = create_engine(sa_url)
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(
            f"cannot use the store URL {shown}: {scrub(exc, sa_url)}",
            hint=f"give a database URL such as {_URL_EXAMPLES}",
        ) from None
    _take_over_sqlite_transactions(engine)
    try:
        migrate(engine)
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, DBAPIError | CommandError):
            raise _open_error(exc, sa_url, shown) from None
        raise
    logger.debug("store %s ready", shown)
    return Store(engine)


def migrate(engine: Engine) -> None:
    """Run Alembic ``upgrade head`` on ``engine`` in one transaction."""
    with engine.begin() as connection:
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
    event.listen(engine, "connect", _disable_driver_begin)
    event.listen(engine, "begin", _emit_begin)


def _disable_driver_begin(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None


def _emit_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")
