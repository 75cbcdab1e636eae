"""What a real ColdFusion (Axis 1) server puts on the wire (docs/contract.md §5), read by the codec.

Each file in ``coldfusion/`` is a hand-written answer in one of the shapes §5 lists; each test
decodes it from plain bytes (``decode_response`` then ``contract.from_wire``, as the client does)
and checks the records labridge makes of it. The unit tests after them pin the rules one by one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from labridge import contract as c
from labridge import models as m
from labridge.errors import AuthenticationFault, ProtocolError, SoapFault
from labridge.soap import decode_request, decode_response

COLDFUSION = Path(__file__).parent / "coldfusion"
TOKEN = m.Token(id="1234567", uuid="6F9619FF-8B86-D011-B42D-00C04FC964FF")


def golden(name: str) -> bytes:
    return (COLDFUSION / f"{name}.response.xml").read_bytes()


def records(name: str, operation: str) -> Any:
    op = c.operation(operation)
    return c.from_wire(op.returns, decode_response(golden(name), op).value)


# --- one golden answer per shape ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["AuthFault.cf-faultstring", "AuthFault.cf-detail"])
def test_a_coldfusion_wrapped_authentication_fault_is_an_authentication_fault(name: str) -> None:
    with pytest.raises(AuthenticationFault) as caught:
        decode_response(golden(name), c.operation("GetCandidates"))
    assert caught.value.faultcode == "soapenv:Server.userException"
    assert caught.value.faultstring.startswith("coldfusion.xml.rpc.CFCInvocationException")


def test_a_coldfusion_fault_about_something_else_stays_a_plain_fault() -> None:
    data = golden("AuthFault.cf-detail").replace(b"Authentication failed:", b"Division by zero:")
    with pytest.raises(SoapFault) as caught:
        decode_response(data, c.operation("GetCandidates"))
    assert not isinstance(caught.value, AuthenticationFault)


def test_an_answer_under_loggedin_no_says_so_in_its_header() -> None:
    response = decode_response(golden("GetCandidates.loggedin-no"), c.operation("GetCandidates"))
    assert response.header.loggedin == c.NO
    assert response.header.token is None


def test_a_group_enrolment_answered_as_a_map_is_read_as_its_struct() -> None:
    assert records("GroupEnrolment.map", "GroupEnrolment") == m.EnrolmentResponse(
        success=True,
        candidate_uuid="D2F4A6B8-0C1E-4F3A-9B5D-7E9F1A3C5E7B",
        source_id="MIS-000481",
        uln="9276308686",
        messages=[],
    )


def test_a_refusal_answered_as_maps_keeps_every_message() -> None:
    assert records("GroupEnrolment.map-refused", "GroupEnrolment") == m.EnrolmentResponse(
        success=False,
        candidate_uuid="",
        messages=[
            m.Message(
                code="UNKNOWN_COMPANY", field="CompanyUUID", message="No company has this UUID."
            ),
            m.Message(code="INVALID_ULN", field="ULN", message="The ULN fails its check digit."),
        ],
    )


def test_ids_sent_as_doubles_are_read_as_the_integral_strings_they_stand_for() -> None:
    assert records("GetNationalities.doubles", "GetNationalities") == [
        m.Nationality(nationality_id="826", name="British"),
        m.Nationality(nationality_id="372", name="Irish"),
    ]


def test_empty_strings_where_numbers_and_booleans_are_expected_count_as_not_sent() -> None:
    progress = records("GetProgress.empty-number", "GetProgress")
    assert progress.overall_progress == 0.0
    assert progress.last_activity_date == ""
    [unit] = progress.units
    assert (unit.progress, unit.completed, unit.completed_date) == (0.0, False, "")
    assert unit.unit_uuid == "0A1B2C3D-4E5F-4061-8273-948596A7B8C9"


def test_member_names_with_a_lower_case_first_letter_are_matched() -> None:
    assert records("GetTrainers.lower-case", "GetTrainers") == [
        m.Trainer(
            trainer_uuid="8F0C6A52-1111-5E6F-9A0B-1C2D3E4F5A6B",
            forename="Sarah",
            surname="Whitfield",
            email="sarah.whitfield@northgate-training.co.uk",
            is_assessor=True,
            is_verifier=False,
        )
    ]


def test_an_array_of_maps_is_read_as_an_array_of_records() -> None:
    assert records("GetCompanies.map-array", "GetCompanies") == [
        m.Company(
            company_uuid="3B1F6C2A-9D4E-4A7B-8C5D-1E2F3A4B5C6D",
            name="Calder Engineering Ltd",
            contact_email="training@calder-engineering.example.co.uk",
            postcode="WF1 1HP",
        ),
        m.Company(
            company_uuid="7C2D4E6F-8A0B-4C1D-9E3F-5A7B9C1D3E5F",
            name="Pennine Care Homes",
            postcode="HX1 2AB",
        ),
    ]


def test_utc_date_times_in_british_summer_time_are_the_next_london_day() -> None:
    callum, aisha = records("GetCandidates.dates-bst", "GetCandidates")
    assert (callum.start_date, callum.end_date) == ("2024-09-01", "2026-02-27")
    assert (aisha.start_date, aisha.end_date) == ("2025-07-01", "2027-03-31")


def test_utc_date_times_in_winter_are_the_same_london_day() -> None:
    callum, aisha = records("GetCandidates.dates-gmt", "GetCandidates")
    assert (callum.start_date, callum.end_date) == ("2025-01-06", "2026-02-27")
    assert (aisha.start_date, aisha.end_date) == ("2025-11-30", "2027-03-29")


def test_a_nil_array_is_an_empty_list() -> None:
    assert records("GetFrameworks.nil", "GetFrameworks") == []


def test_a_boolean_authenticate_return_is_read_as_text_the_client_can_judge() -> None:
    response = decode_response(golden("Authenticate.boolean"), c.AUTHENTICATE)
    assert response.value == "true"
    assert response.header.token == TOKEN


def test_an_any_type_array_with_typed_items_is_read_by_the_contract() -> None:
    assert records("GetEthnicities.anytype", "GetEthnicities") == [
        m.Ethnicity(
            ethnicity_id="31", name="White - English / Welsh / Scottish / Northern Irish / British"
        ),
        m.Ethnicity(ethnicity_id="42", name="Asian / Asian British - Pakistani"),
    ]


def test_multiref_everywhere_with_a_target_referenced_twice() -> None:
    progress = records("GetProgressFull.multiref", "GetProgressFull")
    shared = m.OutcomeProgress(
        outcome_uuid="8E9D0C1B-2A39-4485-9768-B2C3D4E5F6A7",
        reference="1.2",
        description="Follow the site's safe systems of work",
    )
    assert progress == m.Progress(
        candidate_uuid="D2F4A6B8-0C1E-4F3A-9B5D-7E9F1A3C5E7B",
        source_id="MIS-000481",
        course_uuid="A7C3E9F1-2B4D-4E6F-8A1C-3D5E7F9A1B2C",
        start_date="2025-09-01",
        end_date="2027-03-31",
        last_activity_date="2026-01-14",
        overall_progress=37.5,
        status="Active",
        units=[
            m.UnitProgress(
                unit_uuid="0A1B2C3D-4E5F-4061-8273-948596A7B8C9",
                name="Health and safety in engineering",
                reference="H/615/1234",
                progress=75.0,
                outcomes=[
                    m.OutcomeProgress(
                        outcome_uuid="7F8E9D0C-1B2A-4394-8576-A1B2C3D4E5F6",
                        reference="1.1",
                        description="Identify hazards in the workplace",
                        completed=True,
                        completed_date="2025-11-20",
                        evidence_count=3,
                    ),
                    shared,
                ],
            ),
            m.UnitProgress(
                unit_uuid="1B2C3D4E-5F60-4172-8384-A59687B8C9D0",
                name="Maintenance planning",
                reference="K/615/5678",
                outcomes=[shared],
            ),
        ],
    )


# --- the rules, one by one, on plain bytes ----------------------------------------------------

SOAPENC = 'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"'


def answer(operation: str, ret: str, *siblings: str) -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:apachesoap="{c.APACHE_SOAP_NS}" {SOAPENC}><soapenv:Body>'
        f'<ns1:{operation}Response xmlns:ns1="{c.LA_NS}">{ret}</ns1:{operation}Response>'
        f"{''.join(siblings)}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def ethnicity(member: str) -> bytes:
    ret = (
        '<GetEthnicitiesReturn soapenc:arrayType="xsd:anyType[1]" xsi:type="soapenc:Array">'
        f"<item>{member}<Name>n</Name></item></GetEthnicitiesReturn>"
    )
    return answer("GetEthnicities", ret)


def read(operation: str, data: bytes) -> Any:
    op = c.operation(operation)
    return c.from_wire(op.returns, decode_response(data, op).value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("31.0", "31"), ("31", "31"), ("3.1E1", "31"), ("31.5", "31.5"), ("-0.0", "0")],
)
def test_a_double_where_a_string_is_expected(text: str, expected: str) -> None:
    data = ethnicity(f'<EthnicityID xsi:type="soapenc:double">{text}</EthnicityID>')
    [record] = read("GetEthnicities", data)
    assert record.ethnicity_id == expected


def test_text_typed_string_keeps_its_exact_form() -> None:
    data = ethnicity('<EthnicityID xsi:type="soapenc:string">31.0</EthnicityID>')
    [record] = read("GetEthnicities", data)
    assert record.ethnicity_id == "31.0"


def trainer_flag(text: str, xsi_type: str = "soapenc:boolean") -> bool:
    ret = (
        f'<GetTrainersReturn soapenc:arrayType="xsd:anyType[1]" xsi:type="soapenc:Array"><item>'
        f'<TrainerUUID>t</TrainerUUID><IsAssessor xsi:type="{xsi_type}">{text}</IsAssessor>'
        "</item></GetTrainersReturn>"
    )
    [trainer] = read("GetTrainers", answer("GetTrainers", ret))
    return bool(trainer.is_assessor)


@pytest.mark.parametrize("text", ["true", "TRUE", "1", "YES", "yes", " Yes "])
def test_booleans_that_mean_true(text: str) -> None:
    assert trainer_flag(text) is True
    assert trainer_flag(text, "soapenc:string") is True


@pytest.mark.parametrize("text", ["false", "False", "0", "NO", "no"])
def test_booleans_that_mean_false(text: str) -> None:
    assert trainer_flag(text, "xsd:boolean") is False


def test_an_integer_sent_as_an_integral_double_is_read() -> None:
    ret = (
        '<GetProgressReturn><CandidateUUID>c</CandidateUUID><Units soapenc:arrayType="xsd:an'
        'yType[1]" xsi:type="soapenc:Array"><item><UnitUUID>u</UnitUUID><Outcomes soapenc:arr'
        'ayType="xsd:anyType[1]" xsi:type="soapenc:Array"><item><OutcomeUUID>o</OutcomeUUID>'
        '<EvidenceCount xsi:type="soapenc:double">{}</EvidenceCount></item></Outcomes></item>'
        "</Units></GetProgressReturn>"
    )
    progress = read("GetProgressFull", answer("GetProgressFull", ret.format("12.0")))
    assert progress.units[0].outcomes[0].evidence_count == 12
    with pytest.raises(ProtocolError, match=r"EvidenceCount.*'99\.9'.*not a valid double"):
        read("GetProgressFull", answer("GetProgressFull", ret.format("12.5")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-08-31T23:00:00.000Z", "2024-09-01"),  # BST: 00:00 in London
        ("2024-03-31T00:30:00Z", "2024-03-31"),  # the night the clocks go forward
        ("2024-10-26T23:30:00.000Z", "2024-10-27"),  # still BST until 01:00 UTC
        ("2024-10-27T23:30:00.000Z", "2024-10-27"),  # GMT again
        ("2024-08-31T23:00:00+00:00", "2024-09-01"),
        ("2024-09-01T00:00:00.000+01:00", "2024-09-01"),
        ("2024-08-31T23:00:00", "2024-09-01"),  # no zone: ColdFusion means UTC
        ("2024-09-01", "2024-09-01"),
        ("2024-09-01Z", "2024-09-01"),
        ("", ""),
    ],
)
def test_dates_are_london_calendar_dates(text: str, expected: str) -> None:
    ret = (
        "<GetProgressReturn><CandidateUUID>c</CandidateUUID>"
        f'<StartDate xsi:type="xsd:dateTime">{text}</StartDate></GetProgressReturn>'
    )
    assert read("GetProgress", answer("GetProgress", ret)).start_date == expected


def test_an_unreadable_date_names_the_operation_the_member_and_an_excerpt() -> None:
    ret = (
        '<GetCandidatesReturn soapenc:arrayType="xsd:anyType[2]" xsi:type="soapenc:Array">'
        "<item><CandidateUUID>a</CandidateUUID></item>"
        f"<item><CandidateUUID>b</CandidateUUID><StartDate>31/08/2024 {'x' * 200}</StartDate>"
        "</item></GetCandidatesReturn>"
    )
    with pytest.raises(ProtocolError) as caught:
        read("GetCandidates", answer("GetCandidates", ret))
    message = caught.value.args[0]
    assert message.startswith("GetCandidates: GetCandidatesReturn[2].StartDate: <StartDate>")
    assert "not a valid date" in message
    excerpt = message.split("holds ", 1)[1].split(", which", 1)[0]
    assert excerpt.startswith("'99/99/9999 AAA")  # its shape: an answer's values may be personal
    assert len(excerpt) <= 80


def test_one_record_missing_its_identifier_fails_the_whole_array_naming_the_item() -> None:
    """Dropping the item would make sync believe that candidate left LA."""
    ret = (
        '<GetCandidatesReturn soapenc:arrayType="xsd:anyType[2]" xsi:type="soapenc:Array">'
        "<item><CandidateUUID>a</CandidateUUID></item><item><Forename>B</Forename></item>"
        "</GetCandidatesReturn>"
    )
    with pytest.raises(ProtocolError, match=r"^item 2: Type_candidate\.CandidateUUID: Field"):
        read("GetCandidates", answer("GetCandidates", ret))


def test_a_struct_member_of_the_wrong_shape_is_a_protocol_error_not_a_validation_error() -> None:
    ret = (
        "<GetProgressReturn><CandidateUUID><a>1</a></CandidateUUID><Units><item>"
        "<UnitUUID>u</UnitUUID></item></Units></GetProgressReturn>"
    )
    with pytest.raises(ProtocolError, match=r"Type_progress\.CandidateUUID: Input should be"):
        read("GetProgress", answer("GetProgress", ret))


def test_a_validation_error_never_carries_the_value() -> None:
    ret = (
        "<GetProgressReturn><CandidateUUID><secret>Aisha</secret></CandidateUUID>"
        "</GetProgressReturn>"
    )
    with pytest.raises(ProtocolError) as caught:
        read("GetProgress", answer("GetProgress", ret))
    assert "Aisha" not in str(caught.value)


def test_map_keys_and_member_names_are_normalised_to_the_contracts_spelling() -> None:
    ret = (
        '<GetProgressReturn xsi:type="apachesoap:Map"><item><key>candidateuuid</key>'
        '<value xsi:type="soapenc:string">c</value></item><item><key>UNITS</key>'
        '<value soapenc:arrayType="xsd:anyType[1]" xsi:type="soapenc:Array">'
        "<item><unitUuid>u</unitUuid><PROGRESS>50.0</PROGRESS></item></value></item>"
        "</GetProgressReturn>"
    )
    value = decode_response(answer("GetProgress", ret), c.operation("GetProgress")).value
    assert value == {"CandidateUUID": "c", "Units": [{"UnitUUID": "u", "Progress": 50.0}]}


def test_an_unknown_member_is_kept_and_warned_about_once_without_its_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ret = (
        "<GetProgressReturn><CandidateUUID>c</CandidateUUID>"
        "<TutorNoteUnseenByCodec>private note</TutorNoteUnseenByCodec></GetProgressReturn>"
    )
    with caplog.at_level(logging.WARNING, logger="labridge.soap"):
        first = read("GetProgress", answer("GetProgress", ret))
        read("GetProgress", answer("GetProgress", ret))
    assert first.extras == {"TutorNoteUnseenByCodec": "private note"}
    warnings = [
        r.getMessage() for r in caplog.records if "TutorNoteUnseenByCodec" in r.getMessage()
    ]
    assert warnings == [
        "LA sent a member TutorNoteUnseenByCodec on Type_progress that the contract does not know"
    ]
    assert "private note" not in caplog.text


def test_an_empty_number_on_an_unknown_member_does_not_stop_the_read() -> None:
    ret = (
        "<GetProgressReturn><CandidateUUID>c</CandidateUUID>"
        '<RankUnseenByCodec xsi:type="soapenc:double"></RankUnseenByCodec></GetProgressReturn>'
    )
    assert read("GetProgress", answer("GetProgress", ret)).candidate_uuid == "c"


def test_an_empty_any_type_array_is_an_empty_list() -> None:
    ret = '<GetTrainersReturn soapenc:arrayType="xsd:anyType[0]" xsi:type="soapenc:Array"/>'
    assert read("GetTrainers", answer("GetTrainers", ret)) == []


def test_the_return_and_its_items_by_href_with_soapenc_root_zero() -> None:
    unit = (
        '<multiRef id="id{n}" soapenc:root="0" xsi:type="ns2:Type_ethnicity" '
        'xmlns:ns2="http://user.types.soap.webservices">'
        '<EthnicityID xsi:type="soapenc:double">{n}.0</EthnicityID></multiRef>'
    )
    data = answer(
        "GetEthnicities",
        '<GetEthnicitiesReturn href="#id0"/>',
        '<multiRef id="id0" soapenc:root="0" soapenc:arrayType="xsd:anyType[3]" '
        'xsi:type="soapenc:Array"><item href="#id1"/><item href="#id2"/><item href="#id1"/>'
        "</multiRef>",
        unit.format(n=1),
        unit.format(n=2),
    )
    assert [e.ethnicity_id for e in read("GetEthnicities", data)] == ["1", "2", "1"]


def test_a_map_whose_prefix_is_not_declared_is_still_read_as_a_map() -> None:
    ret = (
        '<GetProgressReturn xsi:type="Map"><item><key>CandidateUUID</key><value>c</value>'
        "</item></GetProgressReturn>"
    )
    assert read("GetProgress", answer("GetProgress", ret)).candidate_uuid == "c"


def test_a_malformed_date_in_a_request_is_left_for_the_sandbox_to_refuse() -> None:
    data = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soapenv:Body><ns1:UpdateEnrolment xmlns:ns1="{c.LA_NS}"><User><Course>'
        "<StartDate>18/04/2007</StartDate></Course></User></ns1:UpdateEnrolment>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()
    params = decode_request(data).params
    assert params == {"User": {"Course": {"StartDate": "18/04/2007"}}}
