"""One reading of a SQLite URL's file (``labridge.dburl.sqlite_file``), shared by the store's
locks and its backup (and the SQL source, tests/sources/test_sql.py): each names the same file, or
none, for the same URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from labridge.dburl import parse_url, sqlite_file
from labridge.errors import ConfigurationError
from labridge.store import locks
from labridge.store.backup import backup

#: URLs that name no file: another database, SQLite in memory, SQLite through a URI.
NO_FILE = (
    "postgresql://user@host:5432/db",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///file:store.db?uri=true",
    "sqlite:///store.db?uri=true",
)


@pytest.mark.parametrize("url", NO_FILE)
def test_a_url_without_a_file_gives_no_lock_file(url: str) -> None:
    assert sqlite_file(url) is None
    assert locks.lock_path(create_engine(parse_url(url, "the URL", "")), "run") is None


@pytest.mark.parametrize("url", NO_FILE[1:])
def test_a_sqlite_url_without_a_file_is_not_backed_up(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a SQLite file"):
        backup(url, tmp_path / "copy.db")


def test_a_file_is_read_alike_by_the_locks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/./sub/../store.db"
    assert sqlite_file(url) == Path(f"{tmp_path}/./sub/../store.db")
    lock = locks.lock_path(create_engine(url), "run")
    assert lock == Path(os.path.realpath(tmp_path / "store.db")).with_name("store.db.run.lock")
