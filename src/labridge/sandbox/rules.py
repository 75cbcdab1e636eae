"""LA's checks of one enrolment member, and the :class:`Review` that collects every problem of a
request (docs/contract.md §3.5: the ``MessageList`` holds every problem, never just the first).

Formats are pure functions of a string; reference checks read the sandbox database. The rules
are the sandbox's own, written fresh and never stricter than labridge's pre-flight validation
(the sandbox is LA, not a mirror of labridge's client). :mod:`.group_enrolment` applies them to
GroupEnrolment and UpdateEnrolment, and lists them with their codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING

from .. import contract as c
from .. import models as m
from .clock import parse_date

if TYPE_CHECKING:
    from .db import SandboxDB

# MessageList codes (docs/contract.md §3.5 names the first eight; the rest follow their style).
REQUIRED = "REQUIRED"
INVALID_FORMAT = "INVALID_FORMAT"
INVALID_ULN = "INVALID_ULN"
UNKNOWN_COMPANY = "UNKNOWN_COMPANY"
UNKNOWN_COURSE = "UNKNOWN_COURSE"
UNKNOWN_UNIT = "UNKNOWN_UNIT"
NOT_AN_ASSESSOR = "NOT_AN_ASSESSOR"
NOT_A_VERIFIER = "NOT_A_VERIFIER"
INACTIVE_COURSE = "INACTIVE_COURSE"
UNIT_NOT_IN_COURSE = "UNIT_NOT_IN_COURSE"
UNKNOWN_NATIONALITY = "UNKNOWN_NATIONALITY"
UNKNOWN_ETHNICITY = "UNKNOWN_ETHNICITY"
UNKNOWN_TRAINER = "UNKNOWN_TRAINER"
INACTIVE_TRAINER = "INACTIVE_TRAINER"
TOO_YOUNG = "TOO_YOUNG"
UNKNOWN_CANDIDATE = "UNKNOWN_CANDIDATE"
NOT_ON_COURSE = "NOT_ON_COURSE"

#: Youngest age on the start date LA accepts. labridge's own rule (16 by the last Friday of June
#: of the start's academic year) implies at least 15 at the start, so LA never refuses a learner
#: labridge passes.
MINIMUM_AGE = 15

GENDERS = frozenset({"M", "F", "O", "U"})
#: ILR EmpStat: 10 in paid employment, 11 and 12 not employed, 98 not known.
EMPLOYMENT_STATUSES = frozenset({"10", "11", "12", "98"})

#: The most of a bad value a message quotes back: a 9 MB value is not echoed whole.
ECHO_LIMIT = 200

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]")
_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UWXYZ]{2}")


def shown(value: str) -> str:
    """``value`` quoted for a message, cut to :data:`ECHO_LIMIT` characters (and saying so)."""
    if len(value) <= ECHO_LIMIT:
        return repr(value)
    return f"{value[:ECHO_LIMIT]!r}\u2026 ({len(value)} characters)"


# ---------------------------------------------------------------------------------------------
# Formats


def is_uln(text: str) -> bool:
    """Ten digits whose last is the check digit: S = 10·d1 + 9·d2 + … + 2·d9, r = S mod 11,
    r = 0 never valid, else d10 = 10 - r. Spaces between the digits are tolerated."""
    text = "".join(text.split())
    if len(text) != 10 or not (text.isascii() and text.isdigit()):
        return False
    remainder = sum(int(d) * w for d, w in zip(text[:9], range(10, 1, -1), strict=True)) % 11
    return remainder != 0 and int(text[9]) == 10 - remainder


def is_nino(text: str) -> bool:
    return bool(_NINO.fullmatch("".join(text.split()).upper()))


def is_postcode(text: str) -> bool:
    compact = "".join(text.split()).upper()
    return bool(_POSTCODE.fullmatch(f"{compact[:-3]} {compact[-3:]}"))


def is_email(text: str) -> bool:
    return bool(_EMAIL.fullmatch(text))


def age_on(birth: date, day: date) -> int:
    """Whole years from ``birth`` to ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# ---------------------------------------------------------------------------------------------
# The review of one request


class Review:
    """The problems of one request, in the order found, and the look-ups that find them.
    ``model`` is the record whose members the messages name (fields are wire names)."""

    def __init__(self, db: SandboxDB, model: type[m.LAModel]) -> None:
        self.db = db
        self.model = model
        self.messages: list[m.Message] = []
        self._unit_courses: dict[str, str] | None = None

    def add(self, code: str, field: str, message: str) -> None:
        self.messages.append(m.Message(code=code, field=field, message=message))

    def name(self, attr: str, model: type[m.LAModel] | None = None) -> str:
        return c.wire_name(model or self.model, attr)

    def required(self, attr: str, model: type[m.LAModel] | None = None) -> None:
        field = self.name(attr, model)
        self.add(REQUIRED, field, f"{field} is required")

    def values(self, given: Mapping[str, str], model: type[m.LAModel] | None = None) -> None:
        """Check each non-empty member of ``given`` (by attribute) that LA has a rule for."""
        for attr, text in given.items():
            self.value(attr, text, model)

    def value(self, attr: str, text: str, model: type[m.LAModel] | None = None) -> None:
        check = CHECKS.get(attr)
        if check is not None:
            check(self, self.name(attr, model), text)

    def period(self, start: str, end: str) -> None:
        """A planned end, when given, falls after the start (both already format-checked)."""
        first, last = parse_date(start), parse_date(end)
        if first is not None and last is not None and last <= first:
            field = self.name("end_date", m.EnrolmentCourse)
            self.add(INVALID_FORMAT, field, f"{field} {end} is not after StartDate {start}")

    def age(self, birth: str, start: str) -> None:
        born, starts = parse_date(birth), parse_date(start)
        if born is not None and starts is not None and age_on(born, starts) < MINIMUM_AGE:
            field = self.name("birth_date", m.EnrolmentUser)
            message = f"the learner is under {MINIMUM_AGE} on the start date {start}"
            self.add(TOO_YOUNG, field, message)

    def trainer(self, field: str, uuid: str, *, assessor: bool) -> None:
        """An active trainer in the role: assessor, or verifier when ``assessor`` is false."""
        found = self.db.trainer(uuid)
        if found is None:
            self.add(UNKNOWN_TRAINER, field, f"{field} {shown(uuid)} is not a trainer")
            return
        if assessor and not found.is_assessor:
            self.add(NOT_AN_ASSESSOR, field, f"trainer {shown(uuid)} is not an assessor")
        if not assessor and not found.is_verifier:
            self.add(NOT_A_VERIFIER, field, f"trainer {shown(uuid)} is not a verifier")
        if not self.db.trainer_is_active(uuid):
            self.add(INACTIVE_TRAINER, field, f"trainer {shown(uuid)} is no longer active")

    def unit_courses(self) -> dict[str, str]:
        """Every unit's UUID → its course's UUID."""
        if self._unit_courses is None:
            self._unit_courses = {
                unit.unit_uuid: course.course_uuid
                for course in self.db.frameworks()
                for unit in course.units
            }
        return self._unit_courses


# ---------------------------------------------------------------------------------------------
# One check per member: (review, wire name, non-empty stripped text)

Check = Callable[[Review, str, str], None]


def _format(test: Callable[[str], bool], what: str, code: str = INVALID_FORMAT) -> Check:
    def check(review: Review, field: str, text: str) -> None:
        if not test(text):
            review.add(code, field, f"{field} {shown(text)} is not {what}")

    return check


def _known(ids: Callable[[SandboxDB], set[str]], code: str, what: str) -> Check:
    def check(review: Review, field: str, text: str) -> None:
        if text not in ids(review.db):
            review.add(code, field, f"{field} {shown(text)} is not {what}")

    return check


def _nationality_ids(db: SandboxDB) -> set[str]:
    return {n.nationality_id for n in db.nationalities()}


def _ethnicity_ids(db: SandboxDB) -> set[str]:
    return {e.ethnicity_id for e in db.ethnicities()}


def _company(review: Review, field: str, text: str) -> None:
    if review.db.company(text) is None:
        review.add(UNKNOWN_COMPANY, field, f"{field} {shown(text)} is not a company")


def _assessor(review: Review, field: str, text: str) -> None:
    review.trainer(field, text, assessor=True)


def _verifier(review: Review, field: str, text: str) -> None:
    review.trainer(field, text, assessor=False)


_EMAIL_WHAT = "an e-mail address (name@example.co.uk)"

CHECKS: dict[str, Check] = {
    "birth_date": _format(lambda t: parse_date(t) is not None, "a real date (YYYY-MM-DD)"),
    "start_date": _format(lambda t: parse_date(t) is not None, "a real date (YYYY-MM-DD)"),
    "end_date": _format(lambda t: parse_date(t) is not None, "a real date (YYYY-MM-DD)"),
    "gender": _format(lambda t: t.upper() in GENDERS, "M, F, O (other) or U (not stated)"),
    "email": _format(is_email, _EMAIL_WHAT),
    "line_manager_email": _format(is_email, _EMAIL_WHAT),
    "uln": _format(is_uln, "a ULN (ten digits with a valid check digit)", INVALID_ULN),
    "ni_number": _format(is_nino, "a National Insurance number (AB123456C)"),
    "postcode": _format(is_postcode, "a UK postcode (LS1 4AP)"),
    "employment_status": _format(
        EMPLOYMENT_STATUSES.__contains__, "an ILR EmpStat code (10, 11, 12 or 98)"
    ),
    "company_uuid": _company,
    "nationality_id": _known(_nationality_ids, UNKNOWN_NATIONALITY, "a nationality"),
    "ethnicity_id": _known(_ethnicity_ids, UNKNOWN_ETHNICITY, "an ethnicity"),
    "assessor_uuid": _assessor,
    "verifier_uuid": _verifier,
}
