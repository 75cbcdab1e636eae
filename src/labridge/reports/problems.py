"""The to-do list (``labridge enrolments --problems``): everything a data officer has to act on.

One item per problem, from the store: journal rows that are ``invalid`` or ``refused`` (one item
per problem), ``uncertain`` (one item: what to check in LA), enrolled rows whose last update's
outcome is unknown or whose last UpdateEnrolment LA refused (until one is accepted), and source
rows that repeat a learner and course given earlier in the same input
(:mod:`labridge.store.repeats`). Each item names the learner's source id, the course (name, QAN
and CourseUUID as synced from LA), the field, what is wrong, and the fix.

labridge's own validation messages read ``<where>: <what is wrong>; <what to do>``
(:mod:`labridge.validate`): the item splits them there, so that the fix has a column of its own.
LA's MessageList gives no fix: the item says to correct the field in the MIS and enrol again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..errors import Problem
from ..models import Framework
from ..store import journal, list_set, repeats
from ..workflows.enrol import uncertain_reason
from ..workflows.update import UNCERTAIN as UPDATE_UNCERTAIN

#: The states that put a journal row on the list.
STATES = ("invalid", "refused", "uncertain")
REFUSED_FIX = "correct this field in the MIS (LA refused it), then run labridge enrol again"
UPDATE_REFUSED_FIX = (
    "correct this field in the MIS (LA refused the update), then run labridge update again"
)
INVALID_FIX = "correct it in the MIS, then run labridge enrol again"


@dataclass(frozen=True)
class Item:
    source_id: str
    #: The CourseUUID, or the source's course text when it did not resolve.
    course: str
    course_name: str
    course_qan: str
    state: str
    origin: str
    field: str
    code: str
    message: str
    fix: str
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "course": self.course,
            "course_name": self.course_name,
            "course_qan": self.course_qan,
            "state": self.state,
            "origin": self.origin,
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
            "updated_at": self.updated_at.isoformat(),
        }


def split(problem: Problem, origin: str, default_fix: str) -> tuple[str, str]:
    """``(what is wrong, what to do)`` of a problem whose message may start with ``origin:``
    and may end ``; <fix>``."""
    message = problem.message.removeprefix(f"{origin}: ") if origin else problem.message
    what, sep, fix = message.partition("; ")
    return (what, fix) if sep and fix else (message, default_fix)


def listing(session: Session, settle: timedelta) -> list[Item]:
    """The whole list, ordered by learner and course (repeated rows after the learner's own)."""
    courses = {
        f.course_uuid: f for f in list_set(session, "frameworks") if isinstance(f, Framework)
    }
    refused = journal.refused_updates(session)
    found = [
        *(i for e in journal.entries(session) for i in _from_entry(e, settle, refused)),
        *(i for r in repeats.listing(session) for i in _from_repeat(r)),
    ]
    named = [_named(i, courses) for i in found]
    return sorted(named, key=lambda i: (i.source_id, i.course))  # stable: repeats stay after


def _named(item: Item, courses: Mapping[str, Framework]) -> Item:
    course = courses.get(item.course)
    if course is None:
        return item
    return Item(**{**item.__dict__, "course_name": course.name, "course_qan": course.qan})


def _item(
    row: journal.Entry | repeats.Repeat, state: str, field: str, code: str, what: str, fix: str
) -> Item:
    when = row.updated_at if isinstance(row, journal.Entry) else row.found_at
    return Item(row.source_id, row.course, "", "", state, row.origin, field, code, what, fix,
                when)  # fmt: skip


def _from_entry(
    entry: journal.Entry, settle: timedelta, refused: Mapping[journal.Key, Sequence[Problem]]
) -> Iterator[Item]:
    if entry.state == "uncertain":
        since = entry.uncertain_since or entry.updated_at
        what = "GroupEnrolment's answer was lost: LA may have enrolled this learner"
        yield _item(entry, "uncertain", "", "UNCERTAIN", what,
                    uncertain_reason(entry.source_id, since + settle))  # fmt: skip
    elif entry.state in ("invalid", "refused"):
        default = REFUSED_FIX if entry.state == "refused" else INVALID_FIX
        for p in entry.problems or (Problem("", "", "no reason was given"),):
            what, fix = split(p, entry.origin, default)
            yield _item(entry, entry.state, p.field, p.code, what, fix)
    if entry.state == "enrolled":
        for p in refused.get(entry.key, ()):
            what, fix = split(p, entry.origin, UPDATE_REFUSED_FIX)
            yield _item(entry, "refused", p.field, p.code, f"update refused: {what}", fix)
    if entry.update_sent is not None:
        what = "UpdateEnrolment's answer was lost"
        yield _item(entry, "uncertain", "", "UPDATE_UNCERTAIN", what, UPDATE_UNCERTAIN)


def _from_repeat(repeat: repeats.Repeat) -> Iterator[Item]:
    for p in repeat.problems:
        what, fix = split(p, repeat.origin, INVALID_FIX)
        yield _item(repeat, "invalid", p.field, p.code, what, fix)
