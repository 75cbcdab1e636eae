"""The overall deadline of one LA call (issue 7): an answer trickling in a byte at a time never
trips the per-byte timeout, yet the call gives up at its deadline. A read is retried; a write is
ambiguous (it may have been done) and never resent.

The server is a raw socket over loopback: it answers Authenticate properly (so that the calls
under test get a token) and trickles every other answer one byte per 50 ms."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from labridge import TransportError, soap
from labridge import contract as c
from labridge import models as m
from labridge.client import AsyncClient

from .conftest import PASSWORD, USERNAME

TRICKLE_PAUSE = 0.05
DEADLINE = 0.6
MARGIN = 0.5


class TrickleServer:
    """Counts the calls it got by operation; serves until :meth:`stop`."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.calls: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            while not self._stopping.is_set():  # keep-alive: one request after another
                request = _read_request(conn)
                if request is None:
                    return
                if b"Authenticate" in request:
                    self.calls.append("Authenticate")
                    conn.sendall(_http(_login_answer()))
                    continue
                self.calls.append("other")
                self._trickle(conn)
                return

    def _trickle(self, conn: socket.socket) -> None:
        body = b"<" * 10_000  # never completes within any deadline of these tests
        conn.sendall(_head(len(body)))
        for byte in body:
            if self._stopping.is_set():
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:  # the client gave up: good
                return
            time.sleep(TRICKLE_PAUSE)


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return body


def _login_answer() -> bytes:
    token = m.Token(id="1234567890", uuid="6F1A7E2C-0000-4000-8000-000000000001")
    return soap.encode_response(c.AUTHENTICATE, c.YES, token=token, loggedin=c.YES)


def _head(length: int) -> bytes:
    return (
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _http(body: bytes) -> bytes:
    return _head(len(body)) + body


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    server = TrickleServer()
    yield server
    server.stop()


def _client(server: TrickleServer, read_attempts: int = 1) -> AsyncClient:
    # The per-byte timeout is far longer than the deadline: only the deadline can end the call.
    return AsyncClient(server.url, USERNAME, PASSWORD, timeout=5, deadline=DEADLINE,
                       read_attempts=read_attempts, backoff=0)  # fmt: skip


async def test_a_trickling_read_gives_up_at_the_deadline(trickle: TrickleServer) -> None:
    async with _client(trickle) as client:
        await client.authenticate()
        started = time.monotonic()
        with pytest.raises(TransportError) as raised:
            await client.get_trainers()
        elapsed = time.monotonic() - started
    assert DEADLINE <= elapsed < DEADLINE + MARGIN
    assert "deadline of 0.6 s" in str(raised.value)
    assert "[la] deadline" in str(raised.value)  # says what to do


async def test_a_read_cut_at_the_deadline_is_retried(trickle: TrickleServer) -> None:
    async with _client(trickle, read_attempts=2) as client:
        await client.authenticate()
        started = time.monotonic()
        with pytest.raises(TransportError):
            await client.get_trainers()
        elapsed = time.monotonic() - started
    assert trickle.calls.count("other") == 2  # a read is safe to ask again
    assert elapsed < 2 * DEADLINE + MARGIN  # each attempt within its own deadline


async def test_a_trickling_write_is_ambiguous_at_the_deadline_and_not_resent(
    trickle: TrickleServer,
) -> None:
    uuid = "5E0F3C1A-0000-4000-8000-000000000002"
    user = m.EnrolmentUserUpdate(candidate_uuid=uuid, surname="Ng")
    async with _client(trickle, read_attempts=4) as client:
        await client.authenticate()
        started = time.monotonic()
        with pytest.raises(TransportError) as raised:
            await client.update_enrolment(user)
        elapsed = time.monotonic() - started
    assert raised.value.maybe_sent  # LA may have done it: reconcile, never resend blindly
    assert DEADLINE <= elapsed < DEADLINE + MARGIN
    assert trickle.calls.count("other") == 1
