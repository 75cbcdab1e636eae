"""The sandbox web app: LA's SOAP services over HTTP (docs/contract.md §1, §2).

``POST <service path>`` dispatches a call, ``GET <service path>?wsdl`` answers the service's
WSDL, ``GET /_sandbox/stats`` reports what the sandbox holds, how often each operation was
called, how many calls met an injected fault, and how hard it was called (``soap_calls``,
``in_flight_peak``, ``busiest_second``: :mod:`.traffic`; many centres on one host:
:mod:`.centres`). The test hooks, ``/_sandbox/faults`` and
``/_sandbox/last-request`` (:mod:`.faults`) and ``/_sandbox/clock`` (moves the sandbox's "now",
:mod:`.clock`), exist only in an app created with ``test_hooks=True``: anyone who can reach them
can break calls or read envelopes. ``stats`` stays, read-only and without a name, token or
envelope in it (counts only), so that a sandbox can be checked on without them.

A closed sandbox also bounds its clients: a request body must arrive within ``read_timeout``
seconds (a client sending a byte a second is cut off, :func:`read_capped`); repeated failed
logins from one address are slowed down (:mod:`.throttle`); a message echoes at most
:data:`~.rules.ECHO_LIMIT` characters of a bad value.

Every problem with a message is a SOAP 1.1 ``soapenv:Client`` fault with HTTP 500, but what LA
itself refuses to answer (an unknown CandidateUUID) is a ``soapenv:Server.userException`` fault,
as ColdFusion gives any exception a component throws; an unexpected error is a ``soapenv:Server``
fault, logged; nothing a client sends crashes or hangs the app.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import contract as c
from ..errors import ProtocolError
from ..soap import DEFAULT_LIMITS, Limits, decode_request
from ..soap import Request as Call
from ..soap.xml import collect_capped
from . import clock as sandbox_clock
from . import faults, services
from .clock import Clock, SandboxClock, utc_now
from .db import SandboxDB
from .defaults import SANDBOX_PASSWORD, SANDBOX_USERNAME, Dialect, parse_dialect
from .dialects import SPEAKERS, Speaker
from .faults import Fault, Faults, Mode, RandomFaults, RequestLog
from .rules import shown
from .seed import Generated
from .sessions import SESSION_LIFETIME, SessionRefused, Sessions
from .throttle import LoginThrottle, Throttled
from .traffic import Traffic, TrafficMiddleware, soap_paths

log = logging.getLogger("labridge.sandbox")

T = TypeVar("T")
#: Worker threads a sandbox answers in (see :meth:`Sandbox.in_thread`).
WORKERS = 2

#: SOAP 1.1 fault codes (the envelope of encode_fault binds the ``soapenv`` prefix).
CLIENT_FAULT = "soapenv:Client"
SERVER_FAULT = "soapenv:Server"
#: What Axis (ColdFusion) answers for an exception a component throws (docs/contract.md §2 uses it
#: too).
USER_EXCEPTION_FAULT = c.AUTH_FAULTCODE

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
#: The largest request body the sandbox reads by default: its callers' envelopes (an enrolment,
#: a query) are a few KiB, so a bigger one is refused before parsing (``--max-body-mib``).
DEFAULT_MAX_BODY_MIB = 1.0
#: Elements (and ids) one request may hold: an enrolment envelope has about a hundred, so a
#: body raised to 16 MiB of tiny elements is still refused after a few hundred KiB of parsing.
MAX_REQUEST_ELEMENTS = 50_000
STATS_PATH = "/_sandbox/stats"
#: Seconds a client has to send a request's body (and, in :mod:`.server`, its headers).
DEFAULT_READ_TIMEOUT = 30.0
#: The longest fault text: a safety net behind :func:`.rules.shown` for messages that quote what
#: a client sent (an id, an href) from code outside the sandbox.
MAX_FAULT_TEXT = 400

Endpoint = Callable[[Request], Awaitable[Response]]


def _xml(content: bytes, status_code: int = 200) -> Response:
    return Response(content, status_code=status_code, media_type=XML_MEDIA_TYPE)


def _message(exc: Exception) -> str:
    # LabridgeError.__str__ appends a hint meant for labridge's own users; a fault says only what.
    text = str(exc.args[0]) if exc.args else exc.__class__.__name__
    return text if len(text) <= MAX_FAULT_TEXT else text[: MAX_FAULT_TEXT - 1] + "\u2026"


class ReadTimeout(ProtocolError):
    """A client too slow sending its request; the connection is closed after the answer."""


class Sandbox:
    """The state of one sandbox app and the code that answers its requests."""

    def __init__(
        self,
        db: SandboxDB,
        sessions: Sessions,
        limits: Limits,
        clock: SandboxClock,
        speaker: Speaker = SPEAKERS[Dialect.SAMPLES],
        random_faults: RandomFaults | None = None,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.db = db
        self.speaker = speaker
        self.sessions = sessions
        self.limits = limits
        self.clock = clock
        self.context = services.Context(db, clock)
        self.faults = Faults(random_faults)
        self.requests = RequestLog()
        self.read_timeout = read_timeout
        self.throttle = LoginThrottle() if throttle is None else throttle  # len() 0 is falsy
        self.traffic = Traffic(soap_paths())  # counted by the app's TrafficMiddleware
        self._workers: anyio.CapacityLimiter | None = None  # made in the event loop, on first use

    # -- HTTP ----------------------------------------------------------------------------------

    def endpoint(self, service: c.Service) -> Endpoint:
        async def soap_endpoint(request: Request) -> Response:
            if request.method in ("GET", "HEAD"):
                return self.describe(service, request)
            return await self.call(service, request)

        return soap_endpoint

    def describe(self, service: c.Service, request: Request) -> Response:
        served = [op.name for op in service.operations]  # each has a handler (services.HANDLERS)
        if any(key.lower() == "wsdl" for key in request.query_params):
            # Its own URL: under a Mount (a centre of a host), base_url lacks the centre's path.
            address = str(request.url.replace(query=""))
            return _xml(self.speaker.wsdl(service, address, served))
        listing = ", ".join(served) or "none"
        return PlainTextResponse(
            f"Learning Assistant sandbox: {service.name} service ({service.file}).\n"
            f"POST SOAP 1.1 calls here; GET {service.path}?wsdl for its WSDL.\n"
            f"Operations: {listing}.\n"
        )

    async def in_thread(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` in a worker thread, at most :data:`WORKERS` at once: the calls are
        short and share one GIL, and forty threads contending for it (anyio's default) cost
        several times the CPU of two (GetProgress driven by wrk, docs/benchmarks.md: 2.5 ms of
        CPU a call at 4 in flight and 7.6 at 64 with forty threads, 2.1-2.6 with four, 1.7-1.9
        with two). Waits
        (latency, slow faults, throttled logins) are awaited in the event loop, holding none."""
        if self._workers is None:
            self._workers = anyio.CapacityLimiter(WORKERS)
        return await anyio.to_thread.run_sync(functools.partial(func, *args), limiter=self._workers)

    async def figures(self) -> dict[str, Any]:
        """What ``/_sandbox/stats`` answers: counts only, never a name, token or envelope."""
        figures: dict[str, Any] = dict(await self.in_thread(self.db.stats))
        figures["faults_fired"] = self.faults.fired()
        figures.update(host_figures(self.traffic))
        return figures

    async def stats(self, request: Request) -> Response:
        return JSONResponse(await self.figures())

    async def call(self, service: c.Service, request: Request) -> Response:
        # Parsing and the database are blocking work (a password check is a deliberately slow
        # scrypt): keep them off the event loop, in one trip to a worker thread for most calls.
        try:
            body = await read_capped(request, self.limits.max_bytes, self.read_timeout)
            received, fault, answered = await self.in_thread(self.take_call, service, body)
        except Exception as exc:
            return self.failure(service, exc)
        if answered is not None:
            return answered
        if received.operation != c.AUTHENTICATE.name:
            return await self.answer(service, received, fault=fault)
        client = request.client.host if request.client else ""
        try:
            wait = self.throttle.admit(client)
        except Throttled as exc:
            return self.failure(service, exc)
        try:
            await anyio.sleep(wait)  # a throttled login waits here, holding no thread
            return await self.answer(service, received, client)
        finally:
            self.throttle.release(client)

    def take_call(
        self, service: c.Service, body: bytes
    ) -> tuple[Call, Fault | None, Response | None]:
        """Decode a call and draw its fault; answer it at once (the third item) when nothing
        stands between it and its answer: not Authenticate (throttled), no fault, no latency."""
        received = self.receive(body)
        if received.operation == c.AUTHENTICATE.name:
            return received, None, None
        fault = self.faults.next_fault(received.operation)
        if fault is not None or self.faults.latency:
            return received, fault, None
        try:
            return received, None, self.dispatch(service, received)
        except Exception as exc:
            return received, None, self.failure(service, exc)

    async def answer(
        self, service: c.Service, received: Call, client: str = "", *, fault: Fault | None = None
    ) -> Response:
        """Dispatch a decoded call, meeting the fault armed or drawn for it (``fault``, drawn
        already for a call other than Authenticate)."""
        if received.operation == c.AUTHENTICATE.name:
            fault = self.faults.next_fault(received.operation)
        if self.faults.latency:
            self.faults.met_latency(received.operation)
            await anyio.sleep(self.faults.latency)
        if fault is not None and fault.mode is Mode.FAIL_BEFORE:
            return faults.unavailable(fault)
        await faults.before_work(fault)
        try:
            response = await self.in_thread(self.dispatch, service, received, client)
        except Exception as exc:
            response = self.failure(service, exc)
        return await faults.deliver(fault, response)

    def failure(self, service: c.Service, exc: Exception) -> Response:
        """The answer to a call that raised ``exc``: a SOAP fault, mostly."""
        fault_ns = service.response_header_namespace
        if isinstance(exc, ProtocolError | Throttled):
            fault = self.speaker.fault(CLIENT_FAULT, _message(exc), header_namespace=fault_ns)
            response = _xml(fault, 500)
            if isinstance(exc, ReadTimeout):
                response.headers["Connection"] = "close"  # the rest of its body is not awaited
            return response
        if isinstance(exc, SessionRefused):
            text = f"{c.AUTH_FAILED_PREFIX} {exc.reason}"
            fault = self.speaker.fault(
                c.AUTH_FAULTCODE, text, loggedin=c.NO, header_namespace=fault_ns, thrown=True
            )
            return _xml(fault, 500)
        if isinstance(exc, services.UserException):
            text = _message(exc)
            fault = self.speaker.fault(
                USER_EXCEPTION_FAULT, text, header_namespace=fault_ns, thrown=True
            )
            return _xml(fault, 500)
        if isinstance(exc, ClientDisconnect):
            log.info("client left before sending its whole request to %s", service.path)
            return Response(status_code=400)  # nobody is there to read it
        log.error("sandbox error answering a call to %s", service.path, exc_info=exc)
        text = "the sandbox failed to answer this call; see its log"
        return _xml(self.speaker.fault(SERVER_FAULT, text, header_namespace=fault_ns), 500)

    # -- SOAP ----------------------------------------------------------------------------------

    def receive(self, body: bytes) -> Call:
        """Decode a call and keep its envelope for ``/_sandbox/last-request``."""
        call = decode_request(body, self.limits)
        self.requests.record(call.operation, body, call.header.token)
        return call

    def dispatch(self, service: c.Service, call: Call, client: str = "") -> Response:
        op = self.resolve(service, call.operation, call.element)
        self.db.count_call(op.name)
        log.info("call %s", op.name)  # never the parameters: Authenticate's hold a password
        if not op.authenticated:
            return self.authenticate(op, call, client)
        session = self.sessions.verify(call.header.token)
        value = services.HANDLERS[op.name](call.params, self.context)
        self.sessions.renew(session.token)  # only a call that succeeded slides the expiry
        return _xml(self.speaker.response(op, value, token=session.token, loggedin=c.YES))

    def resolve(self, service: c.Service, name: str, element: str = "") -> c.Operation:
        op = service.operation(name)
        if op is None or (element and element != op.wire):
            # Called by a name this LA does not use (its contract renamed the operation).
            raise ProtocolError(_misdirected(service, element or name))
        return op

    def authenticate(self, op: c.Operation, call: Call, client: str = "") -> Response:
        login = services.HANDLERS[op.name](call.params, self.context)
        if not isinstance(login, services.Login) or login.username is None:
            log.info("Authenticate refused")
            self.throttle.failed(client)
            return _xml(self.speaker.response(op, c.NO, token=None, loggedin=c.NO))
        self.throttle.succeeded(client)
        token = self.sessions.open(login.username)
        return _xml(self.speaker.response(op, login.value, token=token, loggedin=c.YES))


def host_figures(traffic: Traffic) -> dict[str, int]:
    """A single app's :class:`~.traffic.Traffic` figures for its ``/_sandbox/stats``: it is a
    host of one centre. Its ``calls`` (by operation, from the database) are there already, so
    the count of SOAP requests is ``soap_calls``."""
    figures = traffic.figures()
    return {
        "soap_calls": figures["calls"],
        "in_flight_peak": figures["in_flight_peak"],
        "busiest_second": figures["busiest_second"],
    }


def _misdirected(service: c.Service, wire: str) -> str:
    op = c.operation_by_wire(wire)
    if op is None:
        return f"unknown operation {shown(wire)}: {service.path} serves {_names(service)}"
    return f"{wire} is served at {c.service_of(op.name).path}, not at {service.path}"


def _names(service: c.Service) -> str:
    return ", ".join(op.wire for op in service.operations)


async def read_capped(
    request: Request, max_bytes: int, timeout: float = DEFAULT_READ_TIMEOUT
) -> bytes:
    """The request body, refused before parsing when it is over ``max_bytes``: first by its
    Content-Length, then by counting while streaming (a missing or lying header gets no further).
    A body not all there within ``timeout`` seconds is refused (:class:`ReadTimeout`): a client
    trickling a byte a second would otherwise hold its connection for ever (slow loris).
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ProtocolError(f"Content-Length {shown(declared)} is not a number") from None
        if size > max_bytes:
            raise ProtocolError(f"message of {size} bytes exceeds the limit of {max_bytes}")
    with anyio.move_on_after(timeout):
        return await collect_capped(request.stream(), max_bytes, "message")
    raise ReadTimeout(f"the request body did not arrive within {timeout:g} s")


def create_app(
    db: SandboxDB | None = None,
    *,
    database_url: str = "sqlite://",
    username: str = SANDBOX_USERNAME,
    password: str = SANDBOX_PASSWORD,
    clock: Clock | None = None,
    limits: Limits | None = None,
    dialect: Dialect | str = Dialect.SAMPLES,
    latency_ms: float = 0.0,
    fail_rate: float = 0.0,
    drop_rate: float = 0.0,
    slow_rate: float = 0.0,
    slow_ms: float = 0.0,
    token_ttl: float | None = None,
    fault_seed: int | None = None,
    test_hooks: bool = False,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    login_throttle: LoginThrottle | None = None,
    max_body_mib: float = DEFAULT_MAX_BODY_MIB,
    generated: Generated | None = None,
) -> Starlette:
    """The sandbox app. ``db`` defaults to a new :class:`SandboxDB` at ``database_url``; it is
    seeded (idempotently) with the web-service user ``username``/``password``. ``clock`` gives
    the base time (default: UTC now); ``POST /_sandbox/clock`` moves the sandbox on from it, for
    sessions, enrolment times and simulated progress alike (``app.state.clock``). ``dialect``
    chooses how it answers (:mod:`.dialects`): LA's ``samples`` or a real ``coldfusion`` server.

    Faults for everyone (:mod:`.faults`): every call waits ``latency_ms``; every call but
    Authenticate meets, at random (seeded by ``fault_seed``), a 503 before any work with
    probability ``fail_rate``, a dropped connection after the work with ``drop_rate``, and a wait
    of ``slow_ms`` before the work with ``slow_rate``. ``token_ttl`` (seconds) is the session
    lifetime instead of 30 minutes. A request body over ``max_body_mib`` is refused unread
    (``limits``, when given, sets every cap instead). ``generated`` adds a big centre to the seed
    of a new database (:class:`~.seed.Generated`).

    ``test_hooks`` serves ``/_sandbox/faults``, ``/_sandbox/last-request`` and
    ``/_sandbox/clock`` (off: 404). ``read_timeout`` is how long a request body may take to
    arrive; ``login_throttle`` how failed logins are slowed down (default:
    :class:`~.throttle.LoginThrottle`'s)."""
    chosen = parse_dialect(dialect)
    random_faults = RandomFaults(
        fail_rate=fail_rate,
        drop_rate=drop_rate,
        slow_rate=slow_rate,
        slow_seconds=slow_ms / 1000,
        latency_seconds=latency_ms / 1000,
        seed=fault_seed,
    )
    if db is None:
        db = SandboxDB(database_url)
    db.seed(username, password, generated)
    now = SandboxClock(clock or utc_now)
    lifetime = SESSION_LIFETIME if token_ttl is None else timedelta(seconds=token_ttl)
    sessions = Sessions(db, now, lifetime=lifetime)
    if limits is None:
        limits = replace(
            DEFAULT_LIMITS,
            max_bytes=int(max_body_mib * 2**20),
            max_elements=MAX_REQUEST_ELEMENTS,
            max_ids=MAX_REQUEST_ELEMENTS,
        )
    sandbox = Sandbox(
        db, sessions, limits, now, SPEAKERS[chosen], random_faults,
        read_timeout=read_timeout, throttle=login_throttle,
    )  # fmt: skip
    routes = [
        Route(service.path, sandbox.endpoint(service), methods=["GET", "POST"])
        for service in c.SERVICES
    ]
    routes.append(Route(STATS_PATH, sandbox.stats, methods=["GET"]))
    if test_hooks:
        routes += faults.routes(sandbox.faults, sandbox.requests)
        routes += sandbox_clock.routes(now)
    app = Starlette(
        routes=routes, middleware=[Middleware(TrafficMiddleware, traffic=sandbox.traffic)]
    )
    state: Any = app.state
    state.sandbox = sandbox  # everything the app holds: its sessions, limits, faults, clock
    state.db = db  # LA's database, which tests and benchmarks read and change directly
    return app
