"""Running the sandbox: in the foreground (``labridge sandbox serve``), on a background thread
(``labridge demo`` and the loopback tests), or as a process of its own (:func:`serve_process`:
benchmarks, and tests that need a sandbox with its own contract or flags).

Whichever way, uvicorn runs with bounds for slow clients: a connection must send its request's
headers within the read timeout (:class:`_HeaderDeadline`; uvicorn itself has no such limit), an
idle kept-alive one is closed after :data:`KEEP_ALIVE_SECONDS`, headers are capped at
:data:`MAX_HEADER_BYTES`; the app bounds the body (``create_app(read_timeout=...)``)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any

import httpx
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import DEFAULT_READ_TIMEOUT, STATS_PATH, create_app
from .centres import create_centres_app
from .defaults import SANDBOX_PASSWORD, SANDBOX_USERNAME, Dialect

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: uvicorn closes a kept-alive connection idle this long (its own default, made explicit).
KEEP_ALIVE_SECONDS = 5
#: The most a request line and headers may take (h11's default, made explicit).
MAX_HEADER_BYTES = 16 * 1024
#: What ``labridge sandbox serve`` prints for a ``--host`` that is not a loopback address.
NOT_LOOPBACK_WARNING = (
    "the sandbox is a test server with well-known credentials and test hooks; it is not meant "
    "for a network. Listen on 127.0.0.1 (the default) unless you know who can reach {host}."
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``: the only
    interfaces a sandbox is meant for."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection that has not sent a whole request line and
    headers within :attr:`header_timeout` seconds of opening, or of its last answer. uvicorn
    has no such limit: its keep-alive timer stops at the first byte, so a client trickling a
    header byte a second holds its connection for ever (slow loris)."""

    header_timeout: float = DEFAULT_READ_TIMEOUT
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        between_requests = self.cycle is None or self.cycle.response_complete
        if between_requests and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(read_timeout: float = DEFAULT_READ_TIMEOUT) -> dict[str, Any]:
    """The options every sandbox server runs with (see the module's docstring)."""

    class SandboxHTTP(_HeaderDeadline):
        header_timeout = read_timeout

    return {
        "http": SandboxHTTP,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    database_url: str = "sqlite://",
    username: str = SANDBOX_USERNAME,
    password: str = SANDBOX_PASSWORD,
    *,
    log_level: str = "info",
    dialect: Dialect | str = Dialect.SAMPLES,
    test_hooks: bool = False,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    centres: int = 0,
    database_urls: Sequence[str] | None = None,
    **faults: Any,
) -> None:
    """Serve a sandbox speaking ``dialect`` until interrupted (Ctrl-C). ``faults`` are
    :func:`create_app`'s fault arguments (``latency_ms``, ``fail_rate``, ``drop_rate``,
    ``slow_rate``, ``slow_ms``, ``token_ttl``, ``fault_seed``); ``test_hooks`` serves
    ``/_sandbox/faults``, ``last-request`` and ``clock``; ``read_timeout`` bounds how long a
    request's headers, and its body, may take to arrive. ``centres`` (above 0) serves that many
    centres, each with those options, at ``/centre-01`` ... (:func:`.create_centres_app`), with
    the databases ``database_urls`` (default: each in memory) instead of ``database_url``."""
    options: dict[str, Any] = {
        "username": username, "password": password, "dialect": dialect,
        "test_hooks": test_hooks, "read_timeout": read_timeout, **faults,
    }  # fmt: skip
    if centres:
        app = create_centres_app(centres, database_urls=database_urls, **options)
    else:
        app = create_app(database_url=database_url, **options)
    uvicorn.run(app, host=host, port=port, log_level=log_level, **uvicorn_options(read_timeout))


class RunningSandbox:
    """A sandbox answering on a real socket from a background thread; stop it with :meth:`stop`
    or use it as a context manager."""

    def __init__(self, app: Starlette, server: uvicorn.Server, sock: socket.socket) -> None:
        self.app = app
        self._server = server
        self._socket = sock
        self.url = _url_of(sock)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="labridge-sandbox", daemon=True
        )

    def _start(self, timeout: float) -> None:
        self._thread.start()
        try:
            self._wait_until_started(timeout)
            # Started means listening; one real request proves the app answers too.
            httpx.get(self.url + STATS_PATH, timeout=timeout).raise_for_status()
        except BaseException:
            self.stop()
            raise

    def _wait_until_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start at {self.url}")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish, wait for its thread, release the socket. Idempotent."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    # A wildcard address is not one to call: call the loopback of the same family instead.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start_background(
    app: Starlette | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    database_url: str = "sqlite://",
    username: str = SANDBOX_USERNAME,
    password: str = SANDBOX_PASSWORD,
    log_level: str = "warning",
    timeout: float = 10.0,
    dialect: Dialect | str | None = None,
    test_hooks: bool = False,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    **faults: Any,
) -> RunningSandbox:
    """Start a sandbox (``app``, or a new one speaking ``dialect``, default ``samples``, from the
    other arguments, ``faults`` and ``test_hooks`` as in :func:`serve`) on ``host``:``port``
    (``0``: a free port) in a background thread, and return once it answers. An ``app`` already
    speaks its dialect and has its hooks or not (:func:`create_app` takes them); the server
    gives a request ``read_timeout`` seconds for its headers (the app's own for the body)."""
    if app is not None and (dialect is not None or faults or test_hooks):
        raise ValueError(
            "start_background: pass dialect and faults to create_app with an app (test_hooks too)"
        )
    if app is None:
        app = create_app(
            database_url=database_url,
            username=username,
            password=password,
            dialect=dialect or Dialect.SAMPLES,
            test_hooks=test_hooks,
            read_timeout=read_timeout,
            **faults,
        )
    # Binding the socket here, not in uvicorn, gives the real port before the thread starts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    options = uvicorn_options(read_timeout)
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", **options)
    running = RunningSandbox(app, uvicorn.Server(config), sock)
    running._start(timeout)
    return running


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port free on ``host`` right now (for a server started in another process)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_process(*flags: str, timeout: float = 30.0) -> Iterator[str]:
    """``labridge sandbox serve`` with ``flags`` in a child process on a free loopback port
    (``--test-hooks`` among them for a caller arming faults or reading requests); yields its URL
    once it answers, and stops it afterwards. A child that exits early raises
    :class:`RuntimeError` with what it printed. Its log goes to a temporary file, not a pipe: a
    pipe nobody reads fills up (a dropped connection logs a traceback) and blocks the server."""
    port = free_port()
    command = [sys.executable, "-m", "labridge", "sandbox", "serve", "--port", str(port), *flags]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://{DEFAULT_HOST}:{port}"
        try:
            _wait_for(url, proc, log, timeout)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # calls still held (a slow fault): stop it hard
                proc.kill()
                proc.wait(timeout=10)


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: IO[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            said = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the sandbox exited with {proc.returncode}: {said}")
        try:
            httpx.get(url + STATS_PATH, timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the sandbox at {url} did not answer within {timeout:g} s")
