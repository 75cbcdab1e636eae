"""Seeded reference data and learners to enrol, shared by the enrolment, update and fault tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from labridge import AsyncClient
from labridge import models as m
from labridge.sandbox import seed
from labridge.sandbox.app import STATS_PATH
from labridge.sandbox.faults import FAULTS_PATH

from .conftest import BASE_URL, PASSWORD, USERNAME


def _trainer(surname: str) -> str:
    return next(t.uuid for t in seed.TRAINERS if t.surname == surname)


COMPANY = seed.company_uuid("Castlegate Accountants LLP")
OTHER_COMPANY = seed.company_uuid("Deansgate Digital Ltd")
COURSE = seed.course_uuid("ST0070")  # Business Administrator, no QAN, U7 optional
CARE_COURSE = seed.course_uuid("ST0005")  # Adult Care Worker, QAN 603/4771/X
CARE_QAN = "603/4771/X"
INACTIVE_COURSE = seed.course_uuid("ST0116")
OPTIONAL_UNIT = seed.unit_uuid("ST0070", "U7")
FOREIGN_UNIT = seed.unit_uuid("ST0072", "U5")  # a unit of Customer Service Practitioner
ASSESSOR = _trainer("Whitfield")  # assessor only
VERIFIER = _trainer("Hollins")  # verifier only
OTHER_ASSESSOR = _trainer("Okafor")
OTHER_VERIFIER = _trainer("Marsh")
LEFT_TRAINER = _trainer("Dunmore")  # assessor and verifier, inactive
NATIONALITY = seed.nationality_id("British")
ETHNICITY = seed.ethnicity_id("31")
ULN = "9276308686"
#: Units ST0070 adds by itself: every mandatory one.
MANDATORY_UNITS = frozenset(
    seed.unit_uuid("ST0070", u.reference) for u in seed.course_by_key("ST0070").units if u.mandatory
)


def course(**overrides: Any) -> m.EnrolmentCourse:
    fields: dict[str, Any] = {
        "course_uuid": COURSE,
        "start_date": "2025-09-01",
        "end_date": "2027-03-01",
    }
    return m.EnrolmentCourse(**(fields | overrides))


def learner(**overrides: Any) -> m.EnrolmentUser:
    """A learner LA accepts, with every member filled in; ``overrides`` change or add members."""
    fields: dict[str, Any] = {
        "source_id": "MIS-900001",
        "forename": "Grace",
        "surname": "Ellison",
        "birth_date": "2007-04-18",
        "gender": "F",
        "email": "grace.ellison@example.com",
        "uln": ULN,
        "ni_number": "JT482915C",
        "phone": "0113 496 0999",
        "mobile": "07700 900999",
        "address": m.Address(line1="5 Mill Lane", town="Leeds", postcode="LS6 2AB"),
        "nationality_id": NATIONALITY,
        "ethnicity_id": ETHNICITY,
        "employment_status": "10",
        "company_uuid": COMPANY,
        "course": course(units=[m.EnrolmentUnit(unit_uuid=OPTIONAL_UNIT)]),
        "assessor_uuid": ASSESSOR,
        "verifier_uuid": VERIFIER,
        "job_title": "Office Junior",
        "line_manager": "Rebecca Lowe",
        "line_manager_email": "rebecca.lowe@example.co.uk",
    }
    return m.EnrolmentUser(**(fields | overrides))


@asynccontextmanager
async def la_client(app: Starlette, **kwargs: Any) -> AsyncIterator[AsyncClient]:
    """labridge's own client, talking to ``app`` in-process."""
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient(
        BASE_URL, USERNAME, PASSWORD, transport=transport, backoff=0, **kwargs
    ) as client:
        yield client


async def sandbox_get(app: Starlette, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        return await http.get(path)


async def stats(app: Starlette) -> dict[str, Any]:
    response = await sandbox_get(app, STATS_PATH)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def arm(app: Starlette, **fault: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        return await http.post(FAULTS_PATH, json=fault)


def problems(response: m.EnrolmentResponse) -> list[tuple[str, str]]:
    """``(code, field)`` of every MessageList entry, in order."""
    return [(msg.code, msg.field) for msg in response.messages]
