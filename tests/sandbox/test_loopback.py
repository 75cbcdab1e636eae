"""The sandbox on a real loopback socket: start_background, calls over TCP, a clean stop; and
``serve`` in a child process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from labridge import contract as c
from labridge import soap
from labridge.models import Token
from labridge.sandbox.app import create_app
from labridge.sandbox.db import SandboxDB
from labridge.sandbox.server import start_background
from labridge.soap import Limits

from .conftest import PASSWORD, USERNAME, ManualClock


def _post(
    url: str, name: str, params: dict[str, object], token: Token | None = None
) -> httpx.Response:
    op = c.operation(name)
    body = soap.encode_request(op, params, token)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    return httpx.post(url + c.service_of(name).path, content=body, headers=headers, timeout=10)


def test_start_background_answers_over_tcp_and_stops_cleanly(
    db: SandboxDB, clock: ManualClock
) -> None:
    app = create_app(db, username=USERNAME, password=PASSWORD, clock=clock)
    running = start_background(app)
    try:
        assert running.url.startswith("http://127.0.0.1:")
        auth = _post(running.url, "Authenticate", {"szUsername": USERNAME, "szPassword": PASSWORD})
        token = soap.decode_response(auth.content, c.AUTHENTICATE).header.token
        assert token is not None
        answer = _post(running.url, "GetTrainers", {}, token)
        assert answer.status_code == 200
        decoded = soap.decode_response(answer.content, c.operation("GetTrainers"))
        assert c.from_wire(c.operation("GetTrainers").returns, decoded.value) == db.trainers()
    finally:
        running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(running.url + "/_sandbox/stats", timeout=2)
    running.stop()  # stopping twice is harmless


def test_start_background_as_a_context_manager_with_its_own_database() -> None:
    with start_background(username=USERNAME, password=PASSWORD) as running:
        wsdl = httpx.get(running.url + "/webservices/soap/user.cfc?wsdl", timeout=10)
        assert wsdl.status_code == 200
        # The WSDL's address is the socket the sandbox really listens on.
        assert f'location="{running.url}/webservices/soap/user.cfc"'.encode() in wsdl.content
        stats = httpx.get(running.url + "/_sandbox/stats", timeout=10).json()
        assert stats["candidates"] > 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(running.url + "/_sandbox/stats", timeout=2)


def test_two_sandboxes_run_side_by_side_on_free_ports() -> None:
    with start_background() as first, start_background() as second:
        assert first.url != second.url
        for running in (first, second):
            assert httpx.get(running.url + "/_sandbox/stats", timeout=10).status_code == 200


def test_an_oversized_body_over_tcp_is_a_client_fault(db: SandboxDB) -> None:
    app = create_app(db, username=USERNAME, password=PASSWORD, limits=Limits(max_bytes=10_000))
    with start_background(app) as running:
        big = b"<x>" + b"y" * 50_000 + b"</x>"
        response = httpx.post(running.url + "/webservices/soap/user.cfc", content=big, timeout=10)
        assert response.status_code == 500
        with pytest.raises(Exception, match="exceeds the limit"):
            soap.decode_response(response.content, c.operation("GetTrainers"))
        # The server is unharmed.
        assert httpx.get(running.url + "/_sandbox/stats", timeout=10).status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_a_sandbox_until_stopped() -> None:
    port = _free_port()
    code = (
        "from labridge.sandbox.server import serve; "
        f"serve('127.0.0.1', {port}, 'sqlite://', 'demo', 'demo-password', log_level='warning')"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(url + "/webservices/soap/authenticate.cfc?wsdl", timeout=2)
                break
            except httpx.TransportError:
                assert child.poll() is None, "serve() exited early"
                assert time.monotonic() < deadline, "serve() did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        auth = _post(url, "Authenticate", {"szUsername": "demo", "szPassword": "demo-password"})
        assert soap.decode_response(auth.content, c.AUTHENTICATE).value == "YES"
    finally:
        child.terminate()
        child.wait(timeout=10)
