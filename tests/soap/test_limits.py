"""The parser counts elements and ids while it parses and refuses a message at a cap before its
tree is complete (soap/xml.py; issue 9 point 3): a million tiny elements in 4 MB cost some 120 MB as
a tree, far more than their bytes, so counting decoded values afterwards came too late.
"""

from __future__ import annotations

import time

import httpx
import pytest

from labridge import contract as c
from labridge.client import AsyncClient
from labridge.config import LASettings
from labridge.errors import ProtocolError
from labridge.sandbox.app import create_app
from labridge.sandbox.defaults import Dialect
from labridge.sandbox.dialects import SPEAKERS
from labridge.sandbox.services import answer
from labridge.soap import DEFAULT_LIMITS, Limits, decode_request, decode_response, parse

HEAD = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><GetProgress>"
)
TAIL = b"</GetProgress></soapenv:Body></soapenv:Envelope>"
GET_CANDIDATES = c.operation("GetCandidates")


def million(element: bytes = b"<a/>", *, tail: bytes = TAIL) -> bytes:
    return HEAD + element * 1_000_000 + tail


@pytest.mark.parametrize(
    "read",
    [parse, decode_request, lambda data, limits: decode_response(data, GET_CANDIDATES, limits)],
    ids=["parse", "decode_request", "decode_response"],
)
def test_a_million_tiny_elements_are_refused_naming_the_cap(read: object) -> None:
    with pytest.raises(ProtocolError, match=r"more than 300000 elements \(cap max_elements\)"):
        read(million(), DEFAULT_LIMITS)  # type: ignore[operator]


def test_the_cap_stops_parsing_before_the_end_of_the_message() -> None:
    # Broken at its very end: a parser that built the whole tree first would call it malformed.
    with pytest.raises(ProtocolError, match="cap max_elements") as caught:
        parse(million(tail=b"</GetProgress><unclosed>"))
    assert "malformed" not in str(caught.value)
    assert "max_answer_elements" in str(caught.value)  # the setting that raises it


def test_ids_are_capped_while_parsing() -> None:
    data = HEAD + b"".join(b'<a id="i%d"/>' % i for i in range(2_000)) + TAIL
    limits = Limits(max_elements=10_000, max_ids=1_000)
    with pytest.raises(ProtocolError, match=r"more than 1000 id attributes \(cap max_ids"):
        parse(data, limits)
    assert parse(data, Limits(max_elements=10_000, max_ids=2_000)) is not None


def test_a_message_at_the_cap_is_read() -> None:
    data = HEAD + b"<a/>" * 97 + TAIL  # Envelope, Body, GetProgress: 100 elements in all
    assert len(list(parse(data, Limits(max_elements=100)).iter())) == 100
    with pytest.raises(ProtocolError, match="more than 99 elements"):
        parse(data, Limits(max_elements=99))


def test_the_biggest_legitimate_answer_passes_the_default_caps() -> None:
    """A GetCandidates of 16,000 learners, as the sandbox answers it: ~208,000 elements."""
    app = create_app()
    db, sessions = app.state.db, app.state.sandbox.sessions
    learners = db.candidates(course_qan="", active=None, completed=None, test=None)
    many = learners * (16_000 // len(learners))
    data = SPEAKERS[Dialect.SAMPLES].response(
        GET_CANDIDATES,
        answer("GetCandidates", many),
        token=sessions.open("sandbox"),
        loggedin=c.YES,
    )
    assert len(data) < DEFAULT_LIMITS.max_bytes
    assert len(decode_response(data, GET_CANDIDATES, DEFAULT_LIMITS).value) == 16_000
    app.state.db.close()


def test_answer_limits_follow_the_la_settings() -> None:
    la = LASettings(max_answer_mib=2, max_answer_elements=30_000)
    limits = Limits.for_answers(la.max_answer_bytes, la.max_answer_elements)
    assert (limits.max_bytes, limits.max_elements, limits.max_ids) == (2 * 2**20, 30_000, 10_000)
    assert LASettings().max_answer_elements == DEFAULT_LIMITS.max_elements


async def test_the_client_refuses_an_answer_over_its_element_cap() -> None:
    app = create_app(username="u", password="p")
    transport = httpx.ASGITransport(app=app)
    small = Limits(max_elements=20)  # the seeded learners' list has more
    async with AsyncClient("http://la.test", "u", "p", transport=transport, limits=small) as la:
        with pytest.raises(ProtocolError, match="more than 20 elements"):
            await la.get_candidates()
    app.state.db.close()


def test_many_repeats_of_one_member_decode_in_linear_time() -> None:
    """Each repeat copied the list so far: 100,000 took half a minute, a 1 MiB request minutes."""
    data = HEAD.replace(b"GetProgress", b"GetCandidates") + b"<a>x</a>" * 100_000
    data += TAIL.replace(b"GetProgress", b"GetCandidates")
    start = time.perf_counter()
    assert len(decode_request(data).params["a"]) == 100_000
    assert time.perf_counter() - start < 10
