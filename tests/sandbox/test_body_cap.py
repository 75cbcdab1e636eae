"""The sandbox reads at most 1 MiB of a request body by default (``--max-body-mib`` raises it):
its callers' envelopes are a few KiB, and an unauthenticated caller must not make it hold more
(issue 9 point 3). Over loopback, in a child process, as it is run."""

from __future__ import annotations

import httpx

from labridge import contract as c
from labridge.sandbox.app import create_app
from labridge.sandbox.server import serve_process

PATH = c.service_of("GetCandidates").path
HEAD = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><GetCandidates>"
)
TAIL = b"</GetCandidates></soapenv:Body></soapenv:Envelope>"


def body(size: int) -> bytes:
    return HEAD + b"<a/>" * ((size - len(HEAD) - len(TAIL)) // 4) + TAIL


def test_a_body_over_one_mib_is_refused_unread_by_default() -> None:
    with serve_process() as url:
        answer = httpx.post(url + PATH, content=body(1_100_000), timeout=30)
        small = httpx.post(url + PATH, content=body(1_000_000), timeout=30)
    assert answer.status_code == 500
    assert "exceeds the limit of 1048576" in answer.text
    assert "exceeds the limit" not in small.text  # under the cap: read, and refused for its content


def test_max_body_mib_lets_a_bigger_body_reach_the_parser() -> None:
    with serve_process("--max-body-mib", "2") as url:
        answer = httpx.post(url + PATH, content=body(2_000_000), timeout=30)
    assert answer.status_code == 500
    assert "exceeds the limit" not in answer.text
    assert "cap max_elements" in answer.text


def test_create_app_takes_the_cap() -> None:
    assert create_app().state.sandbox.limits.max_bytes == 2**20
    assert create_app(max_body_mib=4).state.sandbox.limits.max_bytes == 4 * 2**20
