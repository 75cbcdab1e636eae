"""GroupEnrolment as LA plays it (docs/contract.md §3.5): labridge's client against the sandbox
in-process, hand-written envelopes, and LA's format rules checked against labridge's stricter
ones."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

from labridge import models as m
from labridge.sandbox import rules
from labridge.sandbox.db import SandboxDB
from labridge.validate import uk

from .conftest import LA
from .learners import (
    ASSESSOR,
    CARE_COURSE,
    CARE_QAN,
    COMPANY,
    COURSE,
    FOREIGN_UNIT,
    INACTIVE_COURSE,
    LEFT_TRAINER,
    MANDATORY_UNITS,
    OPTIONAL_UNIT,
    ULN,
    VERIFIER,
    course,
    la_client,
    learner,
    problems,
    stats,
)

ENROLMENT = "/webservices/soap/enrolment.cfc"


async def enrol(app: Starlette, user: m.EnrolmentUser, **kwargs: Any) -> m.EnrolmentResponse:
    async with la_client(app) as client:
        return await client.group_enrolment(user, **kwargs)


# -- success -----------------------------------------------------------------------------------


async def test_an_enrolment_creates_an_active_candidate_on_the_course(
    app: Starlette, db: SandboxDB
) -> None:
    async with la_client(app) as client:
        response = await client.group_enrolment(learner())
        candidates = await client.get_candidates()
    assert response.success
    assert response.messages == []
    assert response.source_id == "MIS-900001"
    assert response.uln == ULN
    [listed] = [cand for cand in candidates if cand.candidate_uuid == response.candidate_uuid]
    assert (listed.source_id, listed.course_uuid, listed.status) == ("MIS-900001", COURSE, "Active")
    assert (listed.start_date, listed.end_date, listed.uln) == ("2025-09-01", "2027-03-01", ULN)
    assert (listed.company_uuid, listed.email) == (COMPANY, "grace.ellison@example.com")
    units = {u.unit_uuid for u in db.enrolled_units(response.candidate_uuid)}
    assert units == MANDATORY_UNITS | {OPTIONAL_UNIT}  # mandatory ones added, the chosen kept


async def test_every_member_sent_is_stored(app: Starlette, db: SandboxDB) -> None:
    response = await enrol(app, learner())
    stored = db.candidate_fields(response.candidate_uuid)
    assert stored is not None
    assert stored["birth_date"] == "2007-04-18"
    assert (stored["gender"], stored["ni_number"], stored["employment_status"]) == (
        "F",
        "JT482915C",
        "10",
    )
    assert (stored["line1"], stored["town"], stored["postcode"]) == (
        "5 Mill Lane",
        "Leeds",
        "LS6 2AB",
    )
    assert (stored["assessor_uuid"], stored["verifier_uuid"]) == (ASSESSOR, VERIFIER)
    assert stored["line_manager_email"] == "rebecca.lowe@example.co.uk"


async def test_without_units_the_course_mandatory_units_are_added(
    app: Starlette, db: SandboxDB
) -> None:
    response = await enrol(app, learner(course=course()))
    assert {u.unit_uuid for u in db.enrolled_units(response.candidate_uuid)} == MANDATORY_UNITS


@pytest.mark.parametrize("qan", [CARE_QAN, "6034771x", "603 4771 X"])
async def test_a_course_may_be_named_by_its_qan(app: Starlette, qan: str) -> None:
    user = learner(course=m.EnrolmentCourse(course_qan=qan, start_date="2025-09-01"))
    async with la_client(app) as client:
        response = await client.group_enrolment(user)
        listed = await client.get_candidates(CARE_QAN)
    assert response.success, response.messages
    assert [(c.candidate_uuid, c.course_uuid) for c in listed if c.source_id == "MIS-900001"] == [
        (response.candidate_uuid, CARE_COURSE)
    ]


async def test_only_the_mandatory_members_are_enough(app: Starlette) -> None:
    user = m.EnrolmentUser(
        source_id="MIS-900002", forename="Ann", surname="Lee", birth_date="2000-01-01",
        gender="U", email="ann.lee@example.org", company_uuid=COMPANY,
        course=m.EnrolmentCourse(course_uuid=COURSE, start_date="2025-09-01"),
        assessor_uuid=ASSESSOR, verifier_uuid=VERIFIER,
    )  # fmt: skip
    response = await enrol(app, user)
    assert response.success, response.messages
    assert response.uln == ""


@pytest.mark.parametrize(
    "overrides",
    [
        {"uln": "", "ni_number": "", "nationality_id": "", "line_manager_email": ""},
        {"ni_number": "jt 48 29 15 c", "gender": "f"},
        {"address": m.Address(postcode="ls62ab")},
        {"address": m.Address(postcode="ZZ99 9ZZ")},
        {"uln": "1000000043", "employment_status": "98"},
        {"uln": "9276 308 686"},
    ],
    ids=[
        "empty optional members",
        "case and spaces",
        "postcode spacing",
        "unknown postcode",
        "98",
        "spaced ULN",
    ],
)
async def test_tolerated_spellings_are_accepted(app: Starlette, overrides: dict[str, Any]) -> None:
    response = await enrol(app, learner(**overrides))
    assert response.success, response.messages


async def test_gender_and_uln_are_stored_in_their_plain_form(app: Starlette, db: SandboxDB) -> None:
    response = await enrol(app, learner(gender="f", uln=" 9276 308 686 "))
    assert response.uln == ULN
    stored = db.candidate_fields(response.candidate_uuid)
    assert stored is not None
    assert (stored["gender"], stored["uln"]) == ("F", ULN)


async def test_a_learner_fifteen_on_the_start_date_is_accepted(app: Starlette) -> None:
    response = await enrol(app, learner(birth_date="2010-09-01"))  # 15 on 2025-09-01
    assert response.success, response.messages


# -- refusals: one code each -------------------------------------------------------------------

REQUIRED_MEMBERS = [
    ("source_id", "SourceSystemLearnerUUID"),
    ("forename", "Forename"),
    ("surname", "Surname"),
    ("birth_date", "BirthDate"),
    ("gender", "Gender"),
    ("email", "EmailAddress"),
    ("company_uuid", "CompanyUUID"),
    ("course", "Course"),
    ("assessor_uuid", "PrimaryAssessorUUID"),
    ("verifier_uuid", "PrimaryVerifierUUID"),
]


# Course is a struct: it can only be left out; the scalars may also be empty or blank.
ABSENCES = [
    pytest.param(attr, field, absent, id=f"{field}-{label}")
    for attr, field in REQUIRED_MEMBERS
    for absent, label in [(None, "omitted"), ("", "empty"), ("  ", "blank")]
    if attr != "course" or absent is None
]


@pytest.mark.parametrize(("attr", "field", "absent"), ABSENCES)
async def test_a_missing_mandatory_member_is_required(
    app: Starlette, db: SandboxDB, attr: str, field: str, absent: str | None
) -> None:
    before = db.stats()["candidates"]
    user = learner()
    if absent is None:
        user = m.EnrolmentUser(**{k: v for k, v in user if k != attr and k != "extras"})
    else:
        setattr(user, attr, absent)
    response = await enrol(app, user)
    assert not response.success
    assert problems(response) == [("REQUIRED", field)]
    assert response.candidate_uuid == ""
    assert db.stats()["candidates"] == before  # nothing was created


CASES: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "no start date": ({"course": course(start_date=None)}, ("REQUIRED", "StartDate")),
    "no course id": (
        {"course": course(course_uuid=None, course_qan="")},
        ("REQUIRED", "CourseUUID"),
    ),
    "UK birth date": ({"birth_date": "18/04/2007"}, ("INVALID_FORMAT", "BirthDate")),
    "no such date": ({"birth_date": "2007-02-29"}, ("INVALID_FORMAT", "BirthDate")),
    "bad start date": ({"course": course(start_date="2025-9-1")}, ("INVALID_FORMAT", "StartDate")),
    "bad end date": ({"course": course(end_date="2027-13-01")}, ("INVALID_FORMAT", "EndDate")),
    "end before start": ({"course": course(end_date="2025-08-31")}, ("INVALID_FORMAT", "EndDate")),
    "end on start": ({"course": course(end_date="2025-09-01")}, ("INVALID_FORMAT", "EndDate")),
    "gender": ({"gender": "Female"}, ("INVALID_FORMAT", "Gender")),
    "e-mail": ({"email": "grace.example.com"}, ("INVALID_FORMAT", "EmailAddress")),
    "e-mail domain": ({"email": "grace@example"}, ("INVALID_FORMAT", "EmailAddress")),
    "manager e-mail": (
        {"line_manager_email": "rebecca lowe@example.com"},
        ("INVALID_FORMAT", "LineManagerEmailAddress"),
    ),
    "NINO prefix": ({"ni_number": "GB123456A"}, ("INVALID_FORMAT", "NINumber")),
    "NINO suffix": ({"ni_number": "JT482915E"}, ("INVALID_FORMAT", "NINumber")),
    "postcode": ({"address": m.Address(postcode="LS6")}, ("INVALID_FORMAT", "Postcode")),
    "postcode letters": (
        {"address": m.Address(postcode="LS6 2CI")},
        ("INVALID_FORMAT", "Postcode"),
    ),
    "employment": ({"employment_status": "13"}, ("INVALID_FORMAT", "EmploymentStatus")),
    "ULN check digit": ({"uln": "9276308687"}, ("INVALID_ULN", "ULN")),
    "ULN length": ({"uln": "927630868"}, ("INVALID_ULN", "ULN")),
    "ULN not known": ({"uln": "9999999999"}, ("INVALID_ULN", "ULN")),
    "company": ({"company_uuid": "no-such-company"}, ("UNKNOWN_COMPANY", "CompanyUUID")),
    "course": ({"course": course(course_uuid="no-such-course")}, ("UNKNOWN_COURSE", "CourseUUID")),
    "QAN": (
        {"course": course(course_uuid=None, course_qan="600/0000/0")},
        ("UNKNOWN_COURSE", "CourseQAN"),
    ),
    "inactive course": (
        {"course": course(course_uuid=INACTIVE_COURSE)},
        ("INACTIVE_COURSE", "CourseUUID"),
    ),
    "unit": (
        {"course": course(units=[m.EnrolmentUnit(unit_uuid="no-such-unit")])},
        ("UNKNOWN_UNIT", "UnitUUID"),
    ),
    "unit of another course": (
        {"course": course(units=[m.EnrolmentUnit(unit_uuid=FOREIGN_UNIT)])},
        ("UNIT_NOT_IN_COURSE", "UnitUUID"),
    ),
    "nationality": ({"nationality_id": "999"}, ("UNKNOWN_NATIONALITY", "NationalityID")),
    "ethnicity": ({"ethnicity_id": "31"}, ("UNKNOWN_ETHNICITY", "EthnicityID")),
    "trainer": ({"assessor_uuid": "nobody"}, ("UNKNOWN_TRAINER", "PrimaryAssessorUUID")),
    "not an assessor": ({"assessor_uuid": VERIFIER}, ("NOT_AN_ASSESSOR", "PrimaryAssessorUUID")),
    "not a verifier": ({"verifier_uuid": ASSESSOR}, ("NOT_A_VERIFIER", "PrimaryVerifierUUID")),
    "assessor left": ({"assessor_uuid": LEFT_TRAINER}, ("INACTIVE_TRAINER", "PrimaryAssessorUUID")),
    "verifier left": ({"verifier_uuid": LEFT_TRAINER}, ("INACTIVE_TRAINER", "PrimaryVerifierUUID")),
    "too young": ({"birth_date": "2010-09-02"}, ("TOO_YOUNG", "BirthDate")),
}


@pytest.mark.parametrize(("overrides", "expected"), CASES.values(), ids=CASES.keys())
async def test_each_rule_refuses_with_its_code(
    app: Starlette, db: SandboxDB, overrides: dict[str, Any], expected: tuple[str, str]
) -> None:
    before = db.stats()["candidates"]
    response = await enrol(app, learner(**overrides))
    assert not response.success
    assert problems(response) == [expected]
    assert response.messages[0].message  # a sentence for the person fixing the data
    assert response.source_id == "MIS-900001"  # echoed, so the caller can match it up
    assert db.stats()["candidates"] == before


async def test_every_problem_is_listed_not_just_the_first(app: Starlette) -> None:
    user = learner(
        surname="",
        email="not-an-address",
        uln="1234567890",
        company_uuid="no-such-company",
        course=course(units=[m.EnrolmentUnit(unit_uuid=FOREIGN_UNIT)]),
    )
    response = await enrol(app, user)
    assert not response.success
    assert problems(response) == [
        ("REQUIRED", "Surname"),
        ("INVALID_FORMAT", "EmailAddress"),
        ("INVALID_ULN", "ULN"),
        ("UNKNOWN_COMPANY", "CompanyUUID"),
        ("UNIT_NOT_IN_COURSE", "UnitUUID"),
    ]


async def test_an_empty_user_lists_every_mandatory_member(app: Starlette) -> None:
    response = await enrol(app, m.EnrolmentUser())
    assert sorted(field for _, field in problems(response)) == sorted(
        f for _, f in REQUIRED_MEMBERS
    )


async def test_a_trainer_who_left_and_lacks_the_role_gets_both_messages(app: Starlette) -> None:
    response = await enrol(app, learner(verifier_uuid=ASSESSOR, assessor_uuid=LEFT_TRAINER))
    assert problems(response) == [
        ("INACTIVE_TRAINER", "PrimaryAssessorUUID"),
        ("NOT_A_VERIFIER", "PrimaryVerifierUUID"),
    ]


# -- duplicates, welcome e-mails, stats --------------------------------------------------------


async def test_enrolling_the_same_learner_twice_creates_a_duplicate_the_stats_count(
    app: Starlette,
) -> None:
    async with la_client(app) as client:
        first = await client.group_enrolment(learner())
        second = await client.group_enrolment(learner())
        listed = await client.get_candidates()
    assert first.success
    assert second.success
    assert first.candidate_uuid != second.candidate_uuid
    assert sum(c.source_id == "MIS-900001" for c in listed) == 2
    figures = await stats(app)
    assert figures["duplicate_source_ids"] == 1
    assert figures["calls"]["GroupEnrolment"] == 2


async def test_a_welcome_email_is_recorded_only_when_asked(app: Starlette, db: SandboxDB) -> None:
    quiet = await enrol(app, learner(source_id="MIS-1"))
    assert (await stats(app))["welcome_emails"] == 0
    told = await enrol(app, learner(source_id="MIS-2"), send_login_details=True)
    assert (await stats(app))["welcome_emails"] == 1
    assert db.welcome_emails(quiet.candidate_uuid) == []
    [mail] = db.welcome_emails(told.candidate_uuid)
    assert mail.email == "grace.ellison@example.com"
    assert mail.expires_at - mail.sent_at == timedelta(hours=24)


async def test_a_refused_enrolment_sends_no_welcome_email(app: Starlette) -> None:
    response = await enrol(app, learner(gender="?"), send_login_details=True)
    assert not response.success
    assert (await stats(app))["welcome_emails"] == 0


# -- on the wire -------------------------------------------------------------------------------

ENVELOPE = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"
    xmlns:tns="https://api.learningassistant.com"
    xmlns:types="http://enrolment.types.soap.webservices"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Header><tns:authToken><id xsi:type="xsd:string">{id}</id>
    <uuid xsi:type="xsd:string">{uuid}</uuid></tns:authToken></soap:Header>
  <soap:Body soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
    <tns:GroupEnrolment>
      <User href="#id1"/>
      <blnAssignEvaluationOnEnroll xsi:type="xsd:boolean">false</blnAssignEvaluationOnEnroll>
      <blnSendLoginDetailsOnEnroll xsi:type="xsd:boolean">true</blnSendLoginDetailsOnEnroll>
    </tns:GroupEnrolment>
    <types:Type_enrolmentUser id="id1" xsi:type="types:Type_enrolmentUser">
      <BirthDate xsi:type="xsd:string">2006-05-01</BirthDate>
      <CompanyUUID xsi:type="xsd:string">{company}</CompanyUUID>
      <Course href="#id2"/>
      <EmailAddress xsi:type="xsd:string">sam.hird@example.com</EmailAddress>
      <Forename xsi:type="xsd:string">Sam</Forename>
      <Gender xsi:type="xsd:string">M</Gender>
      <NationalityID xsi:nil="true"/>
      <PrimaryAssessorUUID xsi:type="xsd:string">{assessor}</PrimaryAssessorUUID>
      <PrimaryVerifierUUID xsi:type="xsd:string">{verifier}</PrimaryVerifierUUID>
      <SourceSystemLearnerUUID xsi:type="xsd:string">MIS-777</SourceSystemLearnerUUID>
      <Surname {surname}</Surname>
    </types:Type_enrolmentUser>
    <types:Type_enrolmentCourse id="id2" xsi:type="types:Type_enrolmentCourse">
      <CourseUUID xsi:type="xsd:string">{course}</CourseUUID>
      <StartDate xsi:type="xsd:string">2025-09-01</StartDate>
    </types:Type_enrolmentCourse>
  </soap:Body>
</soap:Envelope>"""


def _envelope(token: m.Token, surname: str = 'xsi:type="xsd:string">Hird') -> str:
    return ENVELOPE.format(
        id=token.id, uuid=token.uuid, company=COMPANY, assessor=ASSESSOR, verifier=VERIFIER,
        course=COURSE, surname=surname,
    )  # fmt: skip


async def test_a_hand_written_multiref_envelope_enrols(la: LA, db: SandboxDB) -> None:
    token = await la.authenticate()
    response = await la.post(ENROLMENT, _envelope(token))
    assert response.status_code == 200, response.text
    assert b"<Success" in response.content
    assert b">true<" in response.content
    assert db.stats()["welcome_emails"] == 1  # blnSendLoginDetailsOnEnroll was true
    [mis777] = [c for c in db.candidates() if c.source_id == "MIS-777"]
    assert mis777.course_uuid == COURSE


async def test_a_nil_mandatory_member_counts_as_missing(la: LA) -> None:
    token = await la.authenticate()
    response = await la.post(ENROLMENT, _envelope(token, surname='xsi:nil="true">'))
    assert response.status_code == 200, response.text
    assert b"REQUIRED" in response.content
    assert b"Surname" in response.content
    assert b">false<" in response.content


async def test_a_struct_where_a_string_belongs_is_a_client_fault(la: LA) -> None:
    token = await la.authenticate()
    bad = 'xsi:type="xsd:string"><Last>Hird</Last>'
    response = await la.post(ENROLMENT, _envelope(token, surname=bad))
    fault = LA.fault(response, "GroupEnrolment")
    assert fault.faultcode == "soapenv:Client"
    assert "Type_enrolmentUser.Surname" in fault.faultstring


async def test_group_enrolment_needs_a_session(la: LA, db: SandboxDB) -> None:
    before = db.stats()["candidates"]
    response = await la.post(ENROLMENT, _envelope(m.Token(id="1", uuid="forged")))
    fault = LA.fault(response, "GroupEnrolment")
    assert fault.faultstring.startswith("Authentication failed:")
    assert db.stats()["candidates"] == before


@pytest.mark.parametrize(
    ("path", "name"),
    [(ENROLMENT, "GroupEnrolment"), ("/webservices/soap/enrolment_update.cfc", "UpdateEnrolment")],
)
async def test_the_wsdl_lists_the_enrolment_operations(
    client: httpx.AsyncClient, path: str, name: str
) -> None:
    wsdl = await client.get(f"{path}?wsdl")
    assert f'operation name="{name}"'.encode() in wsdl.content


# -- LA's format rules are never stricter than labridge's -------------------------------------


@given(st.dates(date(1950, 1, 1), date(2030, 12, 31)), st.dates(date(2000, 1, 1), date(2040, 1, 1)))
def test_every_start_labridge_allows_is_old_enough_for_la(birth: date, start: date) -> None:
    try:
        uk.minimum_start_check(birth, start)
    except uk.InvalidValueError:
        return
    assert rules.age_on(birth, start) >= rules.MINIMUM_AGE


@given(st.integers(10**9, 10**10 - 1))
def test_every_uln_labridge_passes_la_passes(number: int) -> None:
    text = str(number)
    try:
        checked = uk.check_uln(text)
    except uk.InvalidValueError:
        return
    assert checked == "" or rules.is_uln(checked)


@given(st.from_regex(r"[A-Z]{2}[0-9]{6}[A-F]", fullmatch=True))
def test_every_nino_labridge_passes_la_passes(text: str) -> None:
    try:
        checked = uk.check_nino(text)
    except uk.InvalidValueError:
        return
    assert rules.is_nino(checked)
    assert rules.is_nino(text.lower())


@given(st.from_regex(r"[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2}", fullmatch=True))
def test_every_postcode_labridge_passes_la_passes(text: str) -> None:
    try:
        checked = uk.check_postcode(text)
    except uk.InvalidValueError:
        return
    assert rules.is_postcode(text)
    assert checked == "" or rules.is_postcode(checked)


@given(st.emails() | st.text(max_size=30))
def test_every_email_labridge_passes_la_passes(text: str) -> None:
    try:
        checked = uk.check_email(text)
    except uk.InvalidValueError:
        return
    assert rules.is_email(checked)


@pytest.mark.parametrize(
    ("uln", "valid"),
    [("9276308686", True), ("1000000043", True), ("9276308680", False), ("92763086865", False),
     ("927630868a", False), ("0000000000", False), ("١٢٣٤٥٦٧٨٩٠", False)],
)  # fmt: skip
def test_uln_check_digit(uln: str, valid: bool) -> None:
    assert rules.is_uln(uln) is valid
