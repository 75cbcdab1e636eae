"""Each tenant's store: a PostgreSQL database of its own, made when the fleet first needs it."""

from __future__ import annotations

import threading

import psycopg
from psycopg import sql

from ... import dburl
from ...errors import ConfigurationError, StoreError

_made: set[str] = set()
_lock = threading.Lock()


def ensure(url: str, *, create: bool) -> None:
    """Make the tenant's PostgreSQL database if it is missing and ``create``; labridge then
    migrates it when it opens it. A SQLite store needs nothing (its file is made on open). Once
    per process per store."""
    parsed = dburl.parse_url(url, "the tenant's store URL", "postgresql://user@host/db")
    if parsed.get_backend_name() != "postgresql" or url in _made:
        return
    with _lock:
        if url in _made:
            return
        database = parsed.database or ""
        server = parsed.set(drivername="postgresql", database="postgres")
        try:
            with psycopg.connect(server.render_as_string(hide_password=False),
                                 autocommit=True) as conn:  # fmt: skip
                found = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
                ).fetchone()
                if found is None:
                    if not create:
                        raise ConfigurationError(
                            f"the store {dburl.shown(url)} does not exist",
                            hint="run `labridge tenants check --create`, or set [fleet] "
                            "create_stores = true",
                        )
                    _create(conn, database)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot make the store {dburl.shown(url)}: {dburl.scrub(exc, parsed)}",
                hint="the fleet's PostgreSQL user needs CREATEDB, or make the database by hand",
            ) from None
        _made.add(url)


def _create(conn: psycopg.Connection[object], database: str) -> None:
    try:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg.errors.DuplicateDatabase:
        pass  # another worker made it first
    except psycopg.errors.UniqueViolation:
        pass  # the same race, seen by the catalogue's index
