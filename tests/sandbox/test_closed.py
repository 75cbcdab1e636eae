"""A closed sandbox (issue 9, point 8): test hooks off unless asked for, no live token or learner
handed out by last-request, a warning for a --host that is not loopback, the password from the
environment, slow clients cut off, short echoes of bad values, failed logins slowed down. Each
test here failed before the sandbox was closed."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette
from typer.testing import CliRunner

from labridge import contract as c
from labridge import soap
from labridge.cli import app as cli_app
from labridge.models import Token
from labridge.sandbox.app import STATS_PATH, create_app
from labridge.sandbox.clock import CLOCK_PATH
from labridge.sandbox.faults import FAULTS_PATH, LAST_REQUEST_PATH
from labridge.sandbox.server import free_port, is_loopback, serve_process, start_background
from labridge.sandbox.throttle import LoginThrottle

from .conftest import BASE_URL, LA, PASSWORD, USERNAME
from .learners import la_client, learner

HOOKS = [("GET", FAULTS_PATH), ("POST", FAULTS_PATH), ("DELETE", FAULTS_PATH),
         ("GET", f"{LAST_REQUEST_PATH}?operation=GetTrainers"), ("GET", CLOCK_PATH),
         ("POST", CLOCK_PATH)]  # fmt: skip
FAULT = {"operation": "GetTrainers", "mode": "fail_before"}
USERS_PATH = c.service_of("GetTrainers").path


def _http(app: Starlette, client: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def _hook(http: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    body = {"advance_days": 1} if path == CLOCK_PATH else FAULT
    return await http.request(method, path, json=body if method == "POST" else None)


# -- 1. the test hooks are off unless asked for ----------------------------------------------------


@pytest.mark.parametrize(("method", "path"), HOOKS)
async def test_the_test_hooks_are_not_served_by_default(method: str, path: str) -> None:
    app = create_app(username=USERNAME, password=PASSWORD)
    async with _http(app) as http:
        token = await LA(http).authenticate()
        await LA(http).call("GetTrainers", token)  # a request last-request could show
        assert (await _hook(http, method, path)).status_code == 404
        assert (await http.get(STATS_PATH)).status_code == 200  # read-only figures stay
        assert (await LA(http).send("GetTrainers", {}, token)).status_code == 200  # no fault armed


@pytest.mark.parametrize(("method", "path"), HOOKS)
async def test_the_test_hooks_answer_when_turned_on(method: str, path: str) -> None:
    app = create_app(username=USERNAME, password=PASSWORD, test_hooks=True)
    async with _http(app) as http:
        await LA(http).call("GetTrainers", await LA(http).authenticate())
        assert (await _hook(http, method, path)).status_code == 200


def test_sandbox_serve_opens_the_hooks_only_with_test_hooks() -> None:
    with serve_process() as url:
        assert httpx.post(url + FAULTS_PATH, json=FAULT, timeout=5).status_code == 404
        assert httpx.get(url + CLOCK_PATH, timeout=5).status_code == 404
    with serve_process("--test-hooks") as url:
        assert httpx.post(url + FAULTS_PATH, json=FAULT, timeout=5).status_code == 200


# -- 2. last-request hands out no live token and no learner ----------------------------------------


async def test_last_request_masks_the_token_and_the_masked_token_opens_nothing() -> None:
    app = create_app(username=USERNAME, password=PASSWORD, test_hooks=True)
    async with _http(app) as http:
        la = LA(http)
        token = await la.authenticate()
        await la.call("GetTrainers", token)
        kept = await http.get(LAST_REQUEST_PATH, params={"operation": "GetTrainers"})
        assert kept.status_code == 200
        assert token.uuid not in kept.text
        assert token.id not in kept.text
        shown = soap.decode_request(kept.content).header.token
        assert shown is not None
        assert shown.uuid == token.uuid[:4] + "\u2026"
        assert shown.id == token.id[:4] + "\u2026"
        replayed = await la.send("GetTrainers", {}, shown)
        assert "unknown session token" in str(la.fault(replayed))
        bare = Token(id=token.id, uuid=shown.uuid)  # the id guessed whole: the uuid still fails
        assert "does not match" in str(la.fault(await la.send("GetTrainers", {}, bare)))


async def test_last_request_withholds_an_enrolment_unless_asked_for_personal_data() -> None:
    app = create_app(username=USERNAME, password=PASSWORD, test_hooks=True)
    async with la_client(app) as client:
        response = await client.group_enrolment(learner())
    assert response.success
    async with _http(app) as http:
        withheld = await http.get(LAST_REQUEST_PATH, params={"operation": "GroupEnrolment"})
        assert withheld.status_code == 200
        assert withheld.json()["operation"] == "GroupEnrolment"
        assert "withheld" in withheld.json()["withheld"]
        for personal in ("Ellison", "2007-04-18", "JT482915C", "Mill Lane", "grace.ellison"):
            assert personal not in withheld.text
        query = {"operation": "GroupEnrolment", "personal": "1"}
        asked = await http.get(LAST_REQUEST_PATH, params=query)
    assert asked.headers["content-type"] == "text/xml; charset=utf-8"
    assert soap.decode_request(asked.content).params["User"]["Surname"] == "Ellison"
    assert b"&#8230;" in asked.content  # its token masked all the same


# -- 3. a --host that is not loopback is warned about ----------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
     ("192.168.1.20", False), ("", False), ("sandbox.example.org", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _serve_stderr(*flags: str, env: dict[str, str] | None = None) -> str:
    """What ``labridge sandbox serve FLAGS`` prints on stderr up to its first answer."""
    port = free_port()
    command = [sys.executable, "-m", "labridge", "sandbox", "serve", "--port", str(port), *flags]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}{STATS_PATH}", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    return " ".join(err.split())  # rich wraps long lines


def test_a_host_that_is_not_loopback_gets_a_warning() -> None:
    said = _serve_stderr("--host", "0.0.0.0")
    assert "warning:" in said
    assert "test server with well-known credentials" in said


def test_the_loopback_host_gets_no_warning() -> None:
    assert "warning" not in _serve_stderr("--host", "127.0.0.1")


# -- 4. the password from the environment ----------------------------------------------------------


def _login(url: str, password: str) -> str:
    body = soap.encode_request(
        c.AUTHENTICATE, {"szUsername": "sandbox", "szPassword": password}, None
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    path = c.service_of(c.AUTHENTICATE.name).path
    answer = httpx.post(url + path, content=body, headers=headers, timeout=10)
    return str(soap.decode_response(answer.content, c.AUTHENTICATE).value)


def test_the_password_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABRIDGE_SANDBOX_PASSWORD", "from the environment")
    with serve_process() as url:
        assert _login(url, "from the environment") == c.YES
        assert _login(url, "sandbox") == c.NO


def test_the_help_names_the_variable_and_the_hooks_flag() -> None:
    result = CliRunner().invoke(cli_app, ["sandbox", "serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "LABRIDGE_SANDBOX_PASSWORD" in result.output
    assert "--test-hooks" in result.output
    assert "--read-timeout" in result.output


# -- 5. slow clients are cut off -------------------------------------------------------------------


@pytest.fixture
def slow_limit() -> Iterator[str]:
    """A sandbox on loopback giving a request 1 s for its headers and 1 s for its body."""
    app = create_app(username=USERNAME, password=PASSWORD, read_timeout=1.0)
    with start_background(app, read_timeout=1.0) as running:
        yield running.url


def _trickle(
    url: str, head: bytes, seconds: float = 8.0, byte: bytes = b"x"
) -> tuple[bytes, float]:
    """Send ``head`` then ``byte`` every 0.2 s until the server closes the connection; what it
    answered and how long it took (``seconds`` at most: then it never closed)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    answer = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        while time.monotonic() - started < seconds:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(byte)
                except OSError:
                    break
                continue
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    return answer, time.monotonic() - started


def _others_are_served(url: str) -> None:
    assert httpx.get(url + STATS_PATH, timeout=5).status_code == 200


def test_a_body_sent_a_byte_at_a_time_is_cut_off(slow_limit: str) -> None:
    head = (
        f"POST {USERS_PATH} HTTP/1.1\r\nHost: sandbox\r\nContent-Type: text/xml\r\n"
        "Content-Length: 100000\r\n\r\n<"
    ).encode()
    answer, took = _trickle(slow_limit, head)
    assert took < 5, "the connection was never closed"
    assert answer.startswith(b"HTTP/1.1 500")
    assert b"did not arrive within 1 s" in answer
    _others_are_served(slow_limit)


def test_headers_sent_a_byte_at_a_time_are_cut_off(slow_limit: str) -> None:
    answer, took = _trickle(
        slow_limit, f"POST {USERS_PATH} HTTP/1.1\r\nHost: sandbox\r\nX-".encode()
    )
    assert took < 5, "the connection was never closed"
    assert answer == b""
    _others_are_served(slow_limit)


def test_a_connection_that_sends_nothing_is_closed(slow_limit: str) -> None:
    answer, took = _trickle(slow_limit, b"", byte=b"")
    assert took < 5, "the connection was never closed"
    assert answer == b""
    _others_are_served(slow_limit)


# -- 6. a fault quotes at most 200 characters of a bad value ---------------------------------------

BAD = "x" * 500_000


def _longest_run(text: str) -> int:
    run = best = 0
    for char in text:
        run = run + 1 if char == "x" else 0
        best = max(best, run)
    return best


async def test_an_unknown_candidate_of_500_kb_is_not_echoed_whole(la: LA) -> None:
    token = await la.authenticate()
    answer = await la.send("GetProgress", {"CandidateUUID": BAD}, token)
    fault = la.fault(answer, "GetProgress")
    assert len(answer.content) < 2000
    assert _longest_run(str(fault)) == 200
    assert "500000 characters" in str(fault)


async def test_a_bad_enrolment_value_of_500_kb_is_not_echoed_whole(app: Starlette) -> None:
    async with la_client(app) as client:
        response = await client.group_enrolment(learner(email=BAD))
    assert not response.success
    [message] = [msg.message for msg in response.messages if msg.field == "EmailAddress"]
    assert _longest_run(message) == 200
    assert len(message) < 1000


async def test_a_hostile_reference_of_500_kb_is_not_echoed_whole(la: LA) -> None:
    token = await la.authenticate()
    body = soap.encode_request(c.operation("GetProgress"), {"CandidateUUID": "x"}, token)
    root = etree.fromstring(body)
    [param] = [el for el in root.iter() if etree.QName(el).localname == "CandidateUUID"]
    param.text = None
    param.set("href", "#" + BAD)
    answer = await la.post(USERS_PATH, etree.tostring(root))
    fault = la.fault(answer, "GetProgress")
    assert len(answer.content) < 2000
    assert _longest_run(str(fault)) < 400


# -- 7. failed logins are slowed down --------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttled_app(clock: FakeClock) -> Starlette:
    throttle = LoginThrottle(
        free_failures=2, window=60, first_delay=0.8, max_delay=1.6, max_clients=3, clock=clock
    )
    return create_app(username=USERNAME, password=PASSWORD, login_throttle=throttle)


async def _attempt(http: httpx.AsyncClient, password: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    body = {"szUsername": USERNAME, "szPassword": password}
    response = await LA(http).send("Authenticate", body)
    return response, time.monotonic() - started


def _answer(response: httpx.Response) -> Any:
    return soap.decode_response(response.content, c.AUTHENTICATE).value


async def test_failed_logins_from_one_address_are_slowed_down() -> None:
    app = _throttled_app(FakeClock())  # a clock that stands still: each wait is the whole delay
    async with _http(app, "203.0.113.7") as http:
        free = []
        for _ in range(2):
            response, took = await _attempt(http, "guess")
            assert _answer(response) == c.NO
            free.append(took)
        check = min(free)  # what a password check costs (a deliberately slow scrypt)
        third, took_third = await _attempt(http, "guess")
        assert _answer(third) == c.NO
        assert took_third >= check + 0.7  # 0.8 s
        _fourth, took_fourth = await _attempt(http, "guess")
        assert took_fourth >= check + 1.5  # doubled: 1.6 s, the cap
        right, took_right = await _attempt(http, PASSWORD)
        assert _answer(right) == c.YES
        assert took_right >= check + 1.5  # the right password waits too (the cap)
        _again, took_again = await _attempt(http, "guess")  # a success forgot the address
        assert took_again < check + 0.7
    async with _http(app, "198.51.100.9") as other:
        _response, took_other = await _attempt(other, "guess")
        assert took_other < check + 0.7  # another address is not slowed


async def test_a_second_attempt_while_one_waits_is_refused_at_once() -> None:
    app = _throttled_app(FakeClock())
    async with _http(app, "203.0.113.8") as http:
        for _ in range(2):
            await _attempt(http, "guess")
        first = asyncio.create_task(_attempt(http, "guess"))
        await asyncio.sleep(0.3)  # the first is waiting its turn by now (its wait is 0.8 s)
        refused, took_refused = await _attempt(http, PASSWORD)
        waited, took_waited = await first
    assert _answer(waited) == c.NO
    assert took_waited >= 0.8
    assert "too many failed logins" in str(LA.fault(refused, "Authenticate"))
    assert took_refused < 0.8  # refused without waiting, nor checking the password


async def test_a_quiet_minute_forgets_the_failures() -> None:
    clock = FakeClock()
    app = _throttled_app(clock)
    async with _http(app, "203.0.113.9") as http:
        _response, check = await _attempt(http, "guess")  # free: a password check's cost
        for _ in range(2):
            await _attempt(http, "guess")
        clock.now += 61  # the next would wait 1.6 s, had the failures been remembered
        _response, took = await _attempt(http, "guess")
    assert took < check + 0.7


def test_the_failed_login_table_is_bounded() -> None:
    throttle = LoginThrottle(max_clients=3, clock=FakeClock())
    for n in range(1, 11):
        throttle.failed(f"10.0.0.{n}")
    assert len(throttle) == 3


def test_the_default_throttle_is_real() -> None:
    app = create_app()
    throttle = app.state.sandbox.throttle
    assert (throttle.free_failures, throttle.window) == (5, 60.0)
    assert [throttle.delay(n) for n in (4, 5, 6, 7, 20)] == [0.0, 1.0, 2.0, 4.0, 30.0]
