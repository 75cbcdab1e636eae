"""labridge's clock: the one type of the clock its workflows take, and its default.

A clock is a function returning the current time, aware and in UTC; tests pass their own to move
time on. The sandbox, which plays LA, keeps its own (:mod:`labridge.sandbox.clock`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, in UTC: every clock's default."""
    return datetime.now(UTC)
