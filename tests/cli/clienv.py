"""What the CLI tests share (their fixtures are in conftest.py): the environment that points
``labridge`` at a sandbox and a store of the test's own, and running a command in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.sandbox.server import RunningSandbox

#: The credentials of the CLI tests' shared sandbox (``shared_sandbox``): a password no output,
#: log or error may ever show.
USERNAME = "ws-user"
PASSWORD = "Wh1sper-only"


def cli_env(
    sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    username: str = "sandbox",
    password: str = "sandbox",
    **extra: str,
) -> dict[str, str]:
    """``LABRIDGE_*`` for the sandbox and ``tmp_path/store.db``, run from ``tmp_path`` (no stray
    labridge.toml or labridge.db), with none of those variables left from the outer shell."""
    monkeypatch.chdir(tmp_path)
    values = {
        "LABRIDGE_URL": sandbox.url,
        "LABRIDGE_USERNAME": username,
        "LABRIDGE_PASSWORD": password,
        "LABRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        **extra,
    }
    for key in values:
        monkeypatch.delenv(key, raising=False)
    return values


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``labridge ARGS`` in-process: its exit code, stdout and stderr."""
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr
