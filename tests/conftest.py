"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from labridge.sandbox.server import RunningSandbox

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment; a Rich console
# made with both set keeps that width for good, and labridge.console makes its consoles on
# import. Unset here, before any conftest or test imports labridge (this conftest imports it
# inside its fixtures), the width follows each test's COLUMNS as in a run without xdist.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


#: The local PostgreSQL server the tests create their throw-away databases on.
POSTGRES_ADMIN_URL = os.environ.get(
    "LABRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


#: Every dialect the sandbox speaks (:mod:`labridge.sandbox.dialects`): the published samples'
#: shape, and what a real ColdFusion server sends (docs/contract.md §5).
DIALECTS: tuple[str, ...] = ("samples", "coldfusion")


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    """Each sandbox dialect in turn: a test or fixture taking ``dialect`` runs once per dialect
    (the workflow tests build their sandbox with it)."""
    return str(request.param)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A sandbox of the test's own over loopback, from LA's seed (credentials ``sandbox``,
    ``sandbox``), with its test hooks (``/_sandbox/faults``, ``/_sandbox/stats``). A test module
    that needs another LA overrides ``sandbox`` (or extends it: ``def sandbox(sandbox)``)."""
    from labridge.sandbox.server import start_background

    with start_background(test_hooks=True) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a fresh PostgreSQL database per test.
    For the tests of what happens to a database with no store in it yet (migrations, the first
    open); a test that wants a store takes ``store_url``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/labridge.db"
    else:
        yield from _postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a store at the newest schema: a SQLite file (migrated when opened), or a
    PostgreSQL database of the test's own cloned from this session's migrated template (no
    migration run per test). Parametrize it indirectly with ``["postgresql"]`` and so on, as
    ``database_url``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/labridge.db"
    else:
        template: str = request.getfixturevalue("_postgres_template")
        yield from _postgres_database(template)


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated once for the session (each xdist worker has its own:
    the name is unique), the template ``store_url`` clones; dropped at the session's end."""
    from labridge.store import open_store

    name = f"labridge_template_{uuid.uuid4().hex}"
    admin = _admin_engine()
    try:
        _create_database(admin, name)
        try:
            open_store(_url_of(name)).close()  # closed: a template must have no connection
            yield name
        finally:
            _drop_database(admin, name)
    finally:
        admin.dispose()


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A database of the test's own (empty, or a copy of ``template``), dropped after it."""
    name = f"labridge_test_{uuid.uuid4().hex}"
    admin = _admin_engine()
    try:
        _create_database(admin, name, template)
        try:
            yield _url_of(name)
        finally:
            _drop_database(admin, name)
    finally:
        admin.dispose()


def _admin_engine() -> sa.Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction, hence AUTOCOMMIT.
    return sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _url_of(name: str) -> str:
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _create_database(admin: sa.Engine, name: str, template: str | None = None) -> None:
    statement = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(statement)
    except sa.exc.OperationalError as exc:
        where = admin.url.render_as_string(hide_password=True)
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        message = (
            f"PostgreSQL is not reachable at {where} ({reason}); start it or set "
            "LABRIDGE_TEST_POSTGRES_URL"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _default_contract() -> Iterator[None]:
    """Each test starts and ends with the default contract active: a CLI command run in-process
    activates the one its settings give, process-wide (labridge.contract.activate)."""
    from labridge import contract

    with contract.using(contract.DEFAULT):
        yield
