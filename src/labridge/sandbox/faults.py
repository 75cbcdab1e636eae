"""The sandbox's test hooks: fault injection, and the last request envelopes it received.

Fault injection plays the network failures labridge's exactly-once rule must survive
(docs/reliability.md). Faults are per app and armed over HTTP::

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
- ``slow_before_commit`` (with ``"seconds": s``): the call waits ``s`` seconds *before* doing
  anything, then does the work and answers: a client with a shorter timeout gives up while LA is
  still to do the work (it happens after the client gave up, as with a slow ColdFusion).
- ``fail_before``: HTTP 503 and nothing done.

Besides the armed faults, an app may meet faults at random (:class:`RandomFaults`, the
``--fail-rate``, ``--drop-rate`` and ``--slow-rate`` of ``labridge sandbox serve``): every call
but Authenticate draws one number from a seeded generator, so a seed replays the same sequence of
faults. A fixed latency (``--latency-ms``) makes every call, Authenticate too, wait before it is
answered. Both are counted in ``faults_fired`` (``"<operation>:latency"`` for the latency).

``GET /_sandbox/last-request?operation=GetTrainers`` answers the envelope of the last call of that
operation (text/xml), so tests see exactly which members went on the wire. The last 32 calls are
kept; Authenticate never is (it carries a password). The session token in a kept envelope is
masked (its first 4 characters and "…"): a token read here opens no session. An envelope that
carries a learner (GroupEnrolment, UpdateEnrolment: any operation taking a struct) is withheld,
answered by its operation's name and a note, unless asked for with ``&personal=1``.

These are test hooks: the app serves them only when created with ``test_hooks=True``
(``labridge sandbox serve --test-hooks``); otherwise they answer 404.
"""

from __future__ import annotations

import enum
import random
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
from ..models import Token

FAULTS_PATH = "/_sandbox/faults"
LAST_REQUEST_PATH = "/_sandbox/last-request"
#: Longest delay a fault may ask for, so that a typo cannot hang a test run.
MAX_DELAY_SECONDS = 300.0
KEPT_REQUESTS = 32
#: How much of a token secret a kept envelope still shows.
SHOWN_SECRET = 4


class Mode(enum.Enum):
    DROP_AFTER_COMMIT = "drop_after_commit"
    DELAY = "delay"
    SLOW_BEFORE_COMMIT = "slow_before_commit"
    FAIL_BEFORE = "fail_before"


#: The modes that wait, and so take ``seconds``.
_TIMED = frozenset({Mode.DELAY, Mode.SLOW_BEFORE_COMMIT})


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
        raise BadFault(f"operation {str(operation)[:200]!r} is not an LA operation")
    try:
        mode = Mode(payload.get("mode"))
    except ValueError:
        raise BadFault(f"mode must be one of {[m.value for m in Mode]}") from None
    count = payload.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        shown = str(count)[:200]
        raise BadFault(f"count must be a whole number of calls, at least 1, not {shown!r}")
    return Fault(operation, mode, _seconds(mode, payload.get("seconds"))), count


def _is_operation(name: str) -> bool:
    try:
        c.operation(name)
    except KeyError:
        return False
    return True


def _seconds(mode: Mode, value: Any) -> float:
    if mode not in _TIMED:
        return 0.0
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadFault(f'{mode.value} needs "seconds": a number')
    if not 0 <= value <= MAX_DELAY_SECONDS:
        raise BadFault(f"seconds must be between 0 and {MAX_DELAY_SECONDS:g}")
    return float(value)


@dataclass(eq=False)  # removed by identity
class _Armed:
    fault: Fault
    left: int


@dataclass(frozen=True)
class RandomFaults:
    """Faults met at random by every call but Authenticate, each with its probability, and a
    latency every call waits before it is answered."""

    fail_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    latency_seconds: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        rates = {"fail_rate": self.fail_rate, "drop_rate": self.drop_rate,
                 "slow_rate": self.slow_rate}  # fmt: skip
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise BadFault(f"{name} must be between 0 and 1, not {rate:g}")
        if sum(rates.values()) > 1.0:
            raise BadFault("fail_rate + drop_rate + slow_rate must not exceed 1")
        for name, seconds in (("slow", self.slow_seconds), ("latency", self.latency_seconds)):
            if not 0.0 <= seconds <= MAX_DELAY_SECONDS:
                raise BadFault(f"the {name} must be between 0 and {MAX_DELAY_SECONDS:g} seconds")
        if self.slow_rate and not self.slow_seconds:
            raise BadFault("a slow rate needs the slow time (--slow-ms)")

    def pick(self, operation: str, draw: float) -> Fault | None:
        """The fault ``draw`` (uniform in [0, 1)) gives: one draw per call keeps a seeded
        sequence the same whatever the rates."""
        for mode, rate in ((Mode.FAIL_BEFORE, self.fail_rate),
                           (Mode.DROP_AFTER_COMMIT, self.drop_rate),
                           (Mode.SLOW_BEFORE_COMMIT, self.slow_rate)):  # fmt: skip
            if draw < rate:
                return Fault(operation, mode, self.slow_seconds if mode in _TIMED else 0.0)
            draw -= rate
        return None


class Faults:
    """The faults armed on one app, and its random faults; safe to use from uvicorn's threads."""

    def __init__(self, random_faults: RandomFaults | None = None) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []  # in the order armed
        self._fired: Counter[str] = Counter()
        self.random = random_faults or RandomFaults()
        self._rng = random.Random(self.random.seed)  # faults, not secrets

    @property
    def latency(self) -> float:
        return self.random.latency_seconds

    def met_latency(self, operation: str) -> None:
        with self._lock:
            self._fired[f"{operation}:latency"] += 1

    def next_fault(self, operation: str) -> Fault | None:
        """The fault the next call of ``operation`` meets: an armed one first, else a random one
        (never for Authenticate: a client that cannot log in tests nothing else)."""
        armed = self.take(operation)
        if armed is not None or operation == c.AUTHENTICATE.name:
            return armed
        with self._lock:
            fault = self.random.pick(operation, self._rng.random())
            if fault is not None:
                self._fired[f"{operation}:{fault.mode.value}"] += 1
        return fault

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
    if fault.mode in _TIMED:
        out["seconds"] = fault.seconds
    return out


class RequestLog:
    """The last :data:`KEPT_REQUESTS` request envelopes with their operation's name, each kept
    with its session token masked (:func:`mask_token`)."""

    def __init__(self, size: int = KEPT_REQUESTS) -> None:
        self._lock = threading.Lock()
        self._entries: deque[tuple[str, bytes]] = deque(maxlen=size)

    def record(self, operation: str, body: bytes, token: Token | None = None) -> None:
        if operation == c.AUTHENTICATE.name:
            return  # its envelope holds the password
        masked = mask_token(body, token)
        if masked is None:
            return  # a token it could not find to mask: keep nothing rather than a live token
        with self._lock:
            self._entries.append((operation, masked))

    def last(self, operation: str) -> bytes | None:
        with self._lock:
            return next((b for op, b in reversed(self._entries) if op == operation), None)


def mask_token(body: bytes, token: Token | None) -> bytes | None:
    """``body`` with each part of ``token`` masked, or ``None`` when a part is not in it as
    plain bytes (an envelope in another encoding): the log must never hold a live token. The
    ellipsis is a character reference, right whatever encoding the envelope declares."""
    if token is None:
        return body
    for secret in (token.uuid, token.id):
        raw = secret.encode("utf-8")
        if not raw:
            continue
        if raw not in body:
            return None
        body = body.replace(raw, raw[:SHOWN_SECRET] + b"&#8230;")
    return body


def carries_personal_data(operation: str) -> bool:
    """Whether a call of ``operation`` may hold a learner's personal data: it takes a struct (the
    ``User`` of GroupEnrolment and UpdateEnrolment, docs/contract.md §3.5, §3.6). An unknown
    operation is taken to, to be safe."""
    try:
        params = c.operation(operation).params
    except KeyError:
        return True
    return any(isinstance(p.type, c.StructRef) for p in params)


# ---------------------------------------------------------------------------------------------
# Meeting a fault


def unavailable(fault: Fault) -> Response:
    return PlainTextResponse(f"fault injected: {fault.operation} unavailable", status_code=503)


async def before_work(fault: Fault | None) -> None:
    """What a fault does before the call's work: ``slow_before_commit`` waits."""
    if fault is not None and fault.mode is Mode.SLOW_BEFORE_COMMIT:
        await anyio.sleep(fault.seconds)


async def deliver(fault: Fault | None, response: Response) -> Response:
    """``response`` as the fault met by its call (committed already) lets it through."""
    if fault is None or fault.mode in (Mode.FAIL_BEFORE, Mode.SLOW_BEFORE_COMMIT):
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

WITHHELD = (
    "the envelope was withheld: it holds a learner's personal data; ask for it with &personal=1"
)


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
            return PlainTextResponse(f"no {operation[:64]} request received", status_code=404)
        if carries_personal_data(operation) and request.query_params.get("personal") != "1":
            return JSONResponse({"operation": operation, "withheld": WITHHELD})
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
