"""labridge's pre-flight validation against the sandbox's own enrolment rules.

Issue 3: every record labridge's validation passes, the sandbox accepts; every record the sandbox
refuses, labridge's validation flags. The two sets of rules are written apart (docs/architecture.md,
"The sandbox is LA, not a mirror of the client"), so this compares two real things: users generated
from the seed data, mostly valid with random mutations, go through the real client to the real
sandbox app in-process. labridge may be stricter than LA (it refuses a lower-case gender, a learner
who is 15 at the start); it must never be laxer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeAlias

import httpx
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from labridge import AsyncClient
from labridge.models import (
    Address,
    EnrolmentCourse,
    EnrolmentResponse,
    EnrolmentUnit,
    EnrolmentUser,
    Framework,
)
from labridge.sandbox import seed
from labridge.sandbox.app import create_app
from labridge.validate.learners import check_user
from labridge.validate.lookups import ReferenceData

BASE_URL = "http://sandbox"
USERNAME = "northgate-ws"
PASSWORD = "agreement-pw"
TODAY = date(2026, 3, 2)

#: A user under construction: EnrolmentUser members by attribute, the course's and address's as
#: "course.<attr>" and "address.<attr>"; "course.units" holds UnitUUIDs.
Draft: TypeAlias = dict[str, Any]
Mutation: TypeAlias = Callable[[st.DrawFn, ReferenceData, Draft], None]


@dataclass
class Sandbox:
    """The sandbox app behind a real client, and the reference data LA lists."""

    runner: asyncio.Runner
    client: AsyncClient
    ref: ReferenceData

    def enrol(self, user: EnrolmentUser) -> EnrolmentResponse:
        return self.runner.run(self.client.group_enrolment(user))


async def _reference(client: AsyncClient) -> ReferenceData:
    """What a sync would store: LA's lists as the client reads them."""
    return ReferenceData(
        frameworks=await client.get_frameworks(),
        trainers=await client.get_trainers(),
        companies=await client.get_companies(),
        nationalities=await client.get_nationalities(),
        ethnicities=await client.get_ethnicities(),
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # Module scope: one app for every example. A learner enrolled twice becomes two candidates
    # (docs/contract.md §3.5), which is no refusal, so the examples do not disturb each other.
    app = create_app(username=USERNAME, password=PASSWORD)
    transport = httpx.ASGITransport(app=app)
    with asyncio.Runner() as runner:
        client = AsyncClient(BASE_URL, USERNAME, PASSWORD, transport=transport)
        try:
            yield Sandbox(runner, client, runner.run(_reference(client)))
        finally:
            runner.run(client.aclose())
    app.state.db.close()


# -- valid users ----------------------------------------------------------------------------------

NAMES = ("Amelia", "Oliver", "Zainab", "Kacper", "Siobhan", "Tomasz", "Chloe", "Dev")
ULNS = tuple(seed.make_uln(stem) for stem in (927630868, 100000004, 555123456, 314159265))
NINOS = ("JH123456C", "AB123456D", "CE987654A")
POSTCODES = ("LS1 6BZ", "SW1A 1AA", "M3 4LZ", "BD17 7DQ", "ZZ99 9ZZ")


def active_courses(ref: ReferenceData) -> list[Framework]:
    return [c for c in ref.frameworks if c.active]


def optional(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | value


@st.composite
def valid_drafts(draw: st.DrawFn, ref: ReferenceData) -> Draft:
    """A user every rule of docs/contract.md §3.5 (and labridge's stricter ones) accepts."""
    forename, surname = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
    start = date(2024, 8, 1) + timedelta(days=draw(st.integers(0, 900)))
    born = start - timedelta(days=draw(st.integers(17 * 366, 60 * 365)))
    course = draw(st.sampled_from(active_courses(ref)))
    units = draw(st.lists(st.sampled_from(course.units), max_size=3)) if course.units else []
    draft: Draft = {
        "source_id": draw(st.from_regex(r"L[0-9]{5}", fullmatch=True)),
        "forename": forename,
        "surname": surname,
        "birth_date": born.isoformat(),
        "gender": draw(st.sampled_from("MFOU")),
        "email": f"{forename}.{surname}@example.com".lower(),
        "company_uuid": draw(st.sampled_from(ref.companies)).company_uuid,
        "assessor_uuid": draw(
            st.sampled_from([t for t in ref.trainers if t.is_assessor])
        ).trainer_uuid,
        "verifier_uuid": draw(
            st.sampled_from([t for t in ref.trainers if t.is_verifier])
        ).trainer_uuid,
        "course.course_uuid": course.course_uuid,
        "course.start_date": start.isoformat(),
        "course.units": [u.unit_uuid for u in units],
    }
    extras = {
        "course.end_date": optional(
            st.integers(1, 1500).map(lambda d: (start + timedelta(days=d)).isoformat())
        ),
        "uln": optional(st.sampled_from(ULNS)),
        "ni_number": optional(st.sampled_from(NINOS)),
        "address.line1": optional(st.just("12 Kirkgate")),
        "address.postcode": optional(st.sampled_from(POSTCODES)),
        "nationality_id": optional(
            st.sampled_from(ref.nationalities).map(lambda n: n.nationality_id)
        ),
        "ethnicity_id": optional(st.sampled_from(ref.ethnicities).map(lambda e: e.ethnicity_id)),
        "employment_status": optional(st.sampled_from(("10", "11", "12", "98"))),
        "line_manager_email": optional(st.just("joan.briggs@example.co.uk")),
        "mobile": optional(st.just("07700 900123")),
    }
    draft.update({k: v for k, s in extras.items() if (v := draw(s)) is not None})
    return draft


def build(draft: Draft) -> EnrolmentUser:
    """The EnrolmentUser of ``draft``, with exactly its keys set."""
    user = {k: v for k, v in draft.items() if "." not in k}
    address = {k[8:]: v for k, v in draft.items() if k.startswith("address.")}
    course = {k[7:]: v for k, v in draft.items() if k.startswith("course.")}
    if address:
        user["address"] = Address(**address)
    if "units" in course:
        course["units"] = [EnrolmentUnit(unit_uuid=u) for u in course["units"]]
    if course and not draft.get("no_course"):
        user["course"] = EnrolmentCourse(**course)
    user.pop("no_course", None)
    return EnrolmentUser(**user)


# -- mutations ------------------------------------------------------------------------------------

MANDATORY = (
    "source_id", "forename", "surname", "birth_date", "gender", "email", "company_uuid",
    "assessor_uuid", "verifier_uuid", "course.course_uuid", "course.start_date",
)  # fmt: skip


def drop_mandatory(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    key = draw(st.sampled_from((*MANDATORY, "no_course")))
    blank = draw(st.sampled_from((None, "", "   ")))
    if key == "no_course":
        draft["no_course"] = True
    elif blank is None:
        draft.pop(key, None)
    else:
        draft[key] = blank


def set_from(key: str | tuple[str, ...], values: st.SearchStrategy[str]) -> Mutation:
    keys = (key,) if isinstance(key, str) else key

    def mutate(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
        draft[draw(st.sampled_from(keys))] = draw(values)

    return mutate


def bad_trainer(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    role = draw(st.sampled_from(("assessor", "verifier")))
    inactive = [seed.trainer_uuid(t.email) for t in seed.TRAINERS if not t.active]
    wrong = [t.trainer_uuid for t in ref.trainers if not getattr(t, f"is_{role}")]
    emails = [t.email for t in ref.trainers]
    choices = st.sampled_from(inactive + wrong + emails) | st.uuids().map(str)
    draft[f"{role}_uuid"] = draw(choices)


def bad_units(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    course = draft.get("course.course_uuid", "")
    others = [u.unit_uuid for c in ref.frameworks if c.course_uuid != course for u in c.units]
    own_refs = [u.reference for c in ref.frameworks if c.course_uuid == course for u in c.units]
    choices = st.sampled_from(others + own_refs + [""]) | st.uuids().map(str)
    draft["course.units"] = [*draft.get("course.units", []), draw(choices)]


def bad_course(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    inactive = [c.course_uuid for c in ref.frameworks if not c.active]
    qans = [c.qan for c in ref.frameworks if c.qan]
    kind = draw(st.sampled_from(("uuid", "qan", "qan_only")))
    if kind == "uuid":
        draft["course.course_uuid"] = draw(st.sampled_from(inactive) | st.uuids().map(str))
    elif kind == "qan":
        draft.pop("course.course_uuid", None)
        qan = draw(st.sampled_from(qans))
        draft["course.course_qan"] = draw(
            st.sampled_from((qan, qan.replace("/", ""), "999/9999/9"))
        )
    else:  # the course by its own QAN, when it has one: no problem at all
        uuid = draft.get("course.course_uuid")
        course = next((c for c in ref.frameworks if c.course_uuid == uuid), None)
        if course is not None and course.qan:
            draft.pop("course.course_uuid")
            draft["course.course_qan"] = course.qan


def bad_company(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    names = [c.name for c in ref.companies]
    draft["company_uuid"] = draw(st.sampled_from(names) | st.uuids().map(str))


def valid_start(draft: Draft) -> date:
    """The draft's start date, or 1 September 2025 when a mutation has broken or removed it."""
    try:
        return date.fromisoformat(draft.get("course.start_date") or "")
    except ValueError:
        return date(2025, 9, 1)


def end_before_start(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    start = valid_start(draft)
    draft["course.start_date"] = start.isoformat()
    draft["course.end_date"] = (start - timedelta(days=draw(st.integers(0, 400)))).isoformat()


def young(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    start = valid_start(draft)
    draft["course.start_date"] = start.isoformat()
    draft["birth_date"] = (
        start - timedelta(days=draw(st.integers(13 * 365, 17 * 366)))
    ).isoformat()


def pad(draw: st.DrawFn, ref: ReferenceData, draft: Draft) -> None:
    """Spaces around a member: LA trims them; labridge may refuse them (never the reverse)."""
    key = draw(st.sampled_from(sorted(k for k, v in draft.items() if isinstance(v, str))))
    draft[key] = f" {draft[key]} "


MUTATIONS: tuple[Mutation, ...] = (
    drop_mandatory,
    set_from(
        "uln",
        st.sampled_from(("9999999999", "123456789", "12345678901", "0276308686", "9276 308686"))
        | st.from_regex(r"[0-9]{10}", fullmatch=True),
    ),
    set_from(
        ("email", "line_manager_email"),
        st.sampled_from(("amelia", "a@b", "a @b.com", "a@b..com", "@b.com", "a@b.com.", "a@@b.co")),
    ),
    set_from("address.postcode", st.sampled_from(("LS1", "ls1 6bz", "LS16BZ", "12345", "LS1 6CI"))),
    set_from(
        "ni_number", st.sampled_from(("QQ123456Z", "jh123456c", "JH 12 34 56 C", "GB123456A"))
    ),
    set_from(
        ("birth_date", "course.start_date", "course.end_date"),
        st.sampled_from(("14/03/2004", "2004-02-30", "2004-3-4", "20040314", "2004-13-01", "soon")),
    ),
    set_from("gender", st.sampled_from(("male", "m", "X", "Female"))),
    set_from("employment_status", st.sampled_from(("1", "employed", "99", "0"))),
    set_from(("nationality_id", "ethnicity_id"), st.sampled_from(("0", "British", "31", "ETH99"))),
    bad_trainer,
    bad_units,
    bad_course,
    bad_company,
    end_before_start,
    young,
    pad,
)


@st.composite
def users(draw: st.DrawFn, ref: ReferenceData) -> EnrolmentUser:
    draft = draw(valid_drafts(ref))
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
        mutate(draw, ref, draft)
    return build(draft)


# -- the property ---------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_labridge_flags_whatever_the_sandbox_refuses(sandbox: Sandbox, data: st.DataObject) -> None:
    user = data.draw(users(sandbox.ref), label="user")
    problems = check_user(user, sandbox.ref, today=TODAY)
    answer = sandbox.enrol(user)
    event(f"sandbox {'accepts' if answer.success else 'refuses'}, "
          f"labridge {'flags' if problems else 'passes'}")  # fmt: skip
    if not problems:
        refused = [(m.field, m.code, m.message) for m in answer.messages]
        assert answer.success, f"labridge passed a user the sandbox refused: {refused}"
        assert answer.candidate_uuid


def test_a_valid_user_is_accepted_by_both(sandbox: Sandbox) -> None:
    user = valid_user(sandbox.ref)
    assert check_user(user, sandbox.ref, today=TODAY) == []
    assert sandbox.enrol(user).success


@pytest.mark.parametrize(
    "changes",
    [
        {"uln": "1234567890"},
        {"company_uuid": "Aire Valley Logistics Ltd"},
        {"assessor_uuid": seed.trainer_uuid(f"mark.hollins@{seed.PROVIDER_DOMAIN}")},
        {"birth_date": "2015-01-01"},
        {"forename": ""},
    ],
)
def test_a_refused_user_is_flagged_by_both(sandbox: Sandbox, changes: dict[str, str]) -> None:
    user = valid_user(sandbox.ref).model_copy(update=changes)
    assert check_user(user, sandbox.ref, today=TODAY)
    assert not sandbox.enrol(user).success


def valid_user(ref: ReferenceData) -> EnrolmentUser:
    course = next(c for c in ref.frameworks if c.qan == "603/4771/X")
    return build(
        {
            "source_id": "L00001",
            "forename": "Amelia",
            "surname": "Hartley",
            "birth_date": "2004-03-14",
            "gender": "F",
            "email": "amelia.hartley@example.com",
            "company_uuid": ref.companies[0].company_uuid,
            "assessor_uuid": seed.trainer_uuid(f"sarah.whitfield@{seed.PROVIDER_DOMAIN}"),
            "verifier_uuid": seed.trainer_uuid(f"mark.hollins@{seed.PROVIDER_DOMAIN}"),
            "course.course_uuid": course.course_uuid,
            "course.start_date": "2025-09-01",
            "course.units": [course.units[-1].unit_uuid],
        }
    )
