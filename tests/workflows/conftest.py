"""Fixtures of the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labridge import store


@pytest.fixture
def db(store_url: str) -> Iterator[store.Store]:
    """A migrated store on each database the suite runs on (SQLite and PostgreSQL)."""
    opened = store.open_store(store_url)
    yield opened
    opened.close()
