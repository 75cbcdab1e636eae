"""Fixtures of the CLI tests: the ``LABRIDGE_*`` environment of a test's own sandbox and store
(``env``, over the suite's ``sandbox``), and a sandbox shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labridge.sandbox.server import RunningSandbox, start_background

from .clienv import PASSWORD, USERNAME, cli_env

#: Wide enough that Rich wraps none of the lines the tests look for.
COLUMNS = "250"


@pytest.fixture
def env(sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``LABRIDGE_*`` for the test's own sandbox and ``tmp_path/store.db``, run in ``tmp_path``."""
    return cli_env(sandbox, tmp_path, monkeypatch, COLUMNS=COLUMNS)


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[RunningSandbox]:
    """One sandbox for a module's tests (``USERNAME``/``PASSWORD``): for tests that only read
    LA, or enrol learners no other test of the module looks at."""
    with start_background(username=USERNAME, password=PASSWORD) as running:
        yield running


@pytest.fixture
def shared_env(
    shared_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """``env`` for the module's ``shared_sandbox``: the store is still the test's own."""
    return cli_env(shared_sandbox, tmp_path, monkeypatch, USERNAME, PASSWORD, COLUMNS=COLUMNS)
