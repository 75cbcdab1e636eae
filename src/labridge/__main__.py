"""``python -m labridge``: the same as the ``labridge`` command."""

from __future__ import annotations

from .cli import main

main()
