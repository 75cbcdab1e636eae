"""The Learning Assistant client: :class:`AsyncClient` (the core, on ``httpx.AsyncClient``) and a
thin synchronous :class:`Client`.

One typed method per operation of the catalogue. The client logs in lazily, logs in again before
the 30-minute idle expiry, re-authenticates once when the session is lost (an authentication
fault, bare or ColdFusion-wrapped, or an answer under ``loggedin`` other than ``YES``, which is
never taken as data) and repeats the call (never looping), logs in once when many calls race,
retries idempotent reads on transport errors with backoff, and never retries a write
(docs/reliability.md). A record goes out as :func:`built` made its wire form: the caller can
journal that same struct as sent (docs/vocabulary.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin

import httpx
import stamina

from . import contract as c
from . import models as m
from . import soap
from .config import clean_url
from .errors import (
    AnswerTooBig,
    AuthenticationError,
    AuthenticationFault,
    ConfigurationError,
    LabridgeError,
    ProtocolError,
    SessionExpired,
    TransportError,
)
from .logmask import mask
from .session import Session
from .soap.decode import UNREADABLE_HINT
from .soap.unchanged import body_digest, header_only
from .soap.xml import collect_capped

log = logging.getLogger("labridge.client")

DEFAULT_TIMEOUT = 30.0
#: Seconds one HTTP exchange may take in all (connect, send, the whole answer): the per-operation
#: ``timeout`` alone restarts with every byte, so an answer trickling in could hold a run forever.
DEFAULT_DEADLINE = 60.0
# docs/contract.md §1 [INF]
_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
_RETRY_STATUS = frozenset({502, 503, 504})
#: What an expired or dropped session looks like: a fault, or an answer under loggedin="NO".
_SESSION_LOST = (AuthenticationFault, SessionExpired)
#: AuthenticateReturn values meaning "accepted": LA's YES, or a ColdFusion boolean.
_ACCEPTED = frozenset({c.YES, "TRUE", "1"})
_TOO_BIG_HINT = "raise [la] max_answer_mib in labridge.toml if LA's answers are really this big"
# Failures that happen before a byte of the request reached LA: a write is safe to resend.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


#: What stands before each HTTP exchange with LA: called once per exchange (each retry attempt,
#: Authenticate too), its context manager is held for the request and the reading of the answer.
#: A fleet's :class:`labridge.cli.fleet.limits.HostGate` limits the calls one LA host gets.
Gate = Callable[[], contextlib.AbstractAsyncContextManager[object]]

#: The gate of the clients made in this context (:func:`using_gate`); the commands' client
#: factory passes it on, so that a caller sets it once around a whole operation.
call_gate: ContextVar[Gate | None] = ContextVar("labridge_call_gate", default=None)


@contextlib.contextmanager
def using_gate(gate: Gate | None) -> Iterator[None]:
    """Within the block, :data:`call_gate` is ``gate`` (``asyncio.run`` inside copies it)."""
    token = call_gate.set(gate)
    try:
        yield
    finally:
        call_gate.reset(token)


class _Retriable(TransportError):
    """A transport failure worth another try (reads only)."""


class AsyncClient:
    """An asynchronous client of LA's SOAP services.

    ``base_url`` is the LA site (``https://<provider>.learningassistant.com``); service paths come
    from the catalogue. Pass ``transport`` to talk to something other than the network (the
    sandbox in-process: ``httpx.ASGITransport(app)``). With a ``gate``, every HTTP exchange runs
    inside ``async with gate():`` (:data:`Gate`); the wait there is not part of its deadline.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        read_attempts: int = 4,
        backoff: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        limits: soap.Limits = soap.DEFAULT_LIMITS,
        max_connections: int = 16,
        gate: Gate | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"LA URL {base_url!r} must start with http:// or https://")
        if not username or not password:
            raise ConfigurationError("an LA username and password are needed")
        self.base_url = base_url.rstrip("/")
        #: The URL as messages show it: a password inside it never reaches an error or a log.
        self.shown_url = mask(self.base_url)
        self._credentials = m.Credentials(username=username, password=password)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            # One pool, one connection per call in flight, each kept open for the next call.
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers=_HEADERS,
        )
        self._deadline = deadline
        self._gate = gate
        self._session = Session(clock=clock)
        self._login_lock = asyncio.Lock()
        self._read_attempts = read_attempts
        self._backoff = backoff
        self._limits = limits
        #: Number of Authenticate calls made; useful to see single flight and renewal at work.
        self.logins = 0
        # Finished logins and the last one's failure: calls queued behind a login that failed
        # share its failure (single flight).
        self._login_attempts = 0
        self._login_error: LabridgeError | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (``async with`` does it for you)."""
        await self._http.aclose()

    # -- operations ------------------------------------------------------------------------------

    async def authenticate(self) -> m.Token:
        """Log in now (calls log in by themselves when they need to)."""
        async with self._login_lock:
            return await self._login()

    async def get_frameworks(self) -> list[m.Framework]:
        """Every course (LA calls them frameworks) with its units (GetFrameworks)."""
        result: list[m.Framework] = await self.call("GetFrameworks")
        return result

    async def get_trainers(self) -> list[m.Trainer]:
        """Every trainer: assessors, verifiers and other staff (GetTrainers)."""
        result: list[m.Trainer] = await self.call("GetTrainers")
        return result

    async def get_nationalities(self) -> list[m.Nationality]:
        """LA's list of nationalities, for the enrolment's Nationality (GetNationalities)."""
        result: list[m.Nationality] = await self.call("GetNationalities")
        return result

    async def get_ethnicities(self) -> list[m.Ethnicity]:
        """LA's list of ethnicities, for the enrolment's Ethnicity (GetEthnicities)."""
        result: list[m.Ethnicity] = await self.call("GetEthnicities")
        return result

    async def get_companies(self) -> list[m.Company]:
        """Every company (employer) LA holds (GetCompanies)."""
        result: list[m.Company] = await self.call("GetCompanies")
        return result

    async def get_candidates(
        self,
        course_qan: str = "",
        *,
        active: bool = True,
        completed: bool = False,
        test: bool = False,
    ) -> list[m.Candidate]:
        """Candidates of one course (by QAN), or of every course when ``course_qan`` is empty."""
        result: list[m.Candidate] = await self.call(
            "GetCandidates", course_qan=course_qan, active=active, completed=completed, test=test
        )
        return result

    async def get_progress(self, candidate_uuid: str) -> m.Progress:
        """One learner's progress, unit by unit (GetProgress)."""
        result: m.Progress = await self.call("GetProgress", candidate_uuid=candidate_uuid)
        return result

    async def get_progress_full(self, candidate_uuid: str) -> m.Progress:
        """One learner's progress down to each unit's outcomes (GetProgressFull)."""
        result: m.Progress = await self.call("GetProgressFull", candidate_uuid=candidate_uuid)
        return result

    async def group_enrolment(
        self,
        user: m.EnrolmentUser | m.Wire,
        *,
        send_login_details: bool = False,
        assign_evaluation: bool = False,
    ) -> m.EnrolmentResponse:
        """Enrol one learner. Never retried: a transport failure after sending raises
        :class:`TransportError` with ``maybe_sent=True``, for the caller to reconcile. ``user``
        may be already in wire form (:func:`built`): it is then sent as it is."""
        result: m.EnrolmentResponse = await self.call(
            "GroupEnrolment",
            user=user,
            assign_evaluation=assign_evaluation,
            send_login_details=send_login_details,
        )
        return result

    async def update_enrolment(self, user: m.EnrolmentUserUpdate | m.Wire) -> m.EnrolmentResponse:
        """Push changes; only the fields set on ``user`` are sent (docs/contract.md §3.6). ``user``
        may be already in wire form (:func:`built`): it is then sent as it is."""
        result: m.EnrolmentResponse = await self.call("UpdateEnrolment", user=user)
        return result

    # -- machinery -------------------------------------------------------------------------------

    async def call(self, operation: str, **args: Any) -> Any:
        """Call any operation of the catalogue with arguments by labridge name; an argument
        already in wire form (:class:`~labridge.models.Wire`) is sent as it is."""
        op = c.operation(operation)
        response = await self._call(op, _params(op, args))
        return _records(op, response.value)

    async def list_candidates(
        self,
        course_qan: str = "",
        *,
        active: bool = True,
        completed: bool = False,
        test: bool = False,
        unless: str = "",
    ) -> Listing:
        """GetCandidates as :meth:`get_candidates`, with the digest of the answer's Body. When
        that digest is ``unless`` (a digest this method gave before), the Body is not decoded
        unless :meth:`Listing.records` asks: only the header is read (a ``loggedin="NO"`` answer
        still counts as no data)."""
        op = c.operation("GetCandidates")
        args = {"course_qan": course_qan, "active": active, "completed": completed, "test": test}
        response = await self._call(op, _params(op, args), known=unless)
        answer = response.value
        assert isinstance(answer, _Digested)  # what _interpret gives when a digest is asked for
        if answer.data is None:
            records = _records(op, answer.value)
            return Listing(answer.digest, False, lambda: records)
        data, limits = answer.data, self._limits
        return Listing(
            answer.digest, True, lambda: _records(op, soap.decode_response(data, op, limits).value)
        )

    async def _call(
        self, op: c.Operation, wire: Mapping[str, Any], known: str | None = None
    ) -> soap.Response:
        token = await self._token()
        try:
            response = await self._send(op, wire, token, known)
        except _SESSION_LOST:
            # The token lapsed or was dropped by LA: log in once more and repeat, once. LA checks
            # the token before anything else, so repeating a write here cannot duplicate it.
            self._session.rejected(token)
            token = await self._token()
            try:
                response = await self._send(op, wire, token, known)
            except _SESSION_LOST as again:
                raise AuthenticationError(
                    f"LA refused a fresh session for {op.name}: {_reason(again)}",
                    hint="the web-service user may lack permission for this service; ask your "
                    "LA administrator to check its access",
                ) from None
        self._session.succeeded(response.header.token)
        return response

    async def _token(self) -> m.Token:
        token = self._session.usable()
        if token is not None:
            return token
        generation, attempts = self._session.generation, self._login_attempts
        async with self._login_lock:
            # Someone else may have logged in while we waited: single flight.
            token = self._session.usable()
            if token is not None and self._session.generation != generation:
                return token
            if self._login_attempts != attempts and self._login_error is not None:
                # ...or tried and failed: share that failure rather than try again once per
                # waiting call (LA may lock an account after failed logins; a down LA would
                # make each waiter sit through its own timeouts).
                raise self._login_error
            return await self._login()

    async def _login(self) -> m.Token:
        try:
            token = await self._authenticate()
        except LabridgeError as exc:
            self._login_error = exc
            raise
        else:
            self._login_error = None
        finally:
            self._login_attempts += 1  # counted when over, so that callers queued meanwhile see it
        return token

    async def _authenticate(self) -> m.Token:
        op = c.AUTHENTICATE
        args = {"username": self._credentials.username, "password": self._credentials.password}
        response = await self._send(op, c.params_to_wire(op, args), None)
        self.logins += 1
        token = response.header.token
        if str(response.value).strip().upper() not in _ACCEPTED or token is None:
            raise AuthenticationError(
                f"LA refused the credentials of user {self._credentials.username!r} at "
                f"{self.shown_url}"
            )
        self._session.logged_in(token)
        log.info("logged in to %s as %s", self.shown_url, self._credentials.username)
        return token

    async def _send(
        self,
        op: c.Operation,
        wire: Mapping[str, Any],
        token: m.Token | None,
        known: str | None = None,
    ) -> soap.Response:
        body = soap.encode_request(op, wire, token)
        url = self.base_url + c.service_of(op.name).path
        if not op.idempotent:
            return await self._post(op, url, body, known)
        async for attempt in stamina.retry_context(
            on=_Retriable,
            attempts=self._read_attempts,
            wait_initial=self._backoff,
            wait_jitter=self._backoff,  # backoff=0 means no waiting at all (tests, scripts)
            wait_max=self._backoff * 16,
        ):
            with attempt:
                return await self._post(op, url, body, known)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _post(
        self, op: c.Operation, url: str, body: bytes, known: str | None = None
    ) -> soap.Response:
        if self._gate is None:
            status, data = await self._exchange(op, url, body)
        else:
            async with self._gate():
                status, data = await self._exchange(op, url, body)
        return self._interpret(op, status, data, known)

    async def _exchange(self, op: c.Operation, url: str, body: bytes) -> tuple[int, bytes]:
        """One POST and its whole answer, within the deadline: the HTTP status and the bytes."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._deadline):
                async with self._http.stream("POST", url, content=body) as resp:
                    data = await self._read(op, resp)
        except TimeoutError:
            # Cut at the deadline: the request may have reached LA (and a write been done).
            raise _Retriable(
                f"{op.name} to {self.shown_url} had no complete answer within its deadline of "
                f"{self._deadline:g} s",
                hint="LA is very slow or the network trickles; raise [la] deadline if LA is "
                "known to take that long, else run the command again later",
                maybe_sent=True,
            ) from None
        except _NOT_SENT as exc:
            reason = type(exc).__name__
            raise _Retriable(f"cannot reach LA at {self.shown_url} ({reason})") from None
        except httpx.TransportError as exc:
            # The request may have reached LA: a write must be reconciled, not resent.
            raise _Retriable(
                f"{op.name} to {self.shown_url} failed after sending ({type(exc).__name__})",
                maybe_sent=True,
            ) from None
        log.debug("%s → HTTP %s in %.3fs", op.name, resp.status_code, time.perf_counter() - started)
        if resp.is_redirect:
            raise redirected(url, resp.headers.get("location", ""), resp.status_code)
        return resp.status_code, data

    async def _read(self, op: c.Operation, resp: httpx.Response) -> bytes:
        cap = self._limits.max_bytes
        try:
            return await collect_capped(resp.aiter_bytes(), cap, "LA's answer")
        except ProtocolError:
            raise AnswerTooBig(
                f"LA's answer to {op.name} exceeds the limit of {cap} bytes ({cap / 2**20:g} MiB)",
                hint=_TOO_BIG_HINT,
            ) from None

    def _interpret(
        self, op: c.Operation, status: int, data: bytes, known: str | None = None
    ) -> soap.Response:
        """The answer ``data`` decoded. With ``known`` (a digest, "" for none) the value is a
        :class:`_Digested`: an answer whose Body has the digest ``known`` is not decoded."""
        if status in _RETRY_STATUS:
            raise _Retriable(f"LA at {self.shown_url} answered HTTP {status}", maybe_sent=True)
        if status == 404:
            raise ConfigurationError(
                f"{self.shown_url}{c.service_of(op.name).path} does not exist (HTTP 404)",
                hint="check the LA URL: it is the site's base address, without /webservices/... "
                "(`labridge doctor` checks every service's path)",
            )
        if status not in (200, 500):
            raise ProtocolError(f"LA answered {op.name} with HTTP {status}")
        if known is not None:
            digest = body_digest(data)
            if known and digest == known and status == 200:
                header = header_only(data)
                _check_session(op, header)
                return soap.Response(_Digested(digest, None, data), header)
        response = soap.decode_response(data, op, self._limits)
        _check_session(op, response.header)
        if known is not None:
            return soap.Response(_Digested(digest, response.value, None), response.header)
        return response


@dataclass(frozen=True)
class Listing:
    """One GetCandidates answer (:meth:`AsyncClient.list_candidates`): the digest of its Body,
    whether it is the answer whose digest the caller gave, and its records (those of an
    unchanged answer decoded only when asked)."""

    digest: str
    unchanged: bool
    _read: Callable[[], list[m.Candidate]] = field(repr=False)

    def records(self) -> list[m.Candidate]:
        return self._read()


@dataclass(frozen=True)
class _Digested:
    """An answer's digest and its decoded value, or (``data``) its bytes, left undecoded."""

    digest: str
    value: Any
    data: bytes | None


def _check_session(op: c.Operation, header: soap.Header) -> None:
    loggedin = header.loggedin
    if op.authenticated and loggedin is not None and loggedin.strip().upper() != c.YES:
        # LA may answer normally (an empty array) with loggedin="NO": that is no data.
        raise SessionExpired(f"LA answered {op.name} with loggedin={loggedin!r}")


def built(record: m.LAModel) -> m.Wire:
    """``record``'s wire form (docs/contract.md §3.6: unset members omitted), built once: the
    caller sends it and journals it as it is (docs/vocabulary.md)."""
    return m.Wire(c.to_wire(c.StructRef(c.type_of_model(type(record)).name), record))


def _params(op: c.Operation, args: Mapping[str, Any]) -> dict[str, Any]:
    """The wire parameters of ``args``: those already in wire form as they are, the others
    converted (:func:`labridge.contract.params_to_wire`), in the contract's order."""
    ready = {k: v.members for k, v in args.items() if isinstance(v, m.Wire)}
    converted = c.params_to_wire(op, {k: v for k, v in args.items() if k not in ready})
    return {
        p.name: ready[p.attr] if p.attr in ready else converted[p.name]
        for p in op.params
        if p.attr in ready or p.name in converted
    }


def _reason(exc: LabridgeError) -> str:
    if isinstance(exc, AuthenticationFault):
        return exc.faultstring
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _records(op: c.Operation, value: Any) -> Any:
    """The answer's records, or a :class:`ProtocolError` naming ``op`` and what is unreadable."""
    _require_outcome(op, value)
    try:
        records = c.from_wire(op.returns, value)
    except ProtocolError as exc:
        raise ProtocolError(
            f"LA's answer to {op.name} cannot be read: {exc.args[0]}", hint=UNREADABLE_HINT
        ) from None
    if records is None:
        raise ProtocolError(f"LA answered {op.name} with nothing", hint=UNREADABLE_HINT)
    return records


def _require_outcome(op: c.Operation, value: Any) -> None:
    """An enrolment answer that says neither whether it succeeded nor what was wrong cannot be
    read as "refused": the caller must treat the write as ambiguous (docs/contract.md §3.5)."""
    outcome = c.type_of_model(m.EnrolmentResponse)
    if op.returns != c.StructRef(outcome.name):
        return
    said = {c.wire_name(m.EnrolmentResponse, attr) for attr in ("success", "messages")}
    if not isinstance(value, Mapping) or not said & set(value):
        raise ProtocolError(
            f"LA's answer to {op.name} holds neither {' nor '.join(sorted(said))}: whether it "
            "took the learner is unknown",
            hint="check the learner in Learning Assistant before sending it again",
        )


def redirected(url: str, location: str, status: int) -> ConfigurationError:
    """The error for a redirect from LA: SOAP calls are POSTs, which are not followed (a client
    that did would send the body to wherever it points); the URL setting must change instead."""
    target = urljoin(url, location) if location else "nowhere (no Location header)"
    base = clean_url(target) if location else ""
    return ConfigurationError(
        f"LA answered {url} with a redirect (HTTP {status}) to {target}",
        hint=f"set the LA URL (LABRIDGE_URL, or [la] url) to {base}"
        if base
        else "check the LA URL with your LA administrator",
    )


class Client:
    """A synchronous facade over :class:`AsyncClient`, with the same methods, for scripts."""

    def __init__(self, base_url: str, username: str, password: str, **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        try:
            self._async = self._runner.run(_make(base_url, username, password, kwargs))
        except BaseException:
            self._runner.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and the event loop (``with`` does it for you)."""
        self._runner.run(self._async.aclose())
        self._runner.close()

    @property
    def logins(self) -> int:
        """Number of Authenticate calls made so far."""
        return self._async.logins

    def authenticate(self) -> m.Token:
        """Log in now (calls log in by themselves when they need to)."""
        return self._runner.run(self._async.authenticate())

    def get_frameworks(self) -> list[m.Framework]:
        """Every course with its units; see :meth:`AsyncClient.get_frameworks`."""
        return self._runner.run(self._async.get_frameworks())

    def get_trainers(self) -> list[m.Trainer]:
        """Every trainer; see :meth:`AsyncClient.get_trainers`."""
        return self._runner.run(self._async.get_trainers())

    def get_nationalities(self) -> list[m.Nationality]:
        """LA's nationalities; see :meth:`AsyncClient.get_nationalities`."""
        return self._runner.run(self._async.get_nationalities())

    def get_ethnicities(self) -> list[m.Ethnicity]:
        """LA's ethnicities; see :meth:`AsyncClient.get_ethnicities`."""
        return self._runner.run(self._async.get_ethnicities())

    def get_companies(self) -> list[m.Company]:
        """Every company; see :meth:`AsyncClient.get_companies`."""
        return self._runner.run(self._async.get_companies())

    def get_candidates(
        self,
        course_qan: str = "",
        *,
        active: bool = True,
        completed: bool = False,
        test: bool = False,
    ) -> list[m.Candidate]:
        """Candidates of one course, or of all; see :meth:`AsyncClient.get_candidates`."""
        return self._runner.run(
            self._async.get_candidates(course_qan, active=active, completed=completed, test=test)
        )

    def get_progress(self, candidate_uuid: str) -> m.Progress:
        """One learner's progress; see :meth:`AsyncClient.get_progress`."""
        return self._runner.run(self._async.get_progress(candidate_uuid))

    def get_progress_full(self, candidate_uuid: str) -> m.Progress:
        """One learner's progress with outcomes; see :meth:`AsyncClient.get_progress_full`."""
        return self._runner.run(self._async.get_progress_full(candidate_uuid))

    def group_enrolment(
        self,
        user: m.EnrolmentUser | m.Wire,
        *,
        send_login_details: bool = False,
        assign_evaluation: bool = False,
    ) -> m.EnrolmentResponse:
        """Enrol one learner, never retried; see :meth:`AsyncClient.group_enrolment`."""
        return self._runner.run(
            self._async.group_enrolment(
                user, send_login_details=send_login_details, assign_evaluation=assign_evaluation
            )
        )

    def update_enrolment(self, user: m.EnrolmentUserUpdate | m.Wire) -> m.EnrolmentResponse:
        """Push changes to one learner; see :meth:`AsyncClient.update_enrolment`."""
        return self._runner.run(self._async.update_enrolment(user))


async def _make(base_url: str, username: str, password: str, kwargs: dict[str, Any]) -> AsyncClient:
    # Built inside the runner's loop so that the lock and the connection pool belong to it.
    return AsyncClient(base_url, username, password, **kwargs)
