"""Locks held in (or next to) the store, keyed by the store's identity, not by its URL's spelling.

Two uses: ``labridge run``'s single-instance lock, and each enrol or update run's *presence*, by
which another run tells a claim held by a live run from one left by a run that died.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
  connection for the holder's life. Advisory locks belong to the database, so every machine on
  one PostgreSQL store meets the same lock; the server frees it when the holder's connection dies.
- SQLite: an ``flock`` on a file beside the database, named from the database file's resolved
  real path (``/x/./store.db`` and ``/x/store.db`` are one store). The operating system frees it
  when the holder dies. The database file itself is never locked this way: closing a descriptor
  of it would drop SQLite's own POSIX locks.

An in-memory SQLite store belongs to one process: it has no file to lock, and nothing to share.
Nor does a URI store (``uri=true``) get a lock file: labridge reads no file out of a URI
(:func:`labridge.dburl.sqlite_file`), so a store that runs may share is given as a plain path.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from ..dburl import sqlite_file


class LockHeld(Exception):
    """Someone else holds the lock."""


def _pg_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(f"labridge:{name}".encode()).digest()[:8], signed=True)


def _sqlite_file(engine: Engine) -> Path | None:
    """The store's SQLite file, its real path resolved (``None`` for another database, or
    SQLite in memory or through a URI)."""
    path = sqlite_file(engine.url)
    return None if path is None else Path(os.path.realpath(path))


def lock_path(engine: Engine, name: str) -> Path | None:
    """The SQLite lock file of ``name`` for this store (``None`` for an in-memory store)."""
    db_file = _sqlite_file(engine)
    return None if db_file is None else db_file.with_name(f"{db_file.name}.{name}.lock")


@contextlib.contextmanager
def hold(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` of this store until the block ends; :class:`LockHeld` if taken."""
    if engine.dialect.name == "postgresql":
        with _hold_pg(engine, name):
            yield
        return
    path = lock_path(engine, name)
    if path is None:
        yield
        return
    with _hold_file(path):
        yield


def held(engine: Engine, name: str) -> bool:
    """Whether some live process holds the lock ``name`` of this store."""
    if engine.dialect.name == "postgresql":
        with _pg_connection(engine) as conn:
            if not _pg_try(conn, name):
                return True
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _pg_key(name)})
            return False
    path = lock_path(engine, name)
    if path is None or not path.exists():
        return False
    try:
        with _hold_file(path):
            return False
    except LockHeld:
        return True


def forget(engine: Engine, name: str) -> None:
    """Remove the lock file of a holder that is gone (nothing to do on PostgreSQL)."""
    path = lock_path(engine, name)
    if path is not None:
        path.unlink(missing_ok=True)


def sweep(engine: Engine, prefix: str) -> None:
    """Remove the SQLite lock files ``prefix*`` that no live process holds (left by runs that
    were killed), so they do not pile up beside the store."""
    db_file = _sqlite_file(engine)
    if db_file is None:
        return
    for path in db_file.parent.glob(f"{glob.escape(db_file.name)}.{prefix}*.lock"):
        try:
            with _hold_file(path):
                path.unlink(missing_ok=True)
        except (LockHeld, OSError):
            continue


@contextlib.contextmanager
def _hold_file(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(str(path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _pg_connection(engine: Engine) -> Iterator[Connection]:
    # Autocommit: the lock lives with the session, and no transaction sits open meanwhile.
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


def _pg_try(conn: Connection, name: str) -> bool:
    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _pg_key(name)}).scalar()
    return bool(got)


@contextlib.contextmanager
def _hold_pg(engine: Engine, name: str) -> Iterator[None]:
    with _pg_connection(engine) as conn:
        if not _pg_try(conn, name):
            raise LockHeld(name)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _pg_key(name)})
