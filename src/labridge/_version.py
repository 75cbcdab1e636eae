"""The installed version: it lives in one place, pyproject.toml, and the installed metadata carries
it (read on first use of ``labridge.__version__``: importlib.metadata costs ``--help`` 40 ms)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labridge")
except PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"
