"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a fresh PostgreSQL database per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/labridge.db"
    else:
        yield from _postgres_database()


def _postgres_database() -> Iterator[str]:
    name = f"labridge_test_{uuid.uuid4().hex}"
    # CREATE/DROP DATABASE cannot run inside a transaction, hence AUTOCOMMIT.
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        _create_database(admin, name)
        yield (
            sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _create_database(admin: sa.Engine, name: str) -> None:
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
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


@pytest.fixture(autouse=True)
def _default_contract() -> Iterator[None]:
    """Each test starts and ends with the default contract active: a CLI command run in-process
    activates the one its settings give, process-wide (labridge.contract.activate)."""
    from labridge import contract

    with contract.using(contract.DEFAULT):
        yield
