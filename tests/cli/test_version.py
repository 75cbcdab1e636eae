"""``labridge --version`` and the one place the version lives (pyproject.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

import labridge
from labridge.cli import app

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def test_version_flag_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"labridge {labridge.__version__}\n"


def test_the_version_comes_from_pyproject() -> None:
    declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    assert labridge.__version__ == declared
