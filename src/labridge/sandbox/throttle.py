"""Slowing down repeated failed logins from one client address.

The sandbox is seeded with a well-known password and may be reached by others (``--host``), so
guessing a changed one must be slow. Per client address: the first ``free_failures`` failed
Authenticate calls within ``window`` seconds of each other cost nothing; after that every further
attempt waits before its password is checked, ``first_delay`` seconds after the last failure,
doubling with each failure, at most ``max_delay``. Only one attempt of a throttled client waits
at a time: another arriving meanwhile is refused at once (it would otherwise be a way to guess in
parallel). A successful login, or a quiet ``window``, forgets the client. The table is bounded
(``max_clients``, the least recently seen dropped first), so a flood of addresses cannot grow it.
The waiting is the app's (an ``await``), never a blocking sleep.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


class Throttled(Exception):
    """A login attempt refused without checking its password; the message says how long to
    wait."""


@dataclass
class _Client:
    failures: int = 0
    last_failure: float = 0.0
    waiting: bool = False


class LoginThrottle:
    """The failed-login table of one sandbox app; safe to use from uvicorn's threads."""

    def __init__(
        self,
        *,
        free_failures: int = 5,
        window: float = 60.0,
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.window = window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)

    def delay(self, failures: int) -> float:
        """How long the attempt after ``failures`` failures waits after the last one."""
        over = failures - self.free_failures
        if over < 0:
            return 0.0
        return float(min(self.max_delay, self.first_delay * 2 ** min(over, 64)))

    def admit(self, client: str) -> float:
        """Seconds this attempt from ``client`` must wait before its password is checked (0: none),
        or :class:`Throttled` when another attempt of it is waiting already. An admitted attempt
        that waits must be :meth:`release`\\d afterwards, whatever happened."""
        with self._lock:
            entry = self._fresh(client)
            if entry is None or entry.failures < self.free_failures:
                return 0.0
            wait = max(0.0, entry.last_failure + self.delay(entry.failures) - self._clock())
            if entry.waiting:
                raise Throttled(
                    f"too many failed logins from this address; try again in {wait:.0f} s"
                )
            entry.waiting = True
            return wait

    def release(self, client: str) -> None:
        with self._lock:
            entry = self._clients.get(client)
            if entry is not None:
                entry.waiting = False

    def failed(self, client: str) -> None:
        """Count a refused password."""
        with self._lock:
            entry = self._fresh(client) or self._add(client)
            entry.failures += 1
            entry.last_failure = self._clock()

    def succeeded(self, client: str) -> None:
        """A correct password: the client is forgotten."""
        with self._lock:
            self._clients.pop(client, None)

    def _fresh(self, client: str) -> _Client | None:
        """``client``'s entry, if its last failure is recent; a stale one is dropped."""
        entry = self._clients.get(client)
        if entry is None:
            return None
        if not entry.waiting and self._clock() - entry.last_failure > self.window:
            del self._clients[client]
            return None
        self._clients.move_to_end(client)
        return entry

    def _add(self, client: str) -> _Client:
        while len(self._clients) >= self.max_clients:
            self._clients.popitem(last=False)  # the least recently seen
        entry = self._clients[client] = _Client()
        return entry
