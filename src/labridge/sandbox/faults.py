"""The sandbox's test hooks: fault injection, and the last request envelopes it received.

Fault injection plays the network failures labridge's exactly-once rule must survive (design.md,
"Exactly once"). Faults are per app and armed over HTTP::

    POST   /_sandbox/faults  {"operation": "GroupEnrolment", "mode": "...", "count": 1}
    GET    /_sandbox/faults  the faults still armed
    DELETE /_sandbox/faults  disarm every fault

The next ``count`` (default 1) calls of ``operation`` meet the fault, whatever they turn out to
do (a call refused for its session meets it too); faults armed for one operation are met in the
order armed. ``/_sandbox/stats`` counts the calls that met one (``faults_fired``). Modes:

- ``drop_after_commit``: the call is done and committed, then the connection is dropped halfway
  through the answer's body. A networked client sees the connection close (httpx:
  ``RemoteProtocolError``); an in-process ``httpx.ASGITransport`` re-raises the app's exception,
  which is therefore an httpx transport error itself (:class:`ConnectionDropped`).
- ``delay`` (with ``"seconds": s``): the call is done and committed, then the answer waits ``s``
  seconds, so a client with a shorter timeout gives up after the work happened. (In-process
  transports have no timeouts: test that over a real socket.)
- ``fail_before``: HTTP 503 and nothing done.

``GET /_sandbox/last-request?operation=UpdateEnrolment`` answers the raw envelope of the last call
of that operation (text/xml), so tests see exactly which members went on the wire. The last 32
calls are kept; Authenticate never is (it carries a password).
"""

from __future__ import annotations

import enum
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import contract as c

FAULTS_PATH = "/_sandbox/faults"
LAST_REQUEST_PATH = "/_sandbox/last-request"
#: Longest delay a fault may ask for, so that a typo cannot hang a test run.
MAX_DELAY_SECONDS = 300.0
KEPT_REQUESTS = 32


class Mode(enum.Enum):
    DROP_AFTER_COMMIT = "drop_after_commit"
    DELAY = "delay"
    FAIL_BEFORE = "fail_before"


@dataclass(frozen=True)
class Fault:
    operation: str
    mode: Mode
    seconds: float = 0.0


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised by the app to drop a connection mid-answer. An ASGI server closes the connection on
    any exception after the answer started; httpx's ASGITransport re-raises it to the client, so
    it is an httpx transport error: in-process clients see what networked ones would."""


class BadFault(ValueError):
    """A fault request the sandbox cannot arm; the message says why."""


def parse_fault(payload: Any) -> tuple[Fault, int]:
    """The fault and count a ``POST /_sandbox/faults`` body asks for, or :class:`BadFault`."""
    if not isinstance(payload, dict):
        raise BadFault('send a JSON object: {"operation": ..., "mode": ..., "count": n}')
    operation = payload.get("operation")
    if not isinstance(operation, str) or not _is_operation(operation):
        raise BadFault(f"operation {operation!r} is not an LA operation")
    try:
        mode = Mode(payload.get("mode"))
    except ValueError:
        raise BadFault(f"mode must be one of {[m.value for m in Mode]}") from None
    count = payload.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise BadFault(f"count must be a whole number of calls, at least 1, not {count!r}")
    return Fault(operation, mode, _seconds(mode, payload.get("seconds"))), count


def _is_operation(name: str) -> bool:
    try:
        c.operation(name)
    except KeyError:
        return False
    return True


def _seconds(mode: Mode, value: Any) -> float:
    if mode is not Mode.DELAY:
        return 0.0
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadFault('a delay needs "seconds": a number')
    if not 0 <= value <= MAX_DELAY_SECONDS:
        raise BadFault(f"seconds must be between 0 and {MAX_DELAY_SECONDS:g}")
    return float(value)


@dataclass(eq=False)  # removed by identity
class _Armed:
    fault: Fault
    left: int


class Faults:
    """The faults armed on one app; safe to use from uvicorn's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []  # in the order armed
        self._fired: Counter[str] = Counter()

    def arm(self, fault: Fault, count: int = 1) -> None:
        with self._lock:
            self._armed.append(_Armed(fault, count))

    def take(self, operation: str) -> Fault | None:
        """The fault the next call of ``operation`` meets, if any (one call used up)."""
        with self._lock:
            entry = next((a for a in self._armed if a.fault.operation == operation), None)
            if entry is None:
                return None
            entry.left -= 1
            if entry.left == 0:
                self._armed.remove(entry)
            self._fired[f"{operation}:{entry.fault.mode.value}"] += 1
            return entry.fault

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [_describe(a.fault, a.left) for a in self._armed]

    def fired(self) -> dict[str, int]:
        """``"<operation>:<mode>"`` → how many calls met that fault."""
        with self._lock:
            return dict(self._fired)


def _describe(fault: Fault, left: int) -> dict[str, Any]:
    out: dict[str, Any] = {"operation": fault.operation, "mode": fault.mode.value, "count": left}
    if fault.mode is Mode.DELAY:
        out["seconds"] = fault.seconds
    return out


class RequestLog:
    """The last :data:`KEPT_REQUESTS` request envelopes, raw, with their operation's name."""

    def __init__(self, size: int = KEPT_REQUESTS) -> None:
        self._lock = threading.Lock()
        self._entries: deque[tuple[str, bytes]] = deque(maxlen=size)

    def record(self, operation: str, body: bytes) -> None:
        if operation == c.AUTHENTICATE.name:
            return  # its envelope holds the password
        with self._lock:
            self._entries.append((operation, body))

    def last(self, operation: str) -> bytes | None:
        with self._lock:
            return next((b for op, b in reversed(self._entries) if op == operation), None)


# ---------------------------------------------------------------------------------------------
# Meeting a fault


def unavailable(fault: Fault) -> Response:
    return PlainTextResponse(f"fault injected: {fault.operation} unavailable", status_code=503)


async def deliver(fault: Fault | None, response: Response) -> Response:
    """``response`` as the fault met by its call (committed already) lets it through."""
    if fault is None or fault.mode is Mode.FAIL_BEFORE:
        return response
    if fault.mode is Mode.DELAY:
        await anyio.sleep(fault.seconds)
        return response
    return _Dropped(response)


class _Dropped(Response):
    """Starts ``answer`` (status, headers, half its body), then drops the connection."""

    def __init__(self, answer: Response) -> None:
        super().__init__(answer.body, answer.status_code)
        self.raw_headers = answer.raw_headers  # its content type and full Content-Length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise ConnectionDropped("fault injected: connection dropped after commit")


# ---------------------------------------------------------------------------------------------
# Endpoints


def routes(faults: Faults, requests: RequestLog) -> list[Route]:
    async def faults_endpoint(request: Request) -> Response:
        if request.method == "POST":
            return await _arm(faults, request)
        if request.method == "DELETE":
            faults.clear()
        return JSONResponse({"armed": faults.armed()})

    async def last_request(request: Request) -> Response:
        operation = request.query_params.get("operation", "")
        if not operation:
            return PlainTextResponse("name the operation: ?operation=<name>", status_code=400)
        body = requests.last(operation)
        if body is None:
            return PlainTextResponse(f"no {operation} request received", status_code=404)
        return Response(body, media_type="text/xml; charset=utf-8")

    return [
        Route(FAULTS_PATH, faults_endpoint, methods=["GET", "POST", "DELETE"]),
        Route(LAST_REQUEST_PATH, last_request, methods=["GET"]),
    ]


async def _arm(faults: Faults, request: Request) -> Response:
    try:
        fault, count = parse_fault(await request.json())
    except ValueError as exc:  # BadFault, or a body that is not JSON
        return JSONResponse({"error": str(exc)}, status_code=400)
    faults.arm(fault, count)
    return JSONResponse({"armed": faults.armed()})
