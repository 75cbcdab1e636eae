"""Fixtures of the report tests: a store filled with realistic progress data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labridge.store import Store, open_store

from .browser import Watch, browse
from .progress_data import fill


@pytest.fixture
def progress_store(store_url: str) -> Iterator[Store]:
    """The hand-made learners of :mod:`.progress_data`, on SQLite and on PostgreSQL."""
    with open_store(store_url) as store:
        fill(store)
        yield store


@pytest.fixture
def sqlite_progress_store(tmp_path: Path) -> Iterator[Store]:
    """The same learners in a SQLite file only: for tests about rendering, not about SQL."""
    with open_store(f"sqlite:///{tmp_path / 'progress.db'}") as store:
        fill(store)
        yield store


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, Watch]]:
    yield from browse(tmp_path, width=1280)


@pytest.fixture
def narrow_page(tmp_path: Path) -> Iterator[tuple[Any, Watch]]:
    """A phone-sized window: 400 px wide."""
    yield from browse(tmp_path, width=400)
