"""``labridge demo``: the whole workflow against the embedded sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..shell import handles_errors


@handles_errors
def demo(
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep", help="Keep the demo's store in this directory instead of a temp one."
        ),
    ] = None,
) -> None:
    """Run the whole workflow against the embedded sandbox: start it on a free port with a
    temporary database, then sync and show the store's status, with the same code paths a real
    run uses."""
    from ..demo import run_demo

    run_demo(keep)
