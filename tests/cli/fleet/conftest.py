"""Fixtures of the fleet's tests: throw-away PostgreSQL databases (the fleet's own and each
tenant's store), a tenants file, and ``labridge`` run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

ADMIN = os.environ.get("LABRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN = ADMIN.replace("postgresql+psycopg://", "postgresql://")
PASSWORD_ENV = "LABRIDGE_TEST_TENANT_PASSWORD"


def _server(database: str) -> str:
    base, _, _ = ADMIN.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
def fleet_prefix() -> Iterator[str]:
    """A prefix of the test's own: the fleet's database is ``<prefix>fleet``, each tenant's store
    ``<prefix><tenant>``; every database with the prefix is dropped after the test."""
    prefix = f"lbf_{uuid.uuid4().hex[:10]}_"
    try:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{prefix}fleet"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {ADMIN}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN}")
    yield prefix
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tenants_toml(prefix: str, tenants: Sequence[Mapping[str, Any]], **fleet: Any) -> str:
    """A tenants file: the fleet at ``<prefix>fleet``; each tenant (``name``, ``url``, and
    optionally ``source``, a CSV path) with its store ``<prefix><name>``."""
    settings = {"retries": 1, "retry_wait_seconds": 0, "stalled_seconds": 3, **fleet}
    lines = ["[fleet]", f'database_url = "{_server(prefix + "fleet")}"']
    lines += [f"{key} = {_value(value)}" for key, value in settings.items()]
    lines += ["", "[defaults.la]", "timeout = 5", "deadline = 10", "settle_seconds = 0"]
    for tenant in tenants:
        name = tenant["name"]
        lines += ["", "[[tenants]]", f'name = "{name}"', f'url = "{tenant["url"]}"',
                  'username = "sandbox"', f'password_env = "{PASSWORD_ENV}"',
                  f'store = "{_server(prefix + name.replace("-", "_"))}"']  # fmt: skip
        if tenant.get("source"):
            lines += ["[[tenants.run.sources]]", f'path = "{tenant["source"]}"']
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def fleet_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return {**env, PASSWORD_ENV: "sandbox", "COLUMNS": "250", **extra}


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def labridge(tmp_path: Path) -> Run:
    """``labridge ARGS`` as a real process in ``tmp_path``; its completed process."""

    def run(
        *args: str, timeout: float = 240, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "labridge", *args], cwd=tmp_path, env=fleet_env(),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"labridge {' '.join(args)}: {done.returncode}\n{done.stderr}")
        return done

    return run


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """``labridge ARGS`` started in the background (a worker, say)."""
    return subprocess.Popen(
        [sys.executable, "-m", "labridge", *args], cwd=tmp_path, env=fleet_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def fleet_rows(prefix: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(_server(prefix + "fleet")) as conn:
        return conn.execute(query, params).fetchall()
