"""How hard a sandbox host is being called: an ASGI middleware round a whole host (one centre's
app, or every centre of :func:`~.centres.create_centres_app`) counting its SOAP calls, the most
served at one moment and the most started within one second.

It costs a counter and a deque of start times pruned to the last second per call, in the event
loop (no lock: ASGI calls it from one thread). A call is counted from when it reaches the host to
when its answer is sent, so a ``--latency-ms`` wait or a slow fault is in flight too."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from .. import contract as c

#: The window of :attr:`Traffic.busiest_second`, in seconds.
WINDOW = 1.0


class Traffic:
    """The figures of one host: SOAP calls (``POST`` to one of ``soap_paths``, paths below the
    host's root) served, and how crowded they were."""

    def __init__(
        self, soap_paths: Iterable[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.soap_paths = frozenset(soap_paths)
        self.clock = clock
        self.calls = 0
        self.in_flight = 0
        self.in_flight_peak = 0
        self.busiest_second = 0
        self._starts: deque[float] = deque()

    def counts(self, scope: Scope) -> bool:
        """Whether a request is a SOAP call of this host."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path in self.soap_paths

    def started(self) -> None:
        """A call begins: count it, in flight and in the last second."""
        now = self.clock()
        self.calls += 1
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        starts = self._starts
        starts.append(now)
        while starts[0] <= now - WINDOW:
            starts.popleft()
        self.busiest_second = max(self.busiest_second, len(starts))

    def finished(self) -> None:
        """A call's answer is sent (or it failed, or its client left)."""
        self.in_flight -= 1

    def figures(self) -> dict[str, int]:
        """What ``/_sandbox/stats`` reports of it."""
        return {
            "calls": self.calls,
            "in_flight_peak": self.in_flight_peak,
            "busiest_second": self.busiest_second,
        }


class TrafficMiddleware:
    """Counts the SOAP calls through ``app`` in ``traffic`` (``Middleware(TrafficMiddleware,
    traffic=...)``)."""

    def __init__(self, app: ASGIApp, traffic: Traffic) -> None:
        self.app = app
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.traffic.counts(scope):
            await self.app(scope, receive, send)
            return
        self.traffic.started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.traffic.finished()


def soap_paths(prefixes: Iterable[str] = ("",)) -> set[str]:
    """Every service path of the active contract under each of ``prefixes``."""
    return {prefix + service.path for prefix in prefixes for service in c.SERVICES}
