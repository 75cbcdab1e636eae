"""Transport failures the sandbox cannot produce: dropped connections, timeouts, proxies' HTTP
errors, oversized or non-SOAP answers.

docs/architecture.md allows ``httpx.MockTransport`` for these only. The handler is a small scripted
LA: it answers with real SOAP built by labridge's codec, and fails the attempts a test chooses.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from labridge import contract as c
from labridge import models as m
from labridge import soap
from labridge.client import AsyncClient
from labridge.errors import ConfigurationError, ProtocolError, TransportError

BASE_URL = "http://la.test"
TOKEN = m.Token(id="1000000001", uuid="5D1C3A0E-2B6F-4E8A-9C7D-0F1E2D3C4B5A")
TRAINER = m.Trainer(
    trainer_uuid="8f0c6a52-1111-5e6f-9a0b-1c2d3e4f5a6b",
    forename="Sarah",
    surname="Whitfield",
    email="sarah.whitfield@northgate-training.co.uk",
    is_assessor=True,
)
LEARNER = m.EnrolmentUser(
    source_id="MIS-000999",
    forename="Ava",
    surname="Turner",
    birth_date="2006-03-14",
    gender="F",
    email="ava.turner@example.com",
    company_uuid="company-uuid",
    course=m.EnrolmentCourse(course_uuid="course-uuid", start_date="2026-09-01"),
    assessor_uuid="assessor-uuid",
    verifier_uuid="verifier-uuid",
)

Failure = Callable[[httpx.Request], httpx.Response]
MakeClient = Callable[..., AsyncClient]


# --- a scripted LA -------------------------------------------------------------------------------


def answer(operation: str, value: object) -> bytes:
    op = c.operation(operation)
    return soap.encode_response(op, c.to_wire(op.returns, value, omit_unset=False), token=TOKEN)


ANSWERS = {
    "Authenticate": answer("Authenticate", c.YES),
    "GetTrainers": answer("GetTrainers", [TRAINER]),
    "GroupEnrolment": answer(
        "GroupEnrolment",
        m.EnrolmentResponse(success=True, candidate_uuid="new-uuid", source_id=LEARNER.source_id),
    ),
}


class ScriptedLA:
    """Answers every call correctly, except that the first attempts of an operation run the
    failures scripted for it, one per attempt. ``calls`` counts the POSTs per operation."""

    def __init__(self, **script: list[Failure]) -> None:
        self.script = script
        self.calls: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        operation = soap.decode_request(request.content).operation
        self.calls[operation] += 1
        failures = self.script.get(operation)
        if failures:
            return failures.pop(0)(request)
        return httpx.Response(200, content=ANSWERS[operation], headers={"Content-Type": "text/xml"})


def connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def status(code: int) -> Failure:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, text=f"HTTP {code} from a proxy")

    return respond


def html_page(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, html="<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>")


def dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected", request=request)


SMALL_LIMITS = soap.Limits(max_bytes=16 * 1024)
OVERSIZED = answer("GetTrainers", [TRAINER] * 200)


def oversized(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=OVERSIZED)


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    made: list[AsyncClient] = []

    def make(la: ScriptedLA, **options: Any) -> AsyncClient:
        options.setdefault("backoff", 0)
        transport = httpx.MockTransport(la)
        client = AsyncClient(BASE_URL, "webservice", "s3cret", transport=transport, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


# --- reads are retried ---------------------------------------------------------------------------


async def test_a_read_is_retried_after_connection_errors(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(GetTrainers=[connect_error, connect_error])
    client = make_client(la)

    trainers = await client.get_trainers()

    assert [t.trainer_uuid for t in trainers] == [TRAINER.trainer_uuid]
    assert la.calls["GetTrainers"] == 3


async def test_a_read_gives_up_after_read_attempts(make_client: MakeClient) -> None:
    la = ScriptedLA(GetTrainers=[connect_error] * 10)
    client = make_client(la, read_attempts=3)

    with pytest.raises(TransportError) as raised:
        await client.get_trainers()

    assert la.calls["GetTrainers"] == 3
    assert BASE_URL in str(raised.value)
    assert "check the LA URL and the network" in str(raised.value)


async def test_a_read_is_retried_after_a_timeout(make_client: MakeClient) -> None:
    la = ScriptedLA(GetTrainers=[read_timeout])
    client = make_client(la)

    assert len(await client.get_trainers()) == 1
    assert la.calls["GetTrainers"] == 2


async def test_a_read_is_retried_after_http_503(make_client: MakeClient) -> None:
    la = ScriptedLA(GetTrainers=[status(503)])
    client = make_client(la)

    assert len(await client.get_trainers()) == 1
    assert la.calls["GetTrainers"] == 2


async def test_no_backoff_means_no_wait_between_attempts(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(GetTrainers=[connect_error] * 10)
    client = make_client(la, read_attempts=10, backoff=0)

    started = time.perf_counter()
    with pytest.raises(TransportError):
        await client.get_trainers()

    assert la.calls["GetTrainers"] == 10
    # backoff=0 asks for no waiting; stamina's default jitter (up to 1 s a retry) must not apply.
    assert time.perf_counter() - started < 1.0


async def test_concurrent_calls_share_one_failed_login(make_client: MakeClient) -> None:
    la = ScriptedLA(Authenticate=[connect_error] * 100)
    client = make_client(la, read_attempts=2)

    results = await asyncio.gather(
        *(client.get_trainers() for _ in range(5)), return_exceptions=True
    )

    assert all(isinstance(result, TransportError) for result in results)
    # One login of two attempts, not one per waiting call: with LA down and a 30 s timeout,
    # callers queued behind the login lock would otherwise each wait for their own.
    assert la.calls["Authenticate"] == 2


# --- a write is never retried --------------------------------------------------------------------


async def test_an_enrolment_timing_out_is_not_retried_and_may_have_been_sent(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(GroupEnrolment=[read_timeout])
    client = make_client(la)

    with pytest.raises(TransportError) as raised:
        await client.group_enrolment(LEARNER)

    assert la.calls["GroupEnrolment"] == 1
    assert raised.value.maybe_sent is True
    assert "GroupEnrolment" in str(raised.value)


async def test_an_enrolment_dropped_after_sending_may_have_been_sent(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(GroupEnrolment=[dropped])
    client = make_client(la)

    with pytest.raises(TransportError) as raised:
        await client.group_enrolment(LEARNER)

    assert la.calls["GroupEnrolment"] == 1
    assert raised.value.maybe_sent is True


async def test_an_enrolment_that_cannot_connect_was_not_sent(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(GroupEnrolment=[connect_error])
    client = make_client(la)

    with pytest.raises(TransportError) as raised:
        await client.group_enrolment(LEARNER)

    assert la.calls["GroupEnrolment"] == 1
    assert raised.value.maybe_sent is False


async def test_an_enrolment_answered_503_is_not_retried(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(GroupEnrolment=[status(503)])
    client = make_client(la)

    with pytest.raises(TransportError) as raised:
        await client.group_enrolment(LEARNER)

    assert la.calls["GroupEnrolment"] == 1
    assert raised.value.maybe_sent is True


async def test_an_enrolment_goes_through_when_nothing_fails(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA()
    client = make_client(la)

    response = await client.group_enrolment(LEARNER)

    assert response.success is True
    assert response.candidate_uuid == "new-uuid"
    assert la.calls == Counter({"Authenticate": 1, "GroupEnrolment": 1})


# --- answers that are not LA's -------------------------------------------------------------------


async def test_http_404_is_a_configuration_error_naming_the_url(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(Authenticate=[status(404)])
    client = make_client(la)

    with pytest.raises(ConfigurationError) as raised:
        await client.get_trainers()

    assert f"{BASE_URL}/webservices/soap/authenticate.cfc" in str(raised.value)
    assert la.calls["Authenticate"] == 1  # a wrong URL is not retried


async def test_an_answer_over_max_bytes_is_a_protocol_error(
    make_client: MakeClient,
) -> None:
    assert len(ANSWERS["Authenticate"]) < SMALL_LIMITS.max_bytes < len(OVERSIZED)
    la = ScriptedLA(GetTrainers=[oversized])
    client = make_client(la, limits=SMALL_LIMITS)

    with pytest.raises(ProtocolError) as raised:
        await client.get_trainers()

    assert "16384 bytes" in str(raised.value)


async def test_an_html_page_answered_with_200_is_a_protocol_error(
    make_client: MakeClient,
) -> None:
    la = ScriptedLA(GetTrainers=[html_page])
    client = make_client(la)

    with pytest.raises(ProtocolError) as raised:
        await client.get_trainers()

    assert "check the URL points at LA's web services" in str(raised.value)
    assert la.calls["GetTrainers"] == 1
