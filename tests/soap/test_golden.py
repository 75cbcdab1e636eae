"""Golden files pin the exact bytes labridge puts on the wire (docs/contract.md §2, §3).

Every operation of the catalogue (``contract.SERVICES``) has a request golden,
``golden/<Operation>.request.xml``, built from the fixed, realistic arguments in
``REQUEST_ARGS``; a few answers the sandbox gives are pinned as ``golden/<name>.response.xml``.
Comparison is byte for byte. A new operation fails here until it has arguments and a golden file.

A golden file is never created or rewritten silently: a missing or different file fails the test.
After a deliberate change of the wire format, regenerate the files with

    LABRIDGE_REGEN_GOLDEN=1 pytest tests/soap/test_golden.py

and review the diff of ``tests/soap/golden/`` before committing it.

The structural tests at the end check the facts docs/contract.md states (xsi:type on scalars, header
styles, multiRef siblings, one ``xmlns:xsi``, alphabetical members) on the envelopes themselves,
so that a regenerated golden cannot quietly break them.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from labridge import contract as c
from labridge.errors import AuthenticationFault
from labridge.models import (
    Address,
    Candidate,
    EnrolmentCourse,
    EnrolmentResponse,
    EnrolmentUnit,
    EnrolmentUser,
    EnrolmentUserUpdate,
    Message,
    OutcomeProgress,
    Progress,
    Token,
    UnitProgress,
)
from labridge.soap import decode_response, encode_fault, encode_request, encode_response

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("LABRIDGE_REGEN_GOLDEN") == "1"

TOKEN = Token(id="1234567", uuid="6F9619FF-8B86-D011-B42D-00C04FC964FF")

COMPANY_UUID = "3B1F6C2A-9D4E-4A7B-8C5D-1E2F3A4B5C6D"
COURSE_UUID = "A7C3E9F1-2B4D-4E6F-8A1C-3D5E7F9A1B2C"
ASSESSOR_UUID = "5E8A2C4D-6F1B-4A3C-9E7D-2B4F6A8C0E1D"
VERIFIER_UUID = "9C1E3A5B-7D2F-4B6A-8E0C-4D6F8A0B2C3E"
CANDIDATE_UUID = "D2F4A6B8-0C1E-4F3A-9B5D-7E9F1A3C5E7B"

LEARNER = EnrolmentUser(
    source_id="MIS-000481",
    forename="Aisha",
    surname="O'Connor",
    birth_date="2004-03-17",
    gender="F",
    email="aisha.oconnor@example.org",
    uln="9276308686",
    ni_number="AB123456C",
    mobile="07700 900123",
    address=Address(
        line1="Flat 2",
        line2="14 Kirkgate",
        town="Wakefield",
        county="West Yorkshire",
        postcode="WF1 1HP",
    ),
    nationality_id="826",
    ethnicity_id="31",
    employment_status="10",
    company_uuid=COMPANY_UUID,
    course=EnrolmentCourse(
        course_uuid=COURSE_UUID,
        start_date="2025-09-01",
        end_date="2027-03-31",
        units=[
            EnrolmentUnit(unit_uuid="0A1B2C3D-4E5F-4061-8273-948596A7B8C9"),
            EnrolmentUnit(unit_uuid="1B2C3D4E-5F60-4172-8384-A59687B8C9D0"),
        ],
    ),
    assessor_uuid=ASSESSOR_UUID,
    verifier_uuid=VERIFIER_UUID,
    job_title="Engineering & Maintenance Apprentice",
    line_manager="Tom Price",
    # Set to None on purpose: it must go out as xsi:nil, while the unset fields (phone,
    # department, line manager's phone, ...) are not sent at all.
    line_manager_email=None,
)

LEARNER_CHANGES = EnrolmentUserUpdate(
    candidate_uuid=CANDIDATE_UUID,
    course_uuid=COURSE_UUID,
    email="aisha.oconnor@newmail.example.org",
    mobile="",  # an empty string clears LA's value (docs/contract.md §3.6)
    phone=None,  # nil: LA keeps its value
    address=Address(line1="3 Westgate", town="Wakefield", postcode="WF1 2DP"),
)

#: Fixed arguments (labridge names) for every operation of the catalogue.
REQUEST_ARGS: dict[str, dict[str, Any]] = {
    "Authenticate": {"username": "mis-integration", "password": "Tr0ub4dor&3<x>"},
    "GetFrameworks": {},
    "GetTrainers": {},
    "GetNationalities": {},
    "GetEthnicities": {},
    "GetCandidates": {
        "course_qan": "603/1234/5",
        "active": True,
        "completed": False,
        "test": False,
    },
    "GetProgress": {"candidate_uuid": CANDIDATE_UUID},
    "GetProgressFull": {"candidate_uuid": CANDIDATE_UUID},
    "GetCompanies": {},
    "GroupEnrolment": {"user": LEARNER, "assign_evaluation": True, "send_login_details": False},
    "UpdateEnrolment": {"user": LEARNER_CHANGES},
}

OPERATIONS = [op for service in c.SERVICES for op in service.operations]
OPERATION_NAMES = [op.name for op in OPERATIONS]


def request_envelope(op: c.Operation) -> bytes:
    args = REQUEST_ARGS.get(op.name)
    if args is None:
        pytest.fail(f"{op.name} is in the catalogue but has no fixed arguments in REQUEST_ARGS")
    token = TOKEN if op.authenticated else None
    return encode_request(op, c.params_to_wire(op, args), token)


# --- answers the sandbox gives -------------------------------------------------------------------

CANDIDATES = [
    Candidate(
        candidate_uuid=CANDIDATE_UUID,
        source_id="MIS-000481",
        forename="Aisha",
        surname="O'Connor",
        email="aisha.oconnor@example.org",
        uln="9276308686",
        company_uuid=COMPANY_UUID,
        course_uuid=COURSE_UUID,
        course_qan="603/1234/5",
        start_date="2025-09-01",
        end_date="2027-03-31",
        status="Active",
    ),
    Candidate(
        candidate_uuid="E3A5B7C9-1D2F-4A4B-8C6D-8F0A2B4C6D8E",
        source_id="MIS-000502",
        forename="Callum",
        surname="Hughes",
        email="callum.hughes@example.org",
        uln="1000000043",
        company_uuid=COMPANY_UUID,
        course_uuid=COURSE_UUID,
        course_qan="603/1234/5",
        start_date="2024-09-02",
        end_date="2026-02-27",
        status="BreakInLearning",
    ),
]

PROGRESS_FULL = Progress(
    candidate_uuid=CANDIDATE_UUID,
    source_id="MIS-000481",
    course_uuid=COURSE_UUID,
    start_date="2025-09-01",
    end_date="2027-03-31",
    last_activity_date="2026-01-14",
    overall_progress=37.5,
    status="Active",
    units=[
        UnitProgress(
            unit_uuid="0A1B2C3D-4E5F-4061-8273-948596A7B8C9",
            name="Health and safety in engineering",
            reference="H/615/1234",
            progress=75.0,
            completed=False,
            outcomes=[
                OutcomeProgress(
                    outcome_uuid="7F8E9D0C-1B2A-4394-8576-A1B2C3D4E5F6",
                    reference="1.1",
                    description="Identify hazards in the workplace",
                    completed=True,
                    completed_date="2025-11-20",
                    evidence_count=3,
                ),
                OutcomeProgress(
                    outcome_uuid="8E9D0C1B-2A39-4485-9768-B2C3D4E5F6A7",
                    reference="1.2",
                    description="Carry out a risk assessment",
                    evidence_count=0,
                ),
            ],
        ),
        UnitProgress(
            unit_uuid="1B2C3D4E-5F60-4172-8384-A59687B8C9D0",
            name="Maintenance planning",
            reference="K/615/5678",
            progress=0.0,
        ),
    ],
)

ENROLMENT_REFUSED = EnrolmentResponse(
    success=False,
    source_id="MIS-000481",
    uln="9276308687",
    messages=[
        Message(
            code="UNKNOWN_COMPANY",
            field="CompanyUUID",
            message="No company has the UUID 00000000-0000-0000-0000-000000000000.",
        ),
        Message(
            code="INVALID_ULN",
            field="ULN",
            message="The ULN 9276308687 fails its check digit.",
        ),
    ],
)


#: name of the golden answer → (the operation it answers, the records it carries).
ANSWERS: dict[str, tuple[str, Any]] = {
    "Authenticate": ("Authenticate", c.YES),
    "GetCandidates": ("GetCandidates", CANDIDATES),
    "GetProgressFull": ("GetProgressFull", PROGRESS_FULL),
    "GroupEnrolment.refused": ("GroupEnrolment", ENROLMENT_REFUSED),
}


def answer_envelope(name: str) -> bytes:
    """The answer as the sandbox builds it: every member sent, the session header repeated."""
    op_name, records = ANSWERS[name]
    op = c.operation(op_name)
    return encode_response(op, c.to_wire(op.returns, records, omit_unset=False), token=TOKEN)


AUTH_FAULT = (
    c.AUTH_FAULTCODE,
    f"{c.AUTH_FAILED_PREFIX} the session token has expired; authenticate again",
)


def auth_fault_envelope() -> bytes:
    return encode_fault(*AUTH_FAULT, loggedin=c.NO)


# --- golden comparison -------------------------------------------------------------------------


def golden_bytes(filename: str) -> bytes:
    path = GOLDEN / filename
    if not path.exists():
        pytest.fail(
            f"golden file {path} is missing: create it with LABRIDGE_REGEN_GOLDEN=1 "
            "and review it before committing"
        )
    return path.read_bytes()


def assert_matches_golden(filename: str, actual: bytes) -> None:
    if REGENERATE:
        (GOLDEN / filename).write_bytes(actual)
        return
    expected = golden_bytes(filename)
    if actual != expected:
        diff = difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            actual.decode("utf-8", "replace").splitlines(),
            f"golden/{filename}",
            "encoded now",
            lineterm="",
        )
        pytest.fail("envelope differs from its golden file:\n" + "\n".join(diff))


@pytest.mark.parametrize("op", OPERATIONS, ids=OPERATION_NAMES)
def test_request_envelope_matches_its_golden_file(op: c.Operation) -> None:
    assert_matches_golden(f"{op.name}.request.xml", request_envelope(op))


@pytest.mark.parametrize("name", list(ANSWERS))
def test_answer_envelope_matches_its_golden_file(name: str) -> None:
    assert_matches_golden(f"{name}.response.xml", answer_envelope(name))


def test_auth_fault_envelope_matches_its_golden_file() -> None:
    assert_matches_golden("AuthFault.response.xml", auth_fault_envelope())


def test_every_golden_file_belongs_to_something_still_encoded() -> None:
    expected = {f"{name}.request.xml" for name in OPERATION_NAMES}
    expected |= {f"{name}.response.xml" for name in ANSWERS}
    expected.add("AuthFault.response.xml")
    present = {p.name for p in GOLDEN.glob("*.xml")}
    assert present - expected == set(), "stale golden files: delete them"


@pytest.mark.parametrize("name", list(ANSWERS))
def test_golden_answer_decodes_to_the_records_it_was_built_from(name: str) -> None:
    op_name, records = ANSWERS[name]
    op = c.operation(op_name)
    response = decode_response(golden_bytes(f"{name}.response.xml"), op)
    assert c.from_wire(op.returns, response.value) == records
    assert response.header.token == TOKEN
    assert response.header.loggedin == c.YES


def test_golden_auth_fault_decodes_to_an_authentication_fault() -> None:
    data = golden_bytes("AuthFault.response.xml")
    with pytest.raises(AuthenticationFault) as caught:
        decode_response(data, c.operation("GetCandidates"))
    assert (caught.value.faultcode, caught.value.faultstring) == AUTH_FAULT


# --- structure, independent of the goldens ----------------------------------------------------

XSI_TYPE = f"{{{c.XSI}}}type"
XSI_NIL = f"{{{c.XSI}}}nil"
ENV_HEADER = f"{{{c.SOAP_ENV}}}Header"
ENV_BODY = f"{{{c.SOAP_ENV}}}Body"
ENCODING_STYLE = f"{{{c.SOAP_ENV}}}encodingStyle"

AUTHENTICATED_OPS = [op for op in OPERATIONS if op.authenticated]
RPC_OPS = [op for op in OPERATIONS if c.service_of(op.name).style is c.EnvelopeStyle.RPC]
ENROLMENT_OPS = [
    op for op in OPERATIONS if c.service_of(op.name).style is c.EnvelopeStyle.ENROLMENT
]


def ids(ops: list[c.Operation]) -> list[str]:
    return [op.name for op in ops]


def parsed(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def body_of(root: etree._Element) -> etree._Element:
    body = root.find(ENV_BODY)
    assert body is not None
    return body


def operation_element(root: etree._Element) -> etree._Element:
    return body_of(root)[0]


def children(el: etree._Element) -> list[etree._Element]:
    return [ch for ch in el if isinstance(ch.tag, str)]


def local(el: etree._Element) -> str:
    return str(etree.QName(el).localname)


def attributes(el: etree._Element) -> dict[str, str]:
    return {str(name): str(value) for name, value in el.items()}


def envelope_builders() -> dict[str, Callable[[], bytes]]:
    """Every envelope labridge builds here, by name; built when a test asks for it."""
    builders: dict[str, Callable[[], bytes]] = {
        f"{op.name} request": partial(request_envelope, op) for op in OPERATIONS
    }
    builders |= {f"{name} answer": partial(answer_envelope, name) for name in ANSWERS}
    builders["auth fault"] = auth_fault_envelope
    return builders


ENVELOPES = envelope_builders()


@pytest.mark.parametrize("op", AUTHENTICATED_OPS, ids=ids(AUTHENTICATED_OPS))
def test_every_value_in_an_authenticated_request_carries_xsi_type(op: c.Operation) -> None:
    """Scalars, structs and arrays alike; only references and nils carry none (docs/contract.md
    §1)."""
    root = parsed(request_envelope(op))
    body, op_el = body_of(root), operation_element(root)
    untyped = [
        local(el)
        for el in body.iter("*")
        if el not in (body, op_el)
        and el.get("href") is None
        and el.get(XSI_NIL) != "true"
        and el.get(XSI_TYPE) is None
    ]
    assert untyped == []


def test_authenticate_request_has_no_header() -> None:
    root = parsed(request_envelope(c.operation("Authenticate")))
    assert root.prefix == "soapenv"
    assert root.find(ENV_HEADER) is None


def test_authenticate_request_puts_the_operation_in_the_default_namespace() -> None:
    op_el = operation_element(parsed(request_envelope(c.operation("Authenticate"))))
    assert op_el.tag == f"{{{c.LA_NS}}}Authenticate"
    assert op_el.prefix is None
    assert [local(p) for p in children(op_el)] == ["szUsername", "szPassword"]


def test_authenticate_request_parameters_carry_no_xsi_type() -> None:
    data = request_envelope(c.operation("Authenticate"))
    op_el = operation_element(parsed(data))
    assert [attributes(p) for p in children(op_el)] == [{}, {}]
    assert b"xsi:type" not in data


@pytest.mark.parametrize("op", RPC_OPS, ids=ids(RPC_OPS))
def test_rpc_request_has_the_get_candidates_sample_shape(op: c.Operation) -> None:
    root = parsed(request_envelope(op))
    assert root.prefix == "soapenv"
    op_el = operation_element(root)
    assert (op_el.tag, op_el.prefix) == (f"{{{c.LA_NS}}}{op.name}", "ns1")
    assert op_el.get(ENCODING_STYLE) == c.SOAP_ENC


@pytest.mark.parametrize("op", RPC_OPS, ids=ids(RPC_OPS))
def test_rpc_request_sends_a_style_b_header_in_both_la_namespaces(op: c.Operation) -> None:
    """ColdFusion reads a header by exact namespace, and which one LA reads is unknown
    (docs/contract.md §2): the token goes in both, each block ignorable."""
    header = parsed(request_envelope(op)).find(ENV_HEADER)
    assert header is not None
    blocks = children(header)
    assert [auth.tag for auth in blocks] == [
        f"{{{c.LA_NS}}}authToken",
        f"{{{c.LA_NS_HTTP}}}authToken",
    ]
    for auth in blocks:
        assert auth.prefix is None
        assert auth.get("loggedin") == c.YES
        assert auth.get(f"{{{c.SOAP_ENV}}}actor") == ""
        assert auth.get(f"{{{c.SOAP_ENV}}}mustUnderstand") == "0"
        assert [(local(ch), attributes(ch), ch.text) for ch in children(auth)] == [
            ("id", {"type": "xsd:string"}, TOKEN.id),
            ("uuid", {"type": "xsd:string"}, TOKEN.uuid),
        ]


@pytest.mark.parametrize("op", ENROLMENT_OPS, ids=ids(ENROLMENT_OPS))
def test_enrolment_request_uses_the_soap_prefix_and_body_encoding_style(op: c.Operation) -> None:
    root = parsed(request_envelope(op))
    assert root.prefix == "soap"
    assert body_of(root).get(ENCODING_STYLE) == c.SOAP_ENC
    op_el = operation_element(root)
    assert (op_el.tag, op_el.prefix) == (f"{{{c.LA_NS}}}{op.name}", "tns")


@pytest.mark.parametrize("op", ENROLMENT_OPS, ids=ids(ENROLMENT_OPS))
def test_enrolment_request_sends_a_style_a_header_in_both_la_namespaces(op: c.Operation) -> None:
    header = parsed(request_envelope(op)).find(ENV_HEADER)
    assert header is not None
    must_understand = f"{{{c.SOAP_ENV}}}mustUnderstand"
    assert [(auth.tag, auth.prefix, attributes(auth)) for auth in children(header)] == [
        (f"{{{c.LA_NS}}}authToken", "tns", {"id": "h_id1", must_understand: "0"}),
        (f"{{{c.LA_NS_HTTP}}}authToken", "tnshttp", {"id": "h_id2", must_understand: "0"}),
    ]
    for auth in children(header):
        # Typed xsd:string, not the sample's xsi:string artefact (docs/contract.md §1).
        assert [(ch.tag, attributes(ch), ch.text) for ch in children(auth)] == [
            ("id", {XSI_TYPE: "xsd:string"}, TOKEN.id),
            ("uuid", {XSI_TYPE: "xsd:string"}, TOKEN.uuid),
        ]


def test_request_envelopes_never_copy_the_samples_xsi_string_artefact() -> None:
    for op in AUTHENTICATED_OPS:
        assert b"xsi:string" not in request_envelope(op), op.name


@pytest.mark.parametrize("op", ENROLMENT_OPS, ids=ids(ENROLMENT_OPS))
def test_enrolment_request_passes_the_user_by_reference(op: c.Operation) -> None:
    op_el = operation_element(parsed(request_envelope(op)))
    user = op_el.find("User")
    assert user is not None
    assert attributes(user) == {"href": "#id1"}
    assert children(user) == []


def test_group_enrolment_sends_user_address_and_course_as_multiref_siblings() -> None:
    root = parsed(request_envelope(c.operation("GroupEnrolment")))
    body = body_of(root)
    siblings = {el.get("id"): el for el in children(body)[1:]}
    user = siblings["id1"]
    assert user.tag == f"{{{c.ENROLMENT_TYPES_NS}}}Type_enrolmentUser"
    assert user.get(XSI_TYPE) == "types:Type_enrolmentUser"
    address_ref, course_ref = user.find("Address"), user.find("Course")
    assert address_ref is not None
    assert course_ref is not None
    address = siblings[address_ref.get("href", "").removeprefix("#")]
    course = siblings[course_ref.get("href", "").removeprefix("#")]
    assert address.tag == f"{{{c.ENROLMENT_TYPES_NS}}}Type_address"
    assert course.tag == f"{{{c.ENROLMENT_TYPES_NS}}}Type_enrolmentCourse"
    assert len(siblings) == 3


def test_group_enrolment_sends_none_as_nil_and_leaves_unset_fields_out() -> None:
    user = body_of(parsed(request_envelope(c.operation("GroupEnrolment"))))[1]
    sent = {local(el): attributes(el) for el in children(user)}
    assert sent["LineManagerEmailAddress"] == {XSI_NIL: "true"}
    assert sent.keys().isdisjoint({"PhoneNumber", "Department", "LineManagerPhoneNumber"})


def test_group_enrolment_sends_the_course_units_inline_as_a_soapenc_array() -> None:
    root = parsed(request_envelope(c.operation("GroupEnrolment")))
    [course] = root.iter(f"{{{c.ENROLMENT_TYPES_NS}}}Type_enrolmentCourse")
    units = course.find("Units")
    assert units is not None
    assert units.get(XSI_TYPE) == "soapenc:Array"
    assert units.get(f"{{{c.SOAP_ENC}}}arrayType") == "types:Type_enrolmentUnit[2]"
    assert [local(item) for item in children(units)] == ["Units", "Units"]


@pytest.mark.parametrize("name", list(ENVELOPES))
def test_xsi_namespace_is_declared_exactly_once(name: str) -> None:
    assert ENVELOPES[name]().count(b"xmlns:xsi=") == 1


@pytest.mark.parametrize("op", ENROLMENT_OPS, ids=ids(ENROLMENT_OPS))
def test_enrolment_request_declares_xsd_once_on_the_envelope(op: c.Operation) -> None:
    data = request_envelope(op)
    assert data.count(b"xmlns:xsd=") == 1
    assert parsed(data).nsmap["xsd"] == c.XSD


def struct_elements(root: etree._Element) -> list[tuple[c.ComplexType, etree._Element]]:
    """Every element typed with a struct of the catalogue, inline or multiRef."""
    found: list[tuple[c.ComplexType, etree._Element]] = []
    for el in root.iter("*"):
        qname = el.get(XSI_TYPE, "")
        name = qname.rpartition(":")[2]
        if name in c.TYPES:
            found.append((c.TYPES[name], el))
    return found


@pytest.mark.parametrize("name", list(ENVELOPES))
def test_struct_members_go_out_in_case_insensitive_alphabetical_order(name: str) -> None:
    structs = struct_elements(parsed(ENVELOPES[name]()))
    for ctype, el in structs:
        members = [local(ch) for ch in children(el)]
        assert members == sorted(members, key=str.lower), ctype.name
        catalogue_order = [mb.name for mb in ctype.members if mb.name in members]
        assert members == catalogue_order, ctype.name


def test_catalogue_lists_every_struct_alphabetically_case_insensitive() -> None:
    unsorted: Mapping[str, list[str]] = {
        name: [mb.name for mb in t.members]
        for name, t in c.TYPES.items()
        if [mb.name for mb in t.members] != sorted((mb.name for mb in t.members), key=str.lower)
    }
    assert unsorted == {}
