"""The application layer: the ``labridge`` command.

- :mod:`.app` is the Typer application and its groups; :mod:`.commands` holds one module per
  command group, each a thin shell: build the settings, call one operation, render the result;
- :mod:`.operations` runs a workflow for a person (store, client, event loop and progress bar
  opened once per command); :mod:`.cycle` is the unattended cycle of ``labridge run``;
- :mod:`.console` renders tables, JSON and messages; :mod:`.shell` maps errors to exit codes and
  handles SIGTERM/SIGINT; :mod:`.logs` sets up logging; :mod:`.demo` is ``labridge demo``.

Nothing below this package imports it (docs/architecture.md).
"""

from __future__ import annotations

import sys

from . import console
from .app import app
from .commands import register

register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.err.print("interrupted")
        sys.exit(130)


__all__ = ["app", "main"]
