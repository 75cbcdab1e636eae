"""The enrolment journal: what labridge tried for each learner and course, and what came of it.

A learner's row is written *before* GroupEnrolment is sent (state ``pending``) and again when the
answer is known, each in its own committed transaction, so that a crash at any point leaves a
trace that the next run reconciles with LA before sending anything again (design.md, "Exactly
once"). Every change is also appended to ``enrolment_events``.

``labridge update`` writes here too (:func:`record_update`): after LA accepted an UpdateEnrolment
it replaces ``pushed`` with what LA now holds from labridge and logs an ``updated`` event; a
refused update leaves the row alone and logs an ``update_refused`` event with LA's MessageList.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.orm import Session

from ..errors import Problem
from . import tables

STATES = ("pending", "enrolled", "refused", "invalid", "skipped")


@dataclass(frozen=True)
class Entry:
    source_id: str
    course: str
    state: str
    candidate_uuid: str | None
    origin: str
    problems: tuple[Problem, ...]
    pushed: dict[str, Any] | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_id, self.course)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "course": self.course,
            "state": self.state,
            "candidate_uuid": self.candidate_uuid,
            "origin": self.origin,
            "problems": [p.as_dict() for p in self.problems],
            "attempts": self.attempts,
            "updated_at": self.updated_at.isoformat(),
        }


def _problems_json(problems: Sequence[Problem]) -> str:
    return json.dumps([p.as_dict() for p in problems])


def _entry(row: RowMapping) -> Entry:
    return Entry(
        source_id=row["source_id"],
        course=row["course"],
        state=row["state"],
        candidate_uuid=row["candidate_uuid"],
        origin=row["origin"],
        problems=tuple(Problem(**p) for p in json.loads(row["problems"])),
        pushed=json.loads(row["pushed"]) if row["pushed"] else None,
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get(session: Session, source_id: str, course: str) -> Entry | None:
    t = tables.enrolments
    stmt = select(t).where(t.c.source_id == source_id, t.c.course == course)
    row = session.execute(stmt).mappings().first()
    return _entry(row) if row else None


def load_all(session: Session) -> dict[tuple[str, str], Entry]:
    """Every entry by (source_id, course): one query, for runs over thousands of learners."""
    rows = session.execute(select(tables.enrolments)).mappings()
    return {(r["source_id"], r["course"]): _entry(r) for r in rows}


def entries(session: Session) -> list[Entry]:
    t = tables.enrolments
    rows = session.execute(select(t).order_by(t.c.source_id, t.c.course)).mappings()
    return [_entry(r) for r in rows]


def record(
    session: Session,
    source_id: str,
    course: str,
    state: str,
    now: datetime,
    *,
    origin: str = "",
    candidate_uuid: str | None = None,
    problems: Sequence[Problem] = (),
    pushed: Mapping[str, Any] | None = None,
    sent: bool = False,
    unless: Collection[str] = (),
) -> bool:
    """Set the learner's latest state (creating the row if needed) and log the change.
    ``sent`` counts one more GroupEnrolment attempt; ``pushed`` replaces what was last sent;
    ``candidate_uuid`` and ``origin`` are kept when not given. Nothing is written when the row
    is in one of the states ``unless`` names; returns whether it was written."""
    if state not in STATES:
        raise ValueError(f"journal state must be one of {STATES}, not {state!r}")
    values: dict[str, Any] = {
        "state": state,
        "problems": _problems_json(problems),
        "updated_at": now,
    }
    if candidate_uuid is not None:
        values["candidate_uuid"] = candidate_uuid
    if origin:
        values["origin"] = origin
    if pushed is not None:
        values["pushed"] = json.dumps(dict(pushed), sort_keys=True)
    existing = get(session, source_id, course)
    if existing is not None and existing.state in unless:
        return False
    t = tables.enrolments
    if existing is None:
        row = {"candidate_uuid": None, "origin": "", "pushed": None, **values}
        session.execute(
            insert(t).values(
                source_id=source_id, course=course, attempts=int(sent), created_at=now, **row
            )
        )
    else:
        if sent:
            values["attempts"] = existing.attempts + 1
        where = (t.c.source_id == source_id, t.c.course == course)
        session.execute(update(t).where(*where).values(**values))
    _event(session, source_id, course, state, candidate_uuid, problems, now)
    return True


def _event(
    session: Session,
    source_id: str,
    course: str,
    state: str,
    candidate_uuid: str | None,
    problems: Sequence[Problem],
    now: datetime,
) -> None:
    session.execute(
        insert(tables.enrolment_events).values(
            source_id=source_id,
            course=course,
            state=state,
            candidate_uuid=candidate_uuid,
            problems=_problems_json(problems),
            at=now,
        )
    )


def events(session: Session, source_id: str, course: str) -> list[tuple[str, datetime]]:
    """The states a learner went through, oldest first."""
    t = tables.enrolment_events
    stmt = (
        select(t.c.state, t.c.at)
        .where(t.c.source_id == source_id, t.c.course == course)
        .order_by(t.c.id)
    )
    return [(r.state, r.at) for r in session.execute(stmt)]


def record_update(
    session: Session,
    source_id: str,
    course: str,
    candidate_uuid: str,
    pushed: Mapping[str, Any],
    now: datetime,
    *,
    origin: str = "",
) -> None:
    """Record an UpdateEnrolment LA accepted: ``pushed`` replaces what was last sent. A learner
    labridge found in LA but never journalled gets its row (``enrolled``), as enrol would."""
    values: dict[str, Any] = {
        "state": "enrolled",
        "candidate_uuid": candidate_uuid,
        "problems": "[]",
        "pushed": json.dumps(dict(pushed), sort_keys=True),
        "updated_at": now,
    }
    if origin:
        values["origin"] = origin
    t = tables.enrolments
    if get(session, source_id, course) is None:
        row = {"origin": "", **values}
        session.execute(
            insert(t).values(source_id=source_id, course=course, attempts=0, created_at=now, **row)
        )
    else:
        where = (t.c.source_id == source_id, t.c.course == course)
        session.execute(update(t).where(*where).values(**values))
    _event(session, source_id, course, "updated", candidate_uuid, (), now)


def record_update_refused(
    session: Session,
    source_id: str,
    course: str,
    candidate_uuid: str,
    problems: Sequence[Problem],
    now: datetime,
) -> None:
    """Log an UpdateEnrolment LA refused; the learner's row (still enrolled) is left alone."""
    _event(session, source_id, course, "update_refused", candidate_uuid, problems, now)


def counts(session: Session) -> dict[str, int]:
    """How many learners are in each state, for ``labridge status``."""
    t = tables.enrolments
    rows = session.execute(select(t.c.state, func.count()).group_by(t.c.state))
    found = {state: int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}
