"""UpdateEnrolment as LA plays it (docs/contract.md §3.6): an omitted or nil member stays, an empty
one clears (a mandatory one cannot be cleared), every problem is listed and a refused update changes
nothing; ``/_sandbox/last-request`` shows exactly what went on the wire."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from labridge import AsyncClient, soap
from labridge import contract as c
from labridge import models as m
from labridge.sandbox.db import SandboxDB
from labridge.sandbox.faults import LAST_REQUEST_PATH
from labridge.sandbox.group_enrolment import UNCLEARABLE

from .conftest import LA
from .learners import (
    CARE_COURSE,
    COURSE,
    FOREIGN_UNIT,
    MANDATORY_UNITS,
    OPTIONAL_UNIT,
    OTHER_ASSESSOR,
    OTHER_COMPANY,
    OTHER_VERIFIER,
    VERIFIER,
    course,
    la_client,
    learner,
    problems,
    sandbox_get,
)

UPDATE_PATH = "/webservices/soap/enrolment_update.cfc"


async def enrolled(client: AsyncClient, **overrides: Any) -> str:
    """A freshly enrolled learner's CandidateUUID (on ST0070, without optional units)."""
    response = await client.group_enrolment(learner(course=course(), **overrides))
    assert response.success, response.messages
    return response.candidate_uuid


def stored(db: SandboxDB, candidate_uuid: str) -> dict[str, str | bool]:
    fields = db.candidate_fields(candidate_uuid)
    assert fields is not None
    return fields


async def update(app: Starlette, **fields: Any) -> tuple[str, m.EnrolmentResponse]:
    """Enrol a learner, then update it with ``fields``; returns its UUID and the answer."""
    async with la_client(app) as client:
        cid = await enrolled(client)
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid=cid, **fields)
        )
    return cid, response


# -- omitted, nil, empty -----------------------------------------------------------------------


async def test_omitted_members_stay_as_they_are(app: Starlette, db: SandboxDB) -> None:
    async with la_client(app) as client:
        cid = await enrolled(client)
        before = stored(db, cid)
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid=cid, job_title="Team Administrator")
        )
    assert response.success, response.messages
    assert (response.candidate_uuid, response.source_id) == (cid, "MIS-900001")
    assert stored(db, cid) == before | {"job_title": "Team Administrator"}


async def test_nil_members_stay_as_they_are(app: Starlette, db: SandboxDB) -> None:
    async with la_client(app) as client:
        cid = await enrolled(client)
        before = stored(db, cid)
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(
                candidate_uuid=cid,
                mobile=None,
                ni_number=None,
                address=None,
                course=None,
                surname=None,
                email=None,
                department="Finance",
            )
        )
    assert response.success, response.messages
    assert stored(db, cid) == before | {"department": "Finance"}


async def test_empty_members_clear_what_la_holds(app: Starlette, db: SandboxDB) -> None:
    _, response = await update(
        app,
        mobile="",
        phone="",
        ni_number="",
        uln="",
        nationality_id="",
        line_manager_email="",
        address=m.Address(line1="", postcode=""),
        course=m.EnrolmentCourse(end_date=""),
    )
    assert response.success, response.messages
    after = stored(db, response.candidate_uuid)
    cleared = ["mobile", "phone", "ni_number", "uln", "nationality_id", "line_manager_email"]
    for column in [*cleared, "line1", "postcode", "end_date"]:
        assert after[column] == "", column
    assert after["town"] == "Leeds"  # an address member not sent stays
    assert response.uln == ""


async def test_a_nil_member_in_a_hand_written_envelope_stays(la: LA, db: SandboxDB) -> None:
    cid = next(c.candidate_uuid for c in db.candidates() if c.source_id == "MIS-000123")
    before = stored(db, cid)
    token = await la.authenticate()
    envelope = f"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:tns="https://api.learningassistant.com"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xmlns:xsd="http://www.w3.org/2001/XMLSchema">
      <soap:Header><tns:authToken><id>{token.id}</id><uuid>{token.uuid}</uuid></tns:authToken>
      </soap:Header>
      <soap:Body><tns:UpdateEnrolment><User href="#id1"/></tns:UpdateEnrolment>
        <User id="id1">
          <CandidateUUID xsi:type="xsd:string">{cid}</CandidateUUID>
          <EmailAddress xsi:nil="true"/>
          <MobileNumber xsi:type="xsd:string"></MobileNumber>
          <Surname xsi:nil="true"/>
          <JobTitle xsi:type="xsd:string">Senior Administrator</JobTitle>
        </User>
      </soap:Body></soap:Envelope>"""
    response = await la.post(UPDATE_PATH, envelope)
    assert response.status_code == 200, response.text
    answer = soap.decode_response(response.content, c.operation("UpdateEnrolment"))
    assert answer.value["Success"] is True
    expected = before | {"mobile": "", "job_title": "Senior Administrator"}
    assert stored(db, cid) == expected


@pytest.mark.parametrize("attr", sorted(UNCLEARABLE))
async def test_a_mandatory_member_cannot_be_cleared(
    app: Starlette, db: SandboxDB, attr: str
) -> None:
    async with la_client(app) as client:
        cid = await enrolled(client)
        before = stored(db, cid)
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid=cid, job_title="Changed", **{attr: ""})
        )
    assert not response.success
    assert problems(response) == [("REQUIRED", c.wire_name(m.EnrolmentUserUpdate, attr))]
    assert stored(db, cid) == before  # the valid change was not applied either


async def test_the_start_date_cannot_be_cleared(app: Starlette) -> None:
    _, response = await update(app, course=m.EnrolmentCourse(start_date=""))
    assert problems(response) == [("REQUIRED", "StartDate")]


# -- the candidate -----------------------------------------------------------------------------


async def test_an_unknown_candidate_is_refused(app: Starlette) -> None:
    async with la_client(app) as client:
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid="no-such-candidate", job_title="X")
        )
    assert not response.success
    assert problems(response) == [("UNKNOWN_CANDIDATE", "CandidateUUID")]


@pytest.mark.parametrize("candidate_uuid", [None, ""])
async def test_the_candidate_uuid_is_required(app: Starlette, candidate_uuid: str | None) -> None:
    async with la_client(app) as client:
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid=candidate_uuid, email="bad")
        )
    assert problems(response) == [
        ("REQUIRED", "CandidateUUID"),
        ("INVALID_FORMAT", "EmailAddress"),  # the other members are still checked
    ]


async def test_a_seeded_learner_can_be_updated(app: Starlette, db: SandboxDB) -> None:
    cid = next(c.candidate_uuid for c in db.candidates() if c.source_id == "MIS-000131")
    async with la_client(app) as client:
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid=cid, email="mo.iqbal@example.co.uk")
        )
    assert response.success, response.messages
    assert stored(db, cid)["email"] == "mo.iqbal@example.co.uk"


# -- changes, as GetCandidates shows them --------------------------------------------------------


async def test_changes_show_in_get_candidates(app: Starlette) -> None:
    async with la_client(app) as client:
        cid = await enrolled(client)
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(
                candidate_uuid=cid,
                surname="Ellison-Park",
                email="grace.park@example.com",
                company_uuid=OTHER_COMPANY,
                source_id="MIS-900001-B",
                uln="1000000043",
                course=m.EnrolmentCourse(end_date="2027-06-30"),
            )
        )
        [listed] = [x for x in await client.get_candidates() if x.candidate_uuid == cid]
    assert response.success, response.messages
    assert (response.source_id, response.uln) == ("MIS-900001-B", "1000000043")
    assert (listed.surname, listed.email) == ("Ellison-Park", "grace.park@example.com")
    assert (listed.company_uuid, listed.source_id) == (OTHER_COMPANY, "MIS-900001-B")
    assert (listed.uln, listed.end_date) == ("1000000043", "2027-06-30")
    assert listed.start_date == "2025-09-01"  # not sent, so not changed


async def test_trainers_and_references_change(app: Starlette, db: SandboxDB) -> None:
    cid, response = await update(
        app,
        assessor_uuid=OTHER_ASSESSOR,
        verifier_uuid=OTHER_VERIFIER,
        nationality_id="2",
        employment_status="11",
        address=m.Address(postcode="yo1 9rn"),
    )
    assert response.success, response.messages
    after = stored(db, cid)
    assert (after["assessor_uuid"], after["verifier_uuid"]) == (OTHER_ASSESSOR, OTHER_VERIFIER)
    assert after["nationality_id"] == "2"
    assert (after["employment_status"], after["postcode"]) == ("11", "yo1 9rn")


async def test_units_are_added_to_those_held(app: Starlette, db: SandboxDB) -> None:
    cid, response = await update(
        app, course=m.EnrolmentCourse(units=[m.EnrolmentUnit(unit_uuid=OPTIONAL_UNIT)])
    )
    assert response.success, response.messages
    assert {u.unit_uuid for u in db.enrolled_units(cid)} == MANDATORY_UNITS | {OPTIONAL_UNIT}


async def test_the_course_may_be_named_when_it_is_the_learners_own(app: Starlette) -> None:
    _, response = await update(
        app,
        course_uuid=COURSE,
        course=m.EnrolmentCourse(course_uuid=COURSE, start_date="2025-10-01"),
    )
    assert response.success, response.messages


UPDATE_CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
    "e-mail": ({"email": "grace@"}, [("INVALID_FORMAT", "EmailAddress")]),
    "ULN": ({"uln": "1000000044"}, [("INVALID_ULN", "ULN")]),
    "NINO": ({"ni_number": "DA123456A"}, [("INVALID_FORMAT", "NINumber")]),
    "postcode": ({"address": m.Address(postcode="LEEDS")}, [("INVALID_FORMAT", "Postcode")]),
    "employment": ({"employment_status": "1"}, [("INVALID_FORMAT", "EmploymentStatus")]),
    "company": ({"company_uuid": "gone"}, [("UNKNOWN_COMPANY", "CompanyUUID")]),
    "ethnicity": ({"ethnicity_id": "ETH99"}, [("UNKNOWN_ETHNICITY", "EthnicityID")]),
    "assessor": ({"assessor_uuid": VERIFIER}, [("NOT_AN_ASSESSOR", "PrimaryAssessorUUID")]),
    "verifier": ({"verifier_uuid": "nobody"}, [("UNKNOWN_TRAINER", "PrimaryVerifierUUID")]),
    "end date": (
        {"course": m.EnrolmentCourse(end_date="2025-08-01")},
        [("INVALID_FORMAT", "EndDate")],
    ),
    "start after end": (
        {"course": m.EnrolmentCourse(start_date="2027-04-01")},
        [("INVALID_FORMAT", "EndDate")],
    ),
    "too young": (
        {"course": m.EnrolmentCourse(start_date="2020-01-06", end_date="2021-01-06")},
        [("TOO_YOUNG", "BirthDate")],
    ),
    "unknown course": ({"course_uuid": "no-such-course"}, [("UNKNOWN_COURSE", "CourseUUID")]),
    "another course": ({"course_uuid": CARE_COURSE}, [("NOT_ON_COURSE", "CourseUUID")]),
    "unit": (
        {"course": m.EnrolmentCourse(units=[m.EnrolmentUnit(unit_uuid=FOREIGN_UNIT)])},
        [("UNIT_NOT_IN_COURSE", "UnitUUID")],
    ),
    "several": (
        {"email": "x", "surname": "", "company_uuid": "gone"},
        [
            ("REQUIRED", "Surname"),
            ("INVALID_FORMAT", "EmailAddress"),
            ("UNKNOWN_COMPANY", "CompanyUUID"),
        ],
    ),
}


@pytest.mark.parametrize(("fields", "expected"), UPDATE_CASES.values(), ids=UPDATE_CASES.keys())
async def test_given_members_are_checked_and_a_refusal_changes_nothing(
    app: Starlette, db: SandboxDB, fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    async with la_client(app) as client:
        cid = await enrolled(client)
        before = stored(db, cid)
        units = db.enrolled_units(cid)
        response = await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid=cid, job_title="Changed", **fields)
        )
    assert not response.success
    assert problems(response) == expected
    assert stored(db, cid) == before
    assert db.enrolled_units(cid) == units


# -- what went on the wire ---------------------------------------------------------------------


async def test_last_request_shows_exactly_the_members_sent(app: Starlette) -> None:
    async with la_client(app) as client:
        cid = await enrolled(client)
        await client.update_enrolment(
            m.EnrolmentUserUpdate(candidate_uuid=cid, job_title="Lead", mobile=None, phone="")
        )
    response = await sandbox_get(app, f"{LAST_REQUEST_PATH}?operation=UpdateEnrolment&personal=1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    sent = soap.decode_request(response.content)
    assert sent.operation == "UpdateEnrolment"
    assert sent.params["User"] == {
        "CandidateUUID": cid,
        "JobTitle": "Lead",
        "MobileNumber": None,  # xsi:nil
        "PhoneNumber": "",
    }


async def test_last_request_keeps_the_latest_of_each_operation(app: Starlette) -> None:
    async with la_client(app) as client:
        cid = await enrolled(client)
        for title in ("First", "Second"):
            await client.update_enrolment(
                m.EnrolmentUserUpdate(candidate_uuid=cid, job_title=title)
            )
        await client.get_trainers()
    update_sent = await sandbox_get(
        app, f"{LAST_REQUEST_PATH}?operation=UpdateEnrolment&personal=1"
    )
    assert soap.decode_request(update_sent.content).params["User"]["JobTitle"] == "Second"
    enrol_sent = await sandbox_get(app, f"{LAST_REQUEST_PATH}?operation=GroupEnrolment&personal=1")
    assert soap.decode_request(enrol_sent.content).operation == "GroupEnrolment"


async def test_last_request_never_keeps_a_password(app: Starlette) -> None:
    async with la_client(app) as client:
        await client.authenticate()
    response = await sandbox_get(app, f"{LAST_REQUEST_PATH}?operation=Authenticate")
    assert response.status_code == 404


@pytest.mark.parametrize(("query", "status"), [("", 400), ("?operation=UpdateEnrolment", 404)])
async def test_last_request_before_any_call(app: Starlette, query: str, status: int) -> None:
    assert (await sandbox_get(app, LAST_REQUEST_PATH + query)).status_code == status
