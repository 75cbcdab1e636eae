"""Private by default, under the common umask 022: a new SQLite store and its WAL files are
created 0600, `labridge init` writes labridge.toml 0600 (with --force over a 0644 one too), and an
existing store or a labridge.toml holding a password that others may read gets a warning naming
the file and the chmod to run."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.config import load_settings
from labridge.store import open_store


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_store_and_its_wal_files_are_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "labridge.db"
    with open_store(f"sqlite:///{path}") as store, store.begin() as session:
        session.connection().exec_driver_sql("SELECT 1")
        files = {p.name: _mode(p) for p in tmp_path.iterdir() if p.name.startswith(path.name)}
    assert files["labridge.db"] == 0o600
    assert files["labridge.db-wal"] == 0o600
    assert files["labridge.db-shm"] == 0o600


def test_a_store_others_can_read_gets_a_warning_with_the_chmod(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shared.db"
    open_store(f"sqlite:///{path}").close()
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="labridge"):
        open_store(f"sqlite:///{path}").close()
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in warning.getMessage()
    assert f"`chmod 600 {path}`" in warning.getMessage()
    assert _mode(path) == 0o644  # labridge warns; it does not change the user's choice


def test_a_private_store_gets_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "private.db"
    open_store(f"sqlite:///{path}").close()
    with caplog.at_level(logging.WARNING):
        open_store(f"sqlite:///{path}").close()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_readable_settings_file_holding_a_password_gets_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "labridge.toml"
    path.write_text('[la]\nurl = "https://la.example"\npassword = "s3cret-canary"\n')
    os.chmod(path, 0o644)
    # A real process: the warning reaches stderr through the normal logging, and never the
    # password.
    code = f"from labridge.config import load_settings; load_settings(config_file=__import__('pathlib').Path({str(path)!r}))"  # noqa: E501
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"chmod 600 {path}" in result.stderr
    assert "s3cret-canary" not in result.stderr
    os.chmod(path, 0o600)
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert quiet.stderr == ""


def test_a_readable_settings_file_without_a_password_is_fine(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "labridge.toml"
    path.write_text('[la]\nurl = "https://la.example"\n')
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        load_settings(config_file=path)
    assert caplog.records == []


def test_init_writes_0600_and_force_makes_an_existing_file_private(tmp_path: Path) -> None:
    path = tmp_path / "labridge.toml"
    result = CliRunner().invoke(app, ["init", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert _mode(path) == 0o600
    os.chmod(path, 0o644)
    forced = CliRunner().invoke(app, ["init", "--path", str(path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert _mode(path) == 0o600
