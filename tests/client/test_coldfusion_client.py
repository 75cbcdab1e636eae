"""The client against answers in ColdFusion's shapes (docs/contract.md §2, §5).

The sandbox cannot yet answer as ColdFusion does (another slice is teaching it), so these tests
serve the hand-written golden answers of ``tests/soap/coldfusion/`` through
``httpx.MockTransport``, as the brief allows for this slice only. What the sandbox can do (accept
the token in both namespaces) is tested against the sandbox itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette

from labridge import contract as c
from labridge import models as m
from labridge import soap
from labridge.client import AsyncClient
from labridge.errors import AuthenticationError, ProtocolError
from labridge.sandbox.faults import LAST_REQUEST_PATH

from .conftest import BASE_URL as SANDBOX_URL
from .conftest import PASSWORD, USERNAME

SOAP_TESTS = Path(__file__).parent.parent / "soap"
BASE_URL = "http://la.test"
TOKEN = m.Token(id="1234567", uuid="6F9619FF-8B86-D011-B42D-00C04FC964FF")


def coldfusion(name: str) -> bytes:
    return (SOAP_TESTS / "coldfusion" / f"{name}.response.xml").read_bytes()


AUTHENTICATED = (SOAP_TESTS / "golden" / "Authenticate.response.xml").read_bytes()
CANDIDATES = coldfusion("GetCandidates.dates-bst")
LOGGED_OUT = coldfusion("GetCandidates.loggedin-no")

Answer = tuple[int, bytes]


class ColdFusionLA:
    """Answers each operation with its scripted answers in turn, the last one from then on.
    ``calls`` counts the POSTs per operation."""

    def __init__(self, **script: list[Answer]) -> None:
        self.script = {"Authenticate": [(200, AUTHENTICATED)], **script}
        self.calls: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        operation = soap.decode_request(request.content).operation
        answers = self.script[operation]
        status, body = answers[min(self.calls[operation], len(answers) - 1)]
        self.calls[operation] += 1
        return httpx.Response(status, content=body, headers={"Content-Type": "text/xml"})


MakeClient = Callable[..., AsyncClient]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    made: list[AsyncClient] = []

    def make(la: ColdFusionLA, **options: Any) -> AsyncClient:
        transport = httpx.MockTransport(la)
        client = AsyncClient(
            BASE_URL, "webservice", "s3cret", transport=transport, backoff=0, **options
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


# --- session signals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lost",
    [
        (500, coldfusion("AuthFault.cf-faultstring")),
        (500, coldfusion("AuthFault.cf-detail")),
        (200, LOGGED_OUT),
    ],
    ids=["CF fault string", "CF fault detail", "loggedin=NO with an empty array"],
)
async def test_a_lost_session_logs_in_once_more_and_repeats_the_call(
    make_client: MakeClient, lost: Answer
) -> None:
    la = ColdFusionLA(GetCandidates=[lost, (200, CANDIDATES)])
    client = make_client(la)

    candidates = await client.get_candidates()

    assert [x.source_id for x in candidates] == ["MIS-000502", "MIS-000481"]
    assert la.calls == Counter({"Authenticate": 2, "GetCandidates": 2})
    assert client.logins == 2


async def test_an_empty_answer_under_loggedin_no_is_never_taken_as_data(
    make_client: MakeClient,
) -> None:
    la = ColdFusionLA(GetCandidates=[(200, LOGGED_OUT)])
    client = make_client(la)

    with pytest.raises(AuthenticationError) as caught:
        await client.get_candidates()

    assert type(caught.value) is AuthenticationError
    assert "GetCandidates" in str(caught.value)
    assert "LA administrator" in caught.value.hint
    # Once more after a fresh login, then stop: no loop.
    assert la.calls == Counter({"Authenticate": 2, "GetCandidates": 2})


# --- answers already seen (issue 11: a sync that finds nothing new) -----------------------------

#: The loggedin="NO" answer's Body under a live session: the same bytes from <soapenv:Body> on.
EMPTY_LOGGED_IN = LOGGED_OUT.replace(b'loggedin="NO"', b'loggedin="YES"')


async def test_an_answer_seen_before_is_not_decoded_unless_asked(
    make_client: MakeClient,
) -> None:
    la = ColdFusionLA(GetCandidates=[(200, CANDIDATES)])
    client = make_client(la)
    first = await client.list_candidates()
    assert not first.unchanged
    second = await client.list_candidates(unless=first.digest)
    assert second.unchanged
    assert second.digest == first.digest
    # Decoded only when asked: the same records as the first time.
    assert second.records() == first.records()
    other = await client.list_candidates(unless="0" * 64)  # a digest of some other answer
    assert not other.unchanged


async def test_an_unchanged_body_under_loggedin_no_is_still_no_data(
    make_client: MakeClient,
) -> None:
    """The Body of a loggedin="NO" answer may be the very empty array seen before; the header
    still says the session is gone, so the client logs in again and asks once more."""
    la = ColdFusionLA(
        GetCandidates=[(200, EMPTY_LOGGED_IN), (200, LOGGED_OUT), (200, EMPTY_LOGGED_IN)]
    )
    client = make_client(la)
    first = await client.list_candidates()
    assert first.records() == []
    again = await client.list_candidates(unless=first.digest)
    assert again.unchanged
    assert la.calls == Counter({"Authenticate": 2, "GetCandidates": 3})
    assert client.logins == 2


async def test_a_fault_is_never_taken_for_an_unchanged_answer(make_client: MakeClient) -> None:
    la = ColdFusionLA(GetCandidates=[(200, CANDIDATES), (500, coldfusion("AuthFault.cf-detail"))])
    client = make_client(la)
    first = await client.list_candidates()
    with pytest.raises(AuthenticationError):
        await client.list_candidates(unless=first.digest)


async def test_a_second_cf_authentication_fault_after_a_fresh_login_stops(
    make_client: MakeClient,
) -> None:
    la = ColdFusionLA(GetTrainers=[(500, coldfusion("AuthFault.cf-faultstring"))])
    client = make_client(la)

    with pytest.raises(AuthenticationError, match="LA refused a fresh session for GetTrainers"):
        await client.get_trainers()
    assert la.calls == Counter({"Authenticate": 2, "GetTrainers": 2})


def authenticate_answer(text: str, xsi_type: str) -> bytes:
    boolean = coldfusion("Authenticate.boolean")
    return boolean.replace(b'"soapenc:boolean"', f'"{xsi_type}"'.encode()).replace(
        b">true<", f">{text}<".encode()
    )


@pytest.mark.parametrize(
    ("text", "xsi_type"),
    [
        ("true", "soapenc:boolean"),
        ("1", "xsd:boolean"),
        ("YES", "soapenc:string"),
        ("1", "xsd:string"),
    ],
)
async def test_authenticate_return_yes_true_or_1_is_accepted(
    make_client: MakeClient, text: str, xsi_type: str
) -> None:
    la = ColdFusionLA(Authenticate=[(200, authenticate_answer(text, xsi_type))])
    assert await make_client(la).authenticate() == TOKEN


@pytest.mark.parametrize("text", ["false", "0", "NO"])
async def test_authenticate_return_false_is_refused(make_client: MakeClient, text: str) -> None:
    la = ColdFusionLA(Authenticate=[(200, authenticate_answer(text, "soapenc:boolean"))])
    with pytest.raises(AuthenticationError, match="refused the credentials"):
        await make_client(la).authenticate()


# --- answers ------------------------------------------------------------------------------------

LEARNER = m.EnrolmentUser(
    source_id="MIS-000481",
    forename="Aisha",
    surname="O'Connor",
    birth_date="2004-03-17",
    gender="F",
    email="aisha.oconnor@example.org",
    company_uuid="3B1F6C2A-9D4E-4A7B-8C5D-1E2F3A4B5C6D",
    course=m.EnrolmentCourse(course_uuid="course-uuid", start_date="2025-09-01"),
    assessor_uuid="assessor-uuid",
    verifier_uuid="verifier-uuid",
)


async def test_a_group_enrolment_answered_as_a_map_is_a_success(make_client: MakeClient) -> None:
    la = ColdFusionLA(GroupEnrolment=[(200, coldfusion("GroupEnrolment.map"))])
    response = await make_client(la).group_enrolment(LEARNER)
    assert response.success is True
    assert response.candidate_uuid == "D2F4A6B8-0C1E-4F3A-9B5D-7E9F1A3C5E7B"


def without_outcome(answer: bytes) -> bytes:
    """The Map answer with its SUCCESS and MESSAGELIST items taken out."""
    root = etree.fromstring(answer)
    for item in root.iter("item"):
        key = item.find("key")
        if key is not None and key.text in ("SUCCESS", "MESSAGELIST"):
            parent = item.getparent()
            assert parent is not None
            parent.remove(item)
    return etree.tostring(root)


@pytest.mark.parametrize("operation", ["GroupEnrolment", "UpdateEnrolment"])
async def test_an_enrolment_answer_without_success_or_messages_is_a_protocol_error(
    make_client: MakeClient, operation: str
) -> None:
    """Not "refused, no reasons": the enrol workflow keeps such a row unsettled."""
    answer = without_outcome(coldfusion("GroupEnrolment.map"))
    answer = answer.replace(b"GroupEnrolment", operation.encode())
    la = ColdFusionLA(**{operation: [(200, answer)]})
    client = make_client(la)
    args: dict[str, Any] = {"user": LEARNER}
    if operation == "UpdateEnrolment":
        args = {"user": m.EnrolmentUserUpdate(candidate_uuid="c", email="e")}
    with pytest.raises(ProtocolError, match="neither MessageList nor Success"):
        await client.call(operation, **args)
    assert la.calls[operation] == 1  # a write is never sent twice


async def test_an_unreadable_answer_is_a_protocol_error_naming_the_operation(
    make_client: MakeClient,
) -> None:
    aisha = b'<CandidateUUID xsi:type="soapenc:string">D2F4A6B8-0C1E-4F3A-9B5D-7E9F1A3C5E7B'
    broken = CANDIDATES.replace(aisha + b"</CandidateUUID>", b"")  # item 2 loses its id
    assert broken != CANDIDATES
    la = ColdFusionLA(GetCandidates=[(200, broken)])
    with pytest.raises(ProtocolError) as caught:
        await make_client(la).get_candidates()
    assert caught.value.args[0] == (
        "LA's answer to GetCandidates cannot be read: "
        "item 2: Type_candidate.CandidateUUID: Field required"
    )
    assert "maintainers" in caught.value.hint


async def test_a_nil_array_answer_is_an_empty_list(make_client: MakeClient) -> None:
    la = ColdFusionLA(GetFrameworks=[(200, coldfusion("GetFrameworks.nil"))])
    assert await make_client(la).get_frameworks() == []


# --- the answer-size cap ----------------------------------------------------------------------


def many_candidates(count: int) -> bytes:
    op = c.operation("GetCandidates")
    # Few, fat records: the size is what matters, not the count.
    candidate = m.Candidate(candidate_uuid="x" * 36, forename="F" * 8000, surname="S" * 8000)
    wire = c.to_wire(op.returns, [candidate] * count, omit_unset=False)
    return soap.encode_response(op, wire, token=TOKEN)


async def test_an_answer_over_the_default_cap_needs_a_bigger_max_bytes(
    make_client: MakeClient,
) -> None:
    big = many_candidates(1_100)
    assert len(big) > soap.DEFAULT_LIMITS.max_bytes
    la = ColdFusionLA(GetCandidates=[(200, big)])

    with pytest.raises(ProtocolError) as caught:
        await make_client(la).get_candidates()
    assert "[la] max_answer_mib" in str(caught.value)
    assert "16777216 bytes (16 MiB)" in str(caught.value)

    roomy = make_client(la, limits=soap.Limits(max_bytes=64 * 2**20))
    assert len(await roomy.get_candidates()) == 1_100


# --- what the sandbox accepts ---------------------------------------------------------------


async def test_the_sandbox_accepts_the_token_in_both_namespaces(sandbox_app: Starlette) -> None:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with AsyncClient(SANDBOX_URL, USERNAME, PASSWORD, transport=transport) as client:
        await client.get_trainers()
        await client.update_enrolment(m.EnrolmentUserUpdate(candidate_uuid="unknown"))
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX_URL) as http:
        for operation in ("GetTrainers", "UpdateEnrolment"):
            sent = await http.get(f"{LAST_REQUEST_PATH}?operation={operation}&personal=1")
            header = etree.fromstring(sent.content).find(f"{{{c.SOAP_ENV}}}Header")
            assert header is not None
            assert [el.tag for el in header] == [
                f"{{{c.LA_NS}}}authToken",
                f"{{{c.LA_NS_HTTP}}}authToken",
            ]


async def test_an_answer_without_the_session_header_is_data(make_client: MakeClient) -> None:
    """Only a loggedin value other than YES says the session is gone; a missing header does not
    (LA repeats the header, docs/contract.md §2, but a proxy or a CF version may leave it out)."""
    root = etree.fromstring(CANDIDATES)
    header = root.find(f"{{{c.SOAP_ENV}}}Header")
    assert header is not None
    root.remove(header)
    la = ColdFusionLA(GetCandidates=[(200, etree.tostring(root))])
    client = make_client(la)
    assert len(await client.get_candidates()) == 2
    assert client.logins == 1
