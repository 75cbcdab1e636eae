"""Pre-flight validation of learners to enrol: every problem LA would report, found before any
call, each naming the row, the field, what is wrong and how to fix it (docs/contract.md §3.5).

There is one set of rules, :func:`check_user`, stated on an :class:`EnrolmentUser` as it goes on
the wire (LA's identifiers, ISO dates, codes; docs/contract.md §3.5). :func:`check_record` reads a
source row into that form once (a company by name, a course by QAN, a date as dd/mm/yyyy, a
gender as a word), reporting what it cannot read; reading a value enforces that value's rules
(a reference resolves, a code is LA's, a date parses), so what is left to check is only what needs
the whole record: the required fields and the dates against each other and today. Nothing read is
parsed or resolved again. :func:`check_all` streams a whole input and also catches the same
learner given twice.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..errors import Problem
from ..models import Address, EnrolmentCourse, EnrolmentUnit, EnrolmentUser, Framework, Unit
from ..sources.records import ERROR_FIELD, FIELDS, MANDATORY, SourceRecord
from . import uk
from .lookups import LookupProblem, ReferenceData, name_key

__all__ = ["MANDATORY", "Checked", "check_all", "check_record", "check_user"]


# labridge field → EnrolmentUser attribute, for the members of the user's address, of its course
# ("units" is the course's list, handled on its own) and of the user itself.
_ADDRESS_ATTRS: dict[str, str] = {
    "address_line1": "line1", "address_line2": "line2", "address_line3": "line3",
    "address_line4": "line4", "town": "town", "county": "county", "postcode": "postcode",
}  # fmt: skip
_COURSE_ATTRS: dict[str, str] = {
    "course": "course_uuid",
    "start_date": "start_date",
    "end_date": "end_date",
}
_RENAMED: dict[str, str] = {
    "learner_id": "source_id",
    "nationality": "nationality_id",
    "ethnicity": "ethnicity_id",
    "company": "company_uuid",
    "assessor": "assessor_uuid",
    "verifier": "verifier_uuid",
}
_USER_ATTRS: dict[str, str] = {
    name: _RENAMED.get(name, name)
    for name in FIELDS
    if name not in {*_ADDRESS_ATTRS, *_COURSE_ATTRS, "units"}
}

_REQUIRED_HINTS: dict[str, str] = {
    "company": " with the CompanyUUID or the company's name as LA lists it",
    "course": " with the CourseUUID, the QAN or the course's name",
    "assessor": " with the trainer's e-mail address or TrainerUUID",
    "verifier": " with the trainer's e-mail address or TrainerUUID",
    "birth_date": " as YYYY-MM-DD or dd/mm/yyyy",
    "start_date": " as YYYY-MM-DD or dd/mm/yyyy",
    "gender": " with M, F, O (other) or U (not stated)",
}

_FIELD_SET = frozenset(FIELDS)
_DATES = ("birth_date", "start_date", "end_date")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_GENDERS = frozenset({"M", "F", "O", "U"})
_EMPLOYMENT = frozenset({"10", "11", "12", "98"})


@dataclass(frozen=True)
class Checked:
    """The verdict on one record: the user to send when ``ok``, else every problem found."""

    record: SourceRecord
    user: EnrolmentUser | None
    problems: tuple[Problem, ...] = ()
    #: The course the record resolved to, "" when it did not resolve.
    course_uuid: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


# -- the rules, on the wire form ------------------------------------------------------------------


def check_user(
    user: EnrolmentUser, ref: ReferenceData, *, today: date | None = None
) -> list[Problem]:
    """Every problem LA would find with ``user`` as it stands; ``[]`` when it may be sent."""
    values = _wire_values(user)
    problems = [_required(name) for name in MANDATORY if name not in values]
    dates = _dates(values, problems)
    for name, value in values.items():
        if (check := _WIRE_CHECKS.get(name)) is not None:
            problems.extend(_run(name, check, ref, value))
    if "course" in values and user.course is not None:
        problems.extend(_course_problems(user.course, ref))
    problems.extend(_date_problems(dates, today or date.today()))
    return problems


def _wire_values(user: EnrolmentUser) -> dict[str, str]:
    """The user's members by labridge field name; unset, empty and blank ones left out."""
    values: dict[str, str | None] = {n: getattr(user, a) for n, a in _USER_ATTRS.items()}
    if user.address is not None:
        values.update({n: getattr(user.address, a) for n, a in _ADDRESS_ATTRS.items()})
    if user.course is not None:
        values.update({n: getattr(user.course, a) for n, a in _COURSE_ATTRS.items()})
        values["course"] = user.course.course_uuid or user.course.course_qan
    return {n: v for n, v in values.items() if v is not None and v.strip()}


def _required(name: str) -> Problem:
    hint = _REQUIRED_HINTS.get(name, "")
    return Problem(name, "REQUIRED", f"{name} is missing; fill the {name} column{hint}")


#: A rule on one wire value: returns anything, raises InvalidValueError or LookupProblem.
_Check = Callable[[ReferenceData, str], object]


def _run(name: str, check: _Check, ref: ReferenceData, value: str) -> list[Problem]:
    try:
        check(ref, value)
    except uk.InvalidValueError as exc:
        return [_invalid(name, exc)]
    except LookupProblem as exc:
        return list(exc.problems)
    return []


def _invalid(name: str, exc: uk.InvalidValueError) -> Problem:
    code = "INVALID_ULN" if name == "uln" else "INVALID_FORMAT"
    return Problem(name, code, f"{exc.problem}; {exc.fix}")


def _normal(what: str, value: str, normal: str) -> str:
    """Refuse a wire value not in its normal form (the reading step always sends that form)."""
    if value != normal:
        raise uk.InvalidValueError(f"{what} is not in normal form", "send it as labridge reads it")
    return value


def _dates(values: Mapping[str, str], problems: list[Problem]) -> dict[str, date]:
    """The dates that are present and valid, by field; a problem for each that is not."""
    dates: dict[str, date] = {}
    for name in _DATES:
        if name in values:
            try:
                dates[name] = _iso_date(values[name])
            except uk.InvalidValueError as exc:
                problems.append(_invalid(name, exc))
    return dates


def _iso_date(value: str) -> date:
    if not _ISO_DATE.fullmatch(value):
        raise uk.InvalidValueError("Date is not YYYY-MM-DD", "send it as YYYY-MM-DD")
    return uk.parse_date(value)


def _one_of(allowed: frozenset[str], what: str) -> _Check:
    def check(_ref: ReferenceData, value: str) -> str:
        if value not in allowed:
            codes = ", ".join(sorted(allowed))
            raise uk.InvalidValueError(f"{what} is not a code LA takes", f"use {codes}")
        return value

    return check


def _uln(_ref: ReferenceData, value: str) -> str:
    if uk.is_unknown_uln(value):
        raise uk.InvalidValueError(
            "ULN 9999999999 means 'not known'", "leave the ULN out until the learner has one"
        )
    return _normal("ULN", value, uk.check_uln(value))


def _postcode(_ref: ReferenceData, value: str) -> str:
    # ZZ99 9ZZ has a postcode's shape, so LA takes it; check_record leaves it out anyway.
    return _normal("Postcode", value, uk.check_postcode(value) or uk.normalise_postcode(value))


_WIRE_CHECKS: dict[str, _Check] = {
    "gender": _one_of(_GENDERS, "Gender"),
    "employment_status": _one_of(_EMPLOYMENT, "Employment status"),
    "email": lambda _ref, v: uk.check_email(v),
    "line_manager_email": lambda _ref, v: uk.check_email(v),
    "uln": _uln,
    "ni_number": lambda _ref, v: _normal("NI number", v, uk.check_nino(v)),
    "postcode": _postcode,
    "company": lambda ref, v: ref.company(v, ids_only=True),
    "assessor": lambda ref, v: ref.trainer(v, "assessor", ids_only=True),
    "verifier": lambda ref, v: ref.trainer(v, "verifier", ids_only=True),
    "nationality": lambda ref, v: ref.nationality(v, ids_only=True),
    "ethnicity": lambda ref, v: ref.ethnicity(v, ids_only=True),
}


def _course_problems(course: EnrolmentCourse, ref: ReferenceData) -> list[Problem]:
    """The course exists and is active; each of its units belongs to it."""
    try:
        if course.course_uuid:
            framework = ref.course(course.course_uuid, ids_only=True)
        else:
            framework = ref.course_by_qan(course.course_qan or "")
    except LookupProblem as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    for unit in course.units or ():
        try:
            ref.unit(framework, unit.unit_uuid, ids_only=True)
        except LookupProblem as exc:
            problems.extend(exc.problems)
    return problems


def _date_problems(dates: Mapping[str, date], today: date) -> list[Problem]:
    """The birth date is past, the learner old enough at the start, the end after the start."""
    born, start, end = (dates.get(n) for n in _DATES)
    problems: list[Problem] = []
    if born is not None and born > today:
        problems.append(
            Problem(
                "birth_date",
                "INVALID_DATE",
                f"Birth date {born.isoformat()} is in the future; check the date of birth",
            )
        )
    elif born is not None and start is not None:
        problems.extend(_rule("birth_date", "TOO_YOUNG", uk.minimum_start_check, born, start))
    if start is not None and end is not None:
        problems.extend(
            _rule("end_date", "END_BEFORE_START", uk.planned_end_after_start, start, end)
        )
    return problems


def _rule(
    name: str, code: str, rule: Callable[[date, date], None], first: date, second: date
) -> list[Problem]:
    try:
        rule(first, second)
    except uk.InvalidValueError as exc:
        return [Problem(name, code, f"{exc.problem}; {exc.fix}")]
    return []


# -- reading a source record ----------------------------------------------------------------------

#: How a source's text becomes the wire form; a field not listed is sent as it is.
_Reader = Callable[[ReferenceData, str], str]
_READERS: dict[str, _Reader] = {
    "gender": lambda _ref, v: uk.check_gender(v),
    "employment_status": lambda _ref, v: uk.check_employment_status(v),
    "email": lambda _ref, v: uk.check_email(v),
    "line_manager_email": lambda _ref, v: uk.check_email(v),
    "uln": lambda _ref, v: uk.check_uln(v),
    "ni_number": lambda _ref, v: uk.check_nino(v),
    "postcode": lambda _ref, v: uk.check_postcode(v),
    "company": lambda ref, v: ref.company(v).company_uuid,
    "assessor": lambda ref, v: ref.trainer(v, "assessor").trainer_uuid,
    "verifier": lambda ref, v: ref.trainer(v, "verifier").trainer_uuid,
    "nationality": lambda ref, v: ref.nationality(v).nationality_id,
    "ethnicity": lambda ref, v: ref.ethnicity(v).ethnicity_id,
}


@dataclass
class _Reading:
    """A record read into wire form: the values that read, and the problems of those that did
    not (a "not known" ULN or postcode reads as nothing, so it is simply left out)."""

    values: dict[str, str] = field(default_factory=dict)
    #: The dates that read, as dates (their ISO text is in ``values``).
    dates: dict[str, date] = field(default_factory=dict)
    course: Framework | None = None
    units: list[Unit] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def read(self, name: str, reader: _Reader, ref: ReferenceData, value: str) -> None:
        try:
            text = reader(ref, value)
        except uk.InvalidValueError as exc:
            self.problems.append(_invalid(name, exc))
        except LookupProblem as exc:
            self.problems.extend(exc.problems)
        else:
            if text:
                self.values[name] = text

    def read_date(self, name: str, value: str) -> None:
        try:
            day = uk.parse_date(value)
        except uk.InvalidValueError as exc:
            self.problems.append(_invalid(name, exc))
        else:
            self.dates[name] = day
            self.values[name] = day.isoformat()

    def rules(self, today: date) -> list[Problem]:
        """What is left to check once every value read: :func:`check_user`'s rules that need
        the whole record (each value's own rules held as it was read)."""
        problems = [_required(name) for name in MANDATORY if name not in self.values]
        return problems + _date_problems(self.dates, today)


def _read(record: SourceRecord, ref: ReferenceData) -> _Reading:
    reading = _Reading()
    raw = {n: v.strip() for n, v in record.fields.items() if n in _FIELD_SET and v.strip()}
    for name, value in raw.items():
        if name in ("course", "units"):
            continue  # below: the units are read against the course
        if name in _DATES:
            reading.read_date(name, value)
            continue
        reader = _READERS.get(name)
        if reader is None:
            reading.values[name] = value
        else:
            reading.read(name, reader, ref, value)
    if "course" in raw:
        reading.read("course", lambda r, v: _read_course(reading, r, v), ref, raw["course"])
    if "units" in raw and reading.course is not None:
        reading.read("units", lambda r, v: _read_units(reading, r, v), ref, raw["units"])
    return reading


def _read_course(reading: _Reading, ref: ReferenceData, value: str) -> str:
    reading.course = ref.course(value)
    return reading.course.course_uuid


def _read_units(reading: _Reading, ref: ReferenceData, value: str) -> str:
    assert reading.course is not None  # only read once the course is
    reading.units = ref.units(reading.course, value)
    return ""  # the units travel in reading.units, not as a value


def _build_user(reading: _Reading) -> EnrolmentUser:
    """The user with exactly the members that have values: unset ones are omitted on the wire."""
    values = reading.values
    user: dict[str, Any] = {a: values[n] for n, a in _USER_ATTRS.items() if n in values}
    address = {a: values[n] for n, a in _ADDRESS_ATTRS.items() if n in values}
    if address:
        user["address"] = Address(**address)
    course: dict[str, Any] = {a: values[n] for n, a in _COURSE_ATTRS.items() if n in values}
    if reading.units:
        course["units"] = [EnrolmentUnit(unit_uuid=u.unit_uuid) for u in reading.units]
    if course:
        user["course"] = EnrolmentCourse(**course)
    return EnrolmentUser(**user)


def check_record(record: SourceRecord, ref: ReferenceData, *, today: date | None = None) -> Checked:
    """Read ``record`` into an :class:`EnrolmentUser` and check it: every problem, located."""
    reading = _read(record, ref)
    user = _build_user(reading)
    unread = {p.field for p in reading.problems}
    # A field that could not be read is missing from the user: its REQUIRED would repeat it.
    ruled = [p for p in reading.rules(today or date.today()) if p.field not in unread]
    unreadable = record.fields.get(ERROR_FIELD, "")
    if unreadable:  # the reader could not read the row faithfully: never enrol it as it stands
        reading.problems.insert(0, Problem("row", "UNREADABLE_ROW", unreadable))
    problems = tuple(_located(record.origin, p) for p in (*reading.problems, *ruled))
    course_uuid = reading.course.course_uuid if reading.course is not None else ""
    return Checked(record, None if problems else user, problems, course_uuid)


def _located(origin: str, problem: Problem) -> Problem:
    return Problem(problem.field, problem.code, f"{origin}: {problem.message}")


# -- a whole input -------------------------------------------------------------------------------


def check_all(
    records: Iterable[SourceRecord], ref: ReferenceData, *, today: date | None = None
) -> Iterator[Checked]:
    """Check records one by one as they stream in, flagging learners given twice."""
    today = today or date.today()
    seen = _Seen()
    for record in records:
        checked = check_record(record, ref, today=today)
        again = seen.add(record, checked.course_uuid)
        if again is not None:
            checked = Checked(record, None, (*checked.problems, again), checked.course_uuid)
        yield checked


@dataclass
class _Seen:
    """Learners met so far, by what the checks need of them (not their whole rows, which for a
    big source would hold every record in memory): who each learner_id is, where each was first
    met, and which (learner, course) pairs."""

    #: learner_id → (identity, origin, forename, surname, birth_date as given) of its first row.
    people: dict[str, tuple[tuple[str, ...], str, str, str, str]] = field(default_factory=dict)
    #: (learner_id, course) → origin of its first row.
    enrolments: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, record: SourceRecord, course_uuid: str) -> Problem | None:
        learner = record.source_id.strip()
        if not learner:
            return None
        identity = _identity(record)
        f = record.fields
        first = self.people.setdefault(
            learner,
            (identity, record.origin, f.get("forename", ""), f.get("surname", ""),
             f.get("birth_date", "")),
        )  # fmt: skip
        if first[0] != identity:
            return _reused(record, learner, first[1:])
        course = course_uuid or name_key(record.fields.get("course", ""))
        earlier = self.enrolments.get((learner, course))
        if earlier is None:
            self.enrolments[(learner, course)] = record.origin
            return None
        return Problem(
            "learner_id",
            "DUPLICATE_IN_INPUT",
            f"{record.origin}: learner {learner!r} is on this course already at "
            f"{earlier}; remove one of the two rows (a learner is enrolled once)",
        )


def _identity(record: SourceRecord) -> tuple[str, ...]:
    fields = record.fields
    birth = fields.get("birth_date", "").strip()
    with contextlib.suppress(uk.InvalidValueError):  # an unreadable date compares as written
        birth = uk.parse_date(birth).isoformat()
    return (name_key(fields.get("forename", "")), name_key(fields.get("surname", "")), birth)


def _reused(record: SourceRecord, learner: str, first: tuple[str, str, str, str]) -> Problem:
    origin, forename, surname, birth = first
    who = f"{forename} {surname}, born {birth}"
    return Problem(
        "learner_id",
        "LEARNER_ID_REUSED",
        f"{record.origin}: learner_id {learner!r} is used at {origin} for a different "
        f"person ({who}); give each learner their own id, or correct the name or date of birth",
    )
