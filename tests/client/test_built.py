"""A record built into wire form once (``client.built``) goes out exactly as the record would:
the same request bytes, so the journal's copy of it is what LA was sent."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from labridge import models as m
from labridge.client import AsyncClient, built
from labridge.sandbox import seed

from .conftest import BASE_URL, PASSWORD, USERNAME

COURSE = seed.course_uuid("ST0070")


def learner() -> m.EnrolmentUser:
    """A learner the sandbox accepts, with an address, a course and a unit (nested members)."""
    return m.EnrolmentUser(
        source_id="MIS-900002",
        forename="Grace",
        surname="Ellison",
        birth_date="2007-04-18",
        gender="F",
        email="grace.ellison@example.com",
        address=m.Address(line1="5 Mill Lane", town="Leeds", postcode="LS6 2AB"),
        company_uuid=seed.company_uuid("Castlegate Accountants LLP"),
        assessor_uuid=next(t.uuid for t in seed.TRAINERS if t.surname == "Whitfield"),
        verifier_uuid=next(t.uuid for t in seed.TRAINERS if t.surname == "Hollins"),
        course=m.EnrolmentCourse(
            course_uuid=COURSE,
            start_date="2025-09-01",
            end_date="2027-03-01",
            units=[m.EnrolmentUnit(unit_uuid=seed.unit_uuid("ST0070", "U7"))],
        ),
    )


class Recording(httpx.AsyncBaseTransport):
    """httpx's in-process transport to the sandbox, keeping each request body it carries."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(await request.aread())
        return await self.inner.handle_async_request(request)


async def test_a_built_user_is_sent_as_the_model_is(sandbox_app: Starlette) -> None:
    recording = Recording(sandbox_app)
    user = learner()
    wire = built(user)
    async with AsyncClient(BASE_URL, USERNAME, PASSWORD, transport=recording) as client:
        first = await client.group_enrolment(user)
        second = await client.group_enrolment(wire)
    assert first.success  # the sandbox read both as a whole user
    assert second.success
    by_model, by_wire = recording.bodies[1], recording.bodies[2]  # [0] is the login
    assert by_model == by_wire  # one session: the same token in both
    assert b"SourceSystemLearnerUUID" in by_wire


async def test_a_built_update_is_sent_as_the_model_is(sandbox_app: Starlette) -> None:
    recording = Recording(sandbox_app)
    async with AsyncClient(BASE_URL, USERNAME, PASSWORD, transport=recording) as client:
        enrolled = await client.group_enrolment(learner())
        update = m.EnrolmentUserUpdate(
            candidate_uuid=enrolled.candidate_uuid,
            course_uuid=COURSE,
            source_id=learner().source_id,
            email="new.address@example.org",
        )
        first = await client.update_enrolment(update)
        second = await client.update_enrolment(built(update))
    assert first.success
    assert second.success
    assert recording.bodies[2] == recording.bodies[3]
    assert built(update).members["EmailAddress"] == "new.address@example.org"
