"""Source rows that repeat a learner and course given earlier in the same input.

The journal (:mod:`.journal`) holds one row per learner and course, the first source row's. A
second row for the same learner and course (``DUPLICATE_IN_INPUT``, or ``LEARNER_ID_REUSED`` for
someone else on that course) is invalid on every run, whatever became of the first, and its
problems are kept here for the to-do list (``labridge enrolments --problems``). Each enrol run
replaces what is kept for every learner and course it read: a repeat removed from the source
leaves the list on the next run.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..errors import Problem
from . import tables

Key = tuple[str, str]


@dataclass(frozen=True)
class Repeat:
    source_id: str
    course: str
    origin: str
    problems: tuple[Problem, ...]
    found_at: datetime


def replace(
    session: Session, read: Collection[Key], found: Sequence[Repeat], now: datetime
) -> None:
    """Forget what was kept for the learners and courses ``read`` (an enrol run's input), then
    keep ``found``. The table stays small (repeats are mistakes someone fixes), so it is read
    whole rather than deleted from with a large IN list."""
    t = tables.repeated_rows
    keys = set(read) | {(r.source_id, r.course) for r in found}
    stale = [
        row.id
        for row in session.execute(select(t.c.id, t.c.source_id, t.c.course))
        if (row.source_id, row.course) in keys
    ]
    if stale:
        session.execute(delete(t).where(t.c.id.in_(stale)))
    rows = [
        {"source_id": r.source_id, "course": r.course, "origin": r.origin,
         "problems": json.dumps([p.as_dict() for p in r.problems]), "found_at": now}
        for r in found
    ]  # fmt: skip
    if rows:
        session.execute(insert(t), rows)


def listing(session: Session) -> list[Repeat]:
    t = tables.repeated_rows
    stmt = select(t).order_by(t.c.source_id, t.c.course, t.c.id)
    return [
        Repeat(
            r["source_id"],
            r["course"],
            r["origin"],
            tuple(Problem(**p) for p in json.loads(r["problems"])),
            r["found_at"],
        )
        for r in session.execute(stmt).mappings()
    ]


def count(session: Session) -> int:
    t = tables.repeated_rows
    return int(session.execute(select(func.count()).select_from(t)).scalar_one())
