"""File modes of what holds personal data or secrets: the SQLite store, labridge.toml.

Only their owner should read them (docs/data-protection.md): labridge creates them mode 0600 and
warns, once per file and process, about an existing one its group or everyone may read.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("labridge.files")

_warned: set[str] = set()


def private(path: Path) -> bool:
    """Neither the group nor others have any access to ``path`` (or it does not exist)."""
    try:
        return not os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    except OSError:
        return True


def warn_if_shared(path: Path, what: str) -> bool:
    """Log a WARNING naming ``path`` and the ``chmod`` to run when its group or everyone may
    read it; returns whether they may. Said once per file in a process (a cycle opens the
    store many times)."""
    if private(path):
        return False
    shown = str(path)
    if shown not in _warned:
        _warned.add(shown)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        log.warning(
            "%s %s can be read by other users (mode %04o): run `chmod 600 %s`",
            what,
            shown,
            mode,
            shown,
        )
    return True
