"""``labridge store backup``: a consistent copy of a SQLite store, taken while labridge runs.

SQLite's online backup API (:meth:`sqlite3.Connection.backup`) copies the database as one
transaction sees it: a ``labridge run`` writing meanwhile neither blocks it nor tears it (the
store is in WAL mode, so the writer carries on). The copy is done in a single step, because a
step-by-step backup restarts whenever another process writes, and may never finish under a busy
writer. The result is written beside its final name and renamed into place, mode 0600 (it holds
learners' personal data), and never replaces a file unless asked to.

A PostgreSQL store is backed up with PostgreSQL's own ``pg_dump``: :func:`backup` raises a
:class:`~labridge.errors.ConfigurationError` whose hint is the command to run, password left out.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from ..dburl import parse_url, sqlite_file
from ..errors import ConfigurationError

#: The files a backup may be mistaken for: the store itself and its WAL companions.
_COMPANIONS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Backup:
    """What was written: the file, its size, and the schema revision it is at (for restoring
    into a labridge at least that new)."""

    source: Path
    path: Path
    size: int
    revision: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "source": str(self.source),
            "path": str(self.path),
            "bytes": self.size,
            "schema_revision": self.revision,
        }


def backup(database_url: str, target: Path, *, force: bool = False) -> Backup:
    """Copy the store at ``database_url`` to ``target`` (a SQLite file, mode 0600). Refuses to
    replace an existing ``target`` unless ``force``; never creates the store it is asked to copy."""
    url = parse_url(database_url, "the store URL", "sqlite:///labridge.db")
    source = _store_file(url, target)
    target = _check_target(source, target, force)
    partial = _partial_file(target)
    try:
        _copy(source, partial)
        revision = _revision(partial)
        _move_into_place(partial, target, force)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(source, target, target.stat().st_size, revision)


def _store_file(url: URL, target: Path) -> Path:
    """The store's file, or why it cannot be backed up here."""
    if url.get_backend_name() == "postgresql":
        raise ConfigurationError(
            f"the store is a PostgreSQL database ({url.render_as_string(hide_password=True)}): "
            "back it up with PostgreSQL's pg_dump",
            hint=f"run: {pg_dump_command(url, target)} (the password from PGPASSWORD or "
            "~/.pgpass); restore with pg_restore --clean --dbname=...",
        )
    if url.get_backend_name() != "sqlite":
        raise ConfigurationError(
            f"labridge store backup copies SQLite stores; this one is {url.get_backend_name()}",
            hint="back it up with that database's own tools",
        )
    source = sqlite_file(url)
    if source is None:
        raise ConfigurationError(
            "the store is not a SQLite file (an in-memory or URI database)",
            hint="give the store's file with --db or [store] database_url",
        )
    if not source.is_file():
        raise ConfigurationError(
            f"there is no store at {source}",
            hint="check --db, [store] database_url and --config: the backup copies an existing "
            "store and never creates one",
        )
    return source


def pg_dump_command(url: URL, target: Path) -> str:
    """The ``pg_dump`` line that backs up the PostgreSQL store at ``url`` to ``target``: the
    custom format (``pg_restore`` reads it), the URL's host, port, user and database, never its
    password."""
    parts = ["pg_dump", "--format=custom", f"--file={target}"]
    for flag, value in (("host", url.host), ("port", url.port), ("username", url.username)):
        if value:
            parts.append(f"--{flag}={value}")
    parts.append(url.database or "labridge")
    return shlex.join(parts)


def _check_target(source: Path, target: Path, force: bool) -> Path:
    target = target.expanduser()
    if target.is_dir():
        raise ConfigurationError(
            f"{target} is a directory", hint=f"give a file name, e.g. {target / 'labridge.db'}"
        )
    if not target.parent.is_dir():
        raise ConfigurationError(
            f"the directory {target.parent} does not exist", hint="create it, or give another path"
        )
    resolved = target.resolve()
    if any(resolved == Path(f"{source.resolve()}{end}") for end in _COMPANIONS):
        raise ConfigurationError(
            f"{target} is the store itself", hint="give the backup another file name"
        )
    if target.exists() and not force:
        raise ConfigurationError(
            f"{target} already exists", hint="give another file name, or --force to replace it"
        )
    return target


def _partial_file(target: Path) -> Path:
    """An empty file beside ``target``, mode 0600 from its creation (never readable by others,
    even for a moment), for the copy to be written to before it takes ``target``'s name."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write in {target.parent}: {exc.strerror or exc}",
            hint="give a path in a directory you can write to",
        ) from None
    os.close(fd)  # mkstemp creates it 0600
    return Path(name)


def _copy(source: Path, partial: Path) -> None:
    # mode=rw: open the existing store, never create one (a typo must not make an empty store).
    uri = f"{source.resolve().as_uri()}?mode=rw"
    try:
        with (
            closing(sqlite3.connect(uri, uri=True, timeout=60)) as src,
            closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)  # pages=-1: one step, one consistent snapshot
            # The copy is one self-contained file, not a WAL database with companions.
            dst.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.DatabaseError as exc:
        raise ConfigurationError(
            f"cannot back up {source}: {exc}",
            hint="check that it is a labridge store (a SQLite file) and that you can read it",
        ) from None


def _revision(partial: Path) -> str | None:
    """The copy's Alembic revision, which also proves the copy is a readable labridge store."""
    with closing(sqlite3.connect(partial)) as copy:
        check = copy.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise ConfigurationError(
                f"the copy failed SQLite's check ({check[0] if check else 'no answer'})",
                hint="run the backup again; if it fails again, the store itself may be damaged",
            )
        try:
            row = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            raise ConfigurationError(
                "the file is a SQLite database but not a labridge store",
                hint="check --db, [store] database_url and --config",
            ) from None
    return str(row[0]) if row else None


def _move_into_place(partial: Path, target: Path, force: bool) -> None:
    if force:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails if target appeared meanwhile: never clobber
    except FileExistsError:
        raise ConfigurationError(
            f"{target} already exists", hint="give another file name, or --force to replace it"
        ) from None
    except OSError:  # a file system without hard links: checked above, so rename
        os.replace(partial, target)
