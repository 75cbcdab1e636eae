"""Fixtures of the store tests: an open store on each database, and a statement log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event

from labridge.store import Store, open_store
from labridge.store.engine import MIGRATIONS_DIR

WRITES = ("INSERT", "UPDATE", "DELETE")


#: PostgreSQL's write lock (``Store.begin``): a SELECT, but not one of the data.
WRITE_LOCK = "pg_advisory_xact_lock"


@dataclass
class StatementLog:
    """Every SQL statement the engine sends, as the driver receives it."""

    statements: list[str] = field(default_factory=list)

    def record(self, *args: Any) -> None:
        # before_cursor_execute(conn, cursor, statement, parameters, context, executemany)
        if WRITE_LOCK not in args[2]:  # the store's write lock, taken by every transaction
            self.statements.append(args[2])

    def clear(self) -> None:
        self.statements.clear()

    def writes(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith(WRITES)]


def head_revision() -> str | None:
    """The newest schema revision of labridge's migrations: where a freshly opened store is."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def statements(store: Store) -> Iterator[StatementLog]:
    log = StatementLog()
    event.listen(store.engine, "before_cursor_execute", log.record)
    yield log
    event.remove(store.engine, "before_cursor_execute", log.record)
