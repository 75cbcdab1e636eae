"""Decode the message shapes of docs/contract.md's [DOC] samples, as LA and generic clients send
them.

The files under ``samples/`` are hand-written from the shapes docs/contract.md describes (each says
which in a comment). They go through the same path as in production: ``decode_request`` /
``decode_response``, then ``contract.params_from_wire`` / ``contract.from_wire``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labridge import contract as c
from labridge.errors import AuthenticationFault, SoapFault
from labridge.models import (
    Address,
    Candidate,
    Company,
    EnrolmentCourse,
    EnrolmentUnit,
    EnrolmentUser,
    OutcomeProgress,
    Progress,
    Token,
    UnitProgress,
)
from labridge.soap import Request, Response, decode_request, decode_response

SAMPLES = Path(__file__).parent / "samples"

TOKEN = Token(id="1234567", uuid="6F9619FF-8B86-D011-B42D-00C04FC964FF")
CANDIDATE_UUID = "D2F4A6B8-0C1E-4F3A-9B5D-7E9F1A3C5E7B"


def request(filename: str) -> Request:
    return decode_request((SAMPLES / filename).read_bytes())


def response(filename: str, op_name: str) -> Response:
    return decode_response((SAMPLES / filename).read_bytes(), c.operation(op_name))


def call_args(filename: str) -> dict[str, Any]:
    """The decoded call as labridge arguments (what the sandbox's services receive)."""
    decoded = request(filename)
    return c.params_from_wire(c.operation(decoded.operation), decoded.params)


def answer(filename: str, op_name: str) -> Any:
    """The decoded answer as labridge records (what the client hands its caller)."""
    op = c.operation(op_name)
    return c.from_wire(op.returns, response(filename, op_name).value)


# --- requests ----------------------------------------------------------------------------------


def test_authenticate_request_parameters_without_xsi_type_decode_as_strings() -> None:
    decoded = request("Authenticate.request.xml")
    assert decoded.operation == "Authenticate"
    assert decoded.params == {"szUsername": "mis-integration", "szPassword": "Tr0ub4dor&3"}
    assert decoded.header.token is None


def test_style_a_header_gives_the_token() -> None:
    header = request("GroupEnrolment.style-a.request.xml").header
    assert header.token == TOKEN
    assert header.loggedin is None


def test_style_a_group_enrolment_resolves_the_user_and_its_multiref_address_and_course() -> None:
    args = call_args("GroupEnrolment.style-a.request.xml")
    assert args == {
        "user": EnrolmentUser(
            source_id="MIS-000481",
            forename="Aisha",
            surname="O'Connor",
            birth_date="2004-03-17",
            gender="F",
            email="aisha.oconnor@example.org",
            uln="9276308686",
            address=Address(line1="14 Kirkgate", town="Wakefield", postcode="WF1 1HP"),
            company_uuid="3B1F6C2A-9D4E-4A7B-8C5D-1E2F3A4B5C6D",
            course=EnrolmentCourse(
                course_qan="603/1234/5",
                start_date="2025-09-01",
                units=[
                    EnrolmentUnit(unit_uuid="0A1B2C3D-4E5F-4061-8273-948596A7B8C9"),
                    EnrolmentUnit(unit_uuid="1B2C3D4E-5F60-4172-8384-A59687B8C9D0"),
                ],
            ),
            assessor_uuid="5E8A2C4D-6F1B-4A3C-9E7D-2B4F6A8C0E1D",
            verifier_uuid="9C1E3A5B-7D2F-4B6A-8E0C-4D6F8A0B2C3E",
        ),
        "assign_evaluation": True,
        "send_login_details": False,
    }


def test_style_a_booleans_typed_xsi_boolean_decode_as_booleans() -> None:
    params = request("GroupEnrolment.style-a.request.xml").params
    assert params["blnAssignEvaluationOnEnroll"] is True
    assert params["blnSendLoginDetailsOnEnroll"] is False


def test_style_b_header_with_plain_type_attribute_gives_the_token() -> None:
    header = request("GetCandidates.style-b.request.xml").header
    assert header.token == TOKEN
    assert header.loggedin == c.YES


def test_style_b_get_candidates_parameters_decode_with_their_xsi_types() -> None:
    assert call_args("GetCandidates.style-b.request.xml") == {
        "course_qan": "603/1234/5",
        "active": True,
        "completed": False,
        "test": False,
    }


def test_header_children_without_type_attribute_give_the_token() -> None:
    assert request("GetProgress.untyped-header.request.xml").header.token == TOKEN


def test_xsi_string_spelling_of_a_parameter_decodes_as_a_string() -> None:
    assert call_args("GetProgress.untyped-header.request.xml") == {"candidate_uuid": CANDIDATE_UUID}


@pytest.mark.parametrize(
    "filename",
    [
        "GetCandidates.style-b.request.xml",  # http://
        "GetProgress.untyped-header.request.xml",  # https://
        "GetFrameworks.unqualified-header.request.xml",  # no namespace
    ],
    ids=["http", "https", "unqualified"],
)
def test_auth_header_is_read_whatever_its_namespace(filename: str) -> None:
    assert request(filename).header.token == TOKEN


def test_operation_without_parameters_decodes_to_no_arguments() -> None:
    decoded = request("GetFrameworks.unqualified-header.request.xml")
    assert (decoded.operation, decoded.params) == ("GetFrameworks", {})


def test_update_enrolment_nil_member_is_none_and_omitted_member_absent_on_the_wire() -> None:
    user = request("UpdateEnrolment.nil-and-omitted.request.xml").params["User"]
    assert user == {
        "Address": None,
        "CandidateUUID": CANDIDATE_UUID,
        "EmailAddress": "aisha.oconnor@newmail.example.org",
        "MobileNumber": "",
        "PhoneNumber": None,
    }


def test_update_enrolment_model_fields_set_tells_nil_from_omitted() -> None:
    user = call_args("UpdateEnrolment.nil-and-omitted.request.xml")["user"]
    assert (user.phone, user.address, user.mobile, user.surname) == (None, None, "", None)
    # phone and address were sent (as nil), surname was not sent at all: docs/contract.md §3.6.
    assert user.model_fields_set - {"extras"} == {
        "address",
        "candidate_uuid",
        "email",
        "mobile",
        "phone",
    }


# --- answers -----------------------------------------------------------------------------------


def test_authenticate_answer_gives_the_header_token_from_the_https_namespace() -> None:
    decoded = response("Authenticate.response.xml", "Authenticate")
    assert decoded.header.token == TOKEN
    assert decoded.header.loggedin == c.YES


def test_authenticate_answer_body_is_yes() -> None:
    assert answer("Authenticate.response.xml", "Authenticate") == c.YES


def test_get_candidates_inline_array_with_items_named_like_the_parent() -> None:
    candidates = answer("GetCandidates.response.xml", "GetCandidates")
    assert candidates == [
        Candidate(
            candidate_uuid=CANDIDATE_UUID,
            source_id="MIS-000481",
            forename="Aisha",
            surname="O'Connor",
            email="aisha.oconnor@example.org",
            company_uuid="3B1F6C2A-9D4E-4A7B-8C5D-1E2F3A4B5C6D",
            course_uuid="A7C3E9F1-2B4D-4E6F-8A1C-3D5E7F9A1B2C",
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
            company_uuid="3B1F6C2A-9D4E-4A7B-8C5D-1E2F3A4B5C6D",
            course_uuid="A7C3E9F1-2B4D-4E6F-8A1C-3D5E7F9A1B2C",
            course_qan="603/1234/5",
            start_date="2024-09-02",
            end_date="2026-02-27",
            status="BreakInLearning",
        ),
    ]


def test_answer_nil_member_is_none_and_omitted_member_absent_on_the_wire() -> None:
    first, second = response("GetCandidates.response.xml", "GetCandidates").value
    assert first["ULN"] is None
    assert "ULN" not in second


def test_axis_multiref_answer_resolves_references_in_array_items_and_nested_levels() -> None:
    progress = answer("GetProgressFull.multiref.response.xml", "GetProgressFull")
    assert progress == Progress(
        candidate_uuid=CANDIDATE_UUID,
        source_id="MIS-000481",
        course_uuid="A7C3E9F1-2B4D-4E6F-8A1C-3D5E7F9A1B2C",
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
                outcomes=[
                    OutcomeProgress(
                        outcome_uuid="7F8E9D0C-1B2A-4394-8576-A1B2C3D4E5F6",
                        reference="1.1",
                        description="Identify hazards in the workplace",
                        completed=True,
                        completed_date="2025-11-20",
                        evidence_count=3,
                    )
                ],
            ),
            UnitProgress(
                unit_uuid="1B2C3D4E-5F60-4172-8384-A59687B8C9D0",
                name="Maintenance planning",
                reference="K/615/5678",
                progress=100.0,
                completed=True,
                completed_date="2025-12-05",
            ),
        ],
    )


def test_axis_multiref_answer_header_with_xsi_typed_children_gives_the_token() -> None:
    decoded = response("GetProgressFull.multiref.response.xml", "GetProgressFull")
    assert decoded.header.token == TOKEN


def test_unknown_members_of_an_answer_land_in_extras() -> None:
    [company] = answer("GetCompanies.unknown-members.response.xml", "GetCompanies")
    assert company == Company(
        company_uuid="3B1F6C2A-9D4E-4A7B-8C5D-1E2F3A4B5C6D",
        name="Calder Works Ltd",
        contact_email="training@calderworks.example.co.uk",
        postcode="WF1 2AB",
        extras={
            "EmployeeCount": 250,
            "PrimaryContact": {"Forename": "Priya", "Surname": "Shah"},
            "Region": "Yorkshire and the Humber",
        },
    )


def test_fault_starting_authentication_failed_raises_authentication_fault() -> None:
    with pytest.raises(AuthenticationFault) as caught:
        response("AuthFault.response.xml", "GetCandidates")
    assert caught.value.faultcode == c.AUTH_FAULTCODE
    assert caught.value.faultstring == "Authentication failed: token 1234567 has expired"


def test_other_fault_raises_soap_fault_with_code_string_and_detail() -> None:
    with pytest.raises(SoapFault) as caught:
        response("ServerFault.response.xml", "GetProgress")
    fault = caught.value
    assert not isinstance(fault, AuthenticationFault)
    assert fault.faultcode == "soapenv:Server.userException"
    assert fault.faultstring == (
        "coldfusion.xml.rpc.CFCInvocationException: [java.lang.NullPointerException]"
    )
    assert "coldfusion.runtime.Struct.get" in fault.detail
