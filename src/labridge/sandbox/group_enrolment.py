"""LA's enrolment rules as the sandbox plays them: GroupEnrolment and UpdateEnrolment
(docs/contract.md §3.5, §3.6).

Written apart from labridge's pre-flight validation (the sandbox is LA, not a mirror of
labridge's client) and never stricter than it, so that every record labridge passes is accepted
here.
Every problem goes into the ``MessageList``, never just the first; a refused request changes
nothing. Messages name members by their wire names (through the contract), a nested member by its
own name (``StartDate``, ``Postcode``, ``UnitUUID``), not by a path.

The rules and their codes:

- ``REQUIRED``: a mandatory member missing, blank, or (UpdateEnrolment) cleared.
- ``INVALID_FORMAT``: dates not ``YYYY-MM-DD`` or not real; Gender not M/F/O/U; an e-mail address
  without the shape ``local@domain.tld``; a NINumber or Postcode that is not a UK one (checked
  after upper-casing and respacing, as LA's forms do); EmploymentStatus not 10/11/12/98; a planned
  EndDate not after the StartDate.
- ``INVALID_ULN``: not ten digits, or a wrong check digit.
- ``UNKNOWN_COMPANY``, ``UNKNOWN_COURSE`` (by UUID, else by QAN; the UUID wins when both are
  given), ``INACTIVE_COURSE``, ``UNKNOWN_UNIT``, ``UNIT_NOT_IN_COURSE``, ``UNKNOWN_NATIONALITY``,
  ``UNKNOWN_ETHNICITY``, ``UNKNOWN_TRAINER``, ``NOT_AN_ASSESSOR``, ``NOT_A_VERIFIER``,
  ``INACTIVE_TRAINER``, ``UNKNOWN_CANDIDATE``.
- ``TOO_YOUNG``: under 15 on the start date. Deliberately looser than labridge's ILR rule (16 by
  the last Friday of June of the start's academic year), which implies at least 15 at the start.
- ``NOT_ON_COURSE`` (UpdateEnrolment): a course that is not the learner's. Moving a learner to
  another course is not an update; the sandbox refuses it rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .. import contract as c
from .. import models as m
from ..errors import ProtocolError
from .db import ACTIVE
from .rules import (
    INACTIVE_COURSE,
    NOT_ON_COURSE,
    REQUIRED,
    UNIT_NOT_IN_COURSE,
    UNKNOWN_CANDIDATE,
    UNKNOWN_COURSE,
    UNKNOWN_UNIT,
    Review,
    shown,
)

if TYPE_CHECKING:
    from .db import SandboxDB

#: GroupEnrolment's mandatory scalar members (Course is mandatory too, checked with its parts).
ENROLMENT_REQUIRED = (
    "source_id", "forename", "surname", "birth_date", "gender", "email",
    "company_uuid", "assessor_uuid", "verifier_uuid",
)  # fmt: skip

#: UpdateEnrolment members an empty string may not clear (docs/contract.md §3.5 marks them
#: mandatory).
UNCLEARABLE = frozenset(
    {"email", "company_uuid", "surname", "assessor_uuid", "verifier_uuid", "source_id"}
)

_ADDRESS = ("line1", "line2", "line3", "line4", "town", "county", "postcode")
_NOT_SCALAR = frozenset({"extras", "address", "course", "candidate_uuid", "course_uuid"})


def arguments(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's arguments by labridge name. A member of the wrong shape (a struct where a
    string belongs, a number where LA types a string) is a client fault, not a MessageList."""
    try:
        return c.params_from_wire(c.operation(name), params)
    except ValidationError as exc:
        raise ProtocolError(f"{name} refused: {_where(exc)}: {exc.errors()[0]['msg']}") from None


def _where(exc: ValidationError) -> str:
    """``Type_x.Member`` of the first problem, in wire names."""
    loc = exc.errors()[0]["loc"]
    attr = str(loc[0]) if loc else ""
    model = getattr(m, exc.title, None)
    if not (isinstance(model, type) and issubclass(model, m.LAModel)):
        return attr or exc.title
    try:
        ctype = c.type_of_model(model)
        return f"{ctype.name}.{ctype.by_attr(attr).name}"
    except KeyError:
        return f"{exc.title}.{attr}"


def _scalars(model: type[m.LAModel]) -> list[str]:
    return [attr for attr in model.model_fields if attr not in _NOT_SCALAR]


def _given(record: m.LAModel, attrs: Iterable[str]) -> dict[str, str]:
    """The members given a value, stripped; omitted and nil members are left out."""
    return {a: v.strip() for a in attrs if isinstance(v := getattr(record, a), str)}


def _as_stored(fields: Mapping[str, str]) -> dict[str, str]:
    """Members as LA keeps them: Gender upper-cased, a ULN without the spaces it came with."""
    out = dict(fields)
    if "gender" in out:
        out["gender"] = out["gender"].upper()
    if "uln" in out:
        out["uln"] = "".join(out["uln"].split())
    return out


def _refused(review: Review, source_id: str | None, uln: str | None) -> m.EnrolmentResponse:
    return m.EnrolmentResponse(
        success=False, source_id=source_id or "", uln=uln or "", messages=review.messages
    )


# ---------------------------------------------------------------------------------------------
# GroupEnrolment (docs/contract.md §3.5)


def enrol(
    db: SandboxDB, user: m.EnrolmentUser | None, *, send_login_details: bool, now: datetime
) -> m.EnrolmentResponse:
    """Enrol ``user`` as LA would: a new Active candidate, or every problem found. Asked twice
    for one learner it enrols twice (§3.5); the sandbox's stats count the duplicate. ``now`` (the
    sandbox clock's) stamps the candidate's ``created_at`` and the welcome e-mail."""
    review = Review(db, m.EnrolmentUser)
    if user is None:
        review.add(REQUIRED, c.operation("GroupEnrolment").param("user").name, "User is required")
        return _refused(review, "", "")
    fields, units = _review_enrolment(review, user)
    if review.messages:
        return _refused(review, user.source_id, user.uln)
    candidate_uuid = db.add_candidate(units, **fields, status=ACTIVE, created_at=now.isoformat())
    if send_login_details:
        # No mail leaves the sandbox: the welcome e-mail is recorded, for /_sandbox/stats.
        db.record_welcome_email(candidate_uuid, fields["email"], now)
    return m.EnrolmentResponse(
        success=True,
        candidate_uuid=candidate_uuid,
        source_id=fields["source_id"],
        uln=fields.get("uln", ""),
    )


def _review_enrolment(review: Review, user: m.EnrolmentUser) -> tuple[dict[str, str], list[str]]:
    """Every problem of ``user`` into ``review``; the candidate's columns and units otherwise."""
    fields = _given(user, _scalars(m.EnrolmentUser))
    for attr in ENROLMENT_REQUIRED:
        if not fields.get(attr):
            review.required(attr)
    review.values({a: v for a, v in fields.items() if v})
    fields = _as_stored(fields) | _address(review, user.address)
    if user.course is None:
        review.required("course")
        return fields, []
    course_fields, units = _enrolment_course(review, user.course)
    review.age(fields.get("birth_date", ""), course_fields.get("start_date", ""))
    return fields | course_fields, units


def _address(review: Review, address: m.Address | None) -> dict[str, str]:
    if address is None:
        return {}
    given = _given(address, _ADDRESS)
    if given.get("postcode"):
        review.value("postcode", given["postcode"], m.Address)
    return given


def _enrolment_course(
    review: Review, course: m.EnrolmentCourse
) -> tuple[dict[str, str], list[str]]:
    dates = _given(course, ("start_date", "end_date"))
    if not dates.get("start_date"):
        review.required("start_date", m.EnrolmentCourse)
    review.values({a: v for a, v in dates.items() if v}, m.EnrolmentCourse)
    review.period(dates.get("start_date", ""), dates.get("end_date", ""))
    found = _find_course(review, course.course_uuid, course.course_qan, needed=True)
    if found is not None and not found.active:
        review.add(
            INACTIVE_COURSE,
            review.name("course_uuid", m.EnrolmentCourse),
            f"Course {found.name!r} is closed to new enrolments",
        )
    chosen = _units(review, found, course.units)
    mandatory = [u.unit_uuid for u in found.units if u.mandatory] if found else []
    return {"course_uuid": found.course_uuid if found else "", **dates}, chosen + mandatory


def _find_course(
    review: Review, course_uuid: str | None, course_qan: str | None, *, needed: bool
) -> m.Framework | None:
    uuid, qan = (course_uuid or "").strip(), (course_qan or "").strip()
    attr = "course_uuid" if uuid or not qan else "course_qan"
    field = review.name(attr, m.EnrolmentCourse)
    if not uuid and not qan:
        if needed:
            review.add(REQUIRED, field, "Course needs a CourseUUID or a CourseQAN")
        return None
    found = review.db.find_course(course_uuid=uuid, course_qan=qan)
    if found is None:
        review.add(UNKNOWN_COURSE, field, f"{field} {shown(uuid or qan)} is not a course")
    return found


def _units(
    review: Review, course: m.Framework | None, units: list[m.EnrolmentUnit] | None
) -> list[str]:
    """The UUIDs of ``units``, each checked: it exists, and belongs to ``course`` (if known)."""
    field = review.name("unit_uuid", m.EnrolmentUnit)
    owners = review.unit_courses()
    chosen: list[str] = []
    for unit in units or []:
        uuid = unit.unit_uuid.strip()
        if not uuid:
            review.add(REQUIRED, field, "each unit needs a UnitUUID")
        elif uuid not in owners:
            review.add(UNKNOWN_UNIT, field, f"UnitUUID {shown(uuid)} is not a unit")
        elif course is not None and owners[uuid] != course.course_uuid:
            message = f"unit {shown(uuid)} is not a unit of course {course.name!r}"
            review.add(UNIT_NOT_IN_COURSE, field, message)
        else:
            chosen.append(uuid)
    return chosen


# ---------------------------------------------------------------------------------------------
# UpdateEnrolment (docs/contract.md §3.6)


def update(db: SandboxDB, user: m.EnrolmentUserUpdate | None) -> m.EnrolmentResponse:
    """Apply the members given: omitted or nil ones stay as they are, ``""`` clears one (not a
    mandatory one). Supported course changes: ``Course.StartDate`` and ``Course.EndDate`` (the
    planned end; ``""`` clears it), and ``Course.Units``, added to those held. A CourseUUID or
    CourseQAN given must be the learner's own course."""
    user = user or m.EnrolmentUserUpdate()
    review = Review(db, m.EnrolmentUserUpdate)
    current = _candidate(review, user.candidate_uuid)
    changes = _changes(review, user)
    course_changes, units = _course_changes(review, user, current)
    if review.messages or current is None:
        return _refused(review, user.source_id, user.uln)
    candidate_uuid = str(current["candidate_uuid"])
    db.update_candidate(candidate_uuid, changes | course_changes)
    db.add_candidate_units(candidate_uuid, units)
    after = db.candidate(candidate_uuid)
    assert after is not None  # it was there a moment ago, and nothing deletes learners
    return m.EnrolmentResponse(
        success=True, candidate_uuid=candidate_uuid, source_id=after.source_id, uln=after.uln
    )


def _candidate(review: Review, candidate_uuid: str | None) -> Mapping[str, str | bool] | None:
    uuid = (candidate_uuid or "").strip()
    field = review.name("candidate_uuid")
    if not uuid:
        review.add(REQUIRED, field, f"{field} is required: it says whose enrolment to update")
        return None
    found = review.db.candidate_fields(uuid)
    if found is None:
        review.add(UNKNOWN_CANDIDATE, field, f"{field} {shown(uuid)} is not a candidate")
    return found


def _changes(review: Review, user: m.EnrolmentUserUpdate) -> dict[str, str]:
    given = _given(user, _scalars(m.EnrolmentUserUpdate))
    for attr, value in given.items():
        if not value and attr in UNCLEARABLE:
            review.add(REQUIRED, review.name(attr), f"{review.name(attr)} cannot be cleared")
    review.values({a: v for a, v in given.items() if v})
    return _as_stored(given) | _address(review, user.address)


def _course_changes(
    review: Review, user: m.EnrolmentUserUpdate, current: Mapping[str, str | bool] | None
) -> tuple[dict[str, str], list[str]]:
    course = user.course or m.EnrolmentCourse()
    wanted = _find_course(
        review, user.course_uuid or course.course_uuid, course.course_qan, needed=False
    )
    held = str(current["course_uuid"]) if current else ""
    if wanted is not None and current is not None and wanted.course_uuid != held:
        field = review.name("course_uuid")
        review.add(NOT_ON_COURSE, field, f"the candidate is not on course {wanted.name!r}")
    own = review.db.find_course(course_uuid=held) if held else None
    dates = _update_dates(review, course, current)
    return dates, _units(review, own, course.units)


def _update_dates(
    review: Review, course: m.EnrolmentCourse, current: Mapping[str, str | bool] | None
) -> dict[str, str]:
    dates = _given(course, ("start_date", "end_date"))
    if dates.get("start_date") == "":
        review.required("start_date", m.EnrolmentCourse)
    review.values({a: v for a, v in dates.items() if v}, m.EnrolmentCourse)
    if current is not None and dates:
        merged = {k: str(current[k]) for k in ("start_date", "end_date", "birth_date")} | dates
        review.period(merged["start_date"], merged["end_date"])
        if "start_date" in dates:
            review.age(merged["birth_date"], merged["start_date"])
    return dates
