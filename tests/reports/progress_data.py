"""Realistic progress data written straight into the store's tables, as several pulls would leave
them: three courses, learners on track, behind, completed, withdrawn, not started, one never
pulled, one with a hostile name; a history row only when something changed.

The report is read from the tables alone, so these tests do not depend on the pull workflow.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from labridge.store import Store
from labridge.store import tables as t

TODAY = date(2026, 3, 1)
#: The pulls, monthly, the last one this morning.
PULLS = [datetime(2025, m, 1, 6, 0, tzinfo=UTC) for m in (10, 11, 12)] + [
    datetime(2026, m, 1, 6, 0, tzinfo=UTC) for m in (1, 2, 3)
]
HOSTILE = "<script>alert(1)</script>"

COURSES = {
    "c-data": ("Level 3 Data Technician", 5),
    "c-care": ("Health & Social Care <Level 2>", 4),
    "c-soft": ("Level 4 Software Developer", 6),
}


@dataclass(frozen=True)
class Spec:
    """One learner: plan, status, and overall % at each of :data:`PULLS` (None: not pulled)."""

    uuid: str
    source_id: str
    forename: str
    surname: str
    course: str
    start: str
    end: str
    status: str
    overall: Sequence[float | None]

    @property
    def latest(self) -> float:
        return [v for v in self.overall if v is not None][-1]


# Plan 2025-09-01 .. 2026-09-01 is 365 days; on TODAY 181 have passed: expected 49.6%.
YEAR = ("2025-09-01", "2026-09-01")
OVERDUE = ("2024-09-01", "2026-01-01")  # planned end passed: expected 100%
EARLIER = ("2024-03-01", "2025-12-01")
LATER = ("2026-06-01", "2027-06-01")  # not started yet: expected 0%
CALENDAR = ("2025-01-01", "2026-01-01")
LEARNERS = [
    Spec("u-amy", "S001", "Amy", "Ashworth", "c-data", *YEAR, "Active", [8, 16, 25, 33, 45, 55]),
    Spec("u-ben", "S002", "Ben", "Barker", "c-data", *YEAR, "Active", [5, 10, 12, 12, 12, 12]),
    Spec("u-cat", "S003", "Cat", "Clarke", "c-data", *YEAR, "Active", [10, 20, 30, 40, 50, 60]),
    Spec("u-dev", "S004", "Dev", "Desai", "c-data", *OVERDUE, "Active", [40, 50, 55, 60, 62, 70]),
    Spec("u-eve", "S005", "Eve", "Evans", "c-care", *EARLIER, "Completed", [80, 90] + [100] * 4),
    Spec("u-fin", "S006", "Fin", "O'Brien", "c-care", *YEAR, "Withdrawn", [5, 10, 10, 10, 10, 10]),
    Spec("u-gus", "S007", "Gus", HOSTILE, "c-care", *YEAR, "BreakInLearning", [4] + [8] * 5),
    Spec("u-hal", "S008", "Hal", "Hughes", "c-soft", *LATER, "Active", [None] * 4 + [0, 0]),
    Spec("u-ivy", "S009", "Ivy", "Ito", "c-soft", *YEAR, "Active", [2, 4, 6, 8, 30, 38]),
    Spec("u-jon", "S010", "Jon", "Jones", "c-soft", *YEAR, "Active", [0, 0, 2, 4, 6, 9]),
    Spec("u-kim", "S011", "Kim", "Khan", "c-soft", *CALENDAR, "Active", [60, 70, 80, 85, 90, 99]),
]
#: A learner on the progress table whose first pull failed: not in the report.
NEVER_PULLED = "u-zed"
#: A learner whose candidate row has not been synced: named by their source id.
NAMELESS = Spec("u-noname", "S012", "", "", "c-data", *YEAR, "Active", [None] * 5 + [20])

OUTCOME = {"level": "outcome", "outcome_uuid": "o-1"}
#: Learners whose units LA has not reported: units counted from the course's unit list.
NO_UNIT_HISTORY = {"u-hal"}

#: By the rule, furthest behind first: 9/49.6, 12/49.6, 70/100, 20/49.6, 38/49.6.
EXPECTED_BEHIND = ["u-jon", "u-ben", "u-dev", "u-noname", "u-ivy"]


def pull_times(n: int) -> list[datetime]:
    """:data:`PULLS` for the hand-made learners; weekly pulls up to the last one otherwise."""
    if n == len(PULLS):
        return PULLS
    return [PULLS[-1] - timedelta(weeks=n - 1 - k) for k in range(n)]


def fill(store: Store, learners: Sequence[Spec] = (*LEARNERS, NAMELESS)) -> None:
    """Write frameworks, units, candidates and the progress tables for ``learners``."""
    with store.begin() as session:
        _rows(session, t.frameworks, _frameworks())
        _rows(session, t.units, _units())
        _rows(session, t.candidates, [_candidate(s) for s in learners if s.forename])
        _rows(session, t.progress_learners, [_latest(s) for s in learners])
        _rows(session, t.progress_learners, [_never_pulled()])
        _rows(session, t.progress_history, [row for s in learners for row in _history(s)])


def _rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(table), rows)


def _tracking() -> dict[str, Any]:
    return {"extras": json.dumps({}), "first_seen_at": PULLS[0], "updated_at": PULLS[0]}


def _frameworks() -> list[dict[str, Any]]:
    return [
        {"course_uuid": uuid, "name": name, "qan": "", "level": "3", "active": True} | _tracking()
        for uuid, (name, _) in COURSES.items()
    ]


def _units() -> list[dict[str, Any]]:
    return [
        {"course_uuid": uuid, "unit_uuid": f"{uuid}-u{i}", "name": f"Unit {i}"}
        | {"reference": f"U{i}", "mandatory": True}
        | _tracking()
        for uuid, (_, count) in COURSES.items()
        for i in range(1, count + 1)
    ]


def _candidate(s: Spec) -> dict[str, Any]:
    return {
        "candidate_uuid": s.uuid,
        "source_id": s.source_id,
        "forename": s.forename,
        "surname": s.surname,
        "email": f"{s.source_id.lower()}@example.org",
        "uln": "",
        "company_uuid": "co-1",
        "course_uuid": s.course,
        "course_qan": "",
        "start_date": s.start,
        "end_date": s.end,
        "status": s.status,
    } | _tracking()


def _latest(s: Spec) -> dict[str, Any]:
    last = max(i for i, v in enumerate(s.overall) if v is not None)
    pulled_at = pull_times(len(s.overall))[last]
    return {
        "candidate_uuid": s.uuid,
        "source_id": s.source_id,
        "course_uuid": s.course,
        "start_date": s.start,
        "end_date": s.end,
        "status": s.status,
        "overall": s.latest,
        "last_activity_date": pulled_at.date().isoformat(),
        "pulled_at": pulled_at,
        "failed_at": None,
        "error": None,
    }


def _never_pulled() -> dict[str, Any]:
    spec = Spec(NEVER_PULLED, "S999", "Zed", "Zane", "c-data", *YEAR, "Active", [0] * 6)
    failed = {"pulled_at": None, "failed_at": PULLS[-1], "error": "LA unreachable"}
    return _latest(spec) | failed


def _history(s: Spec) -> Iterator[dict[str, Any]]:
    """Learner rows when the overall % changed, unit rows when a unit's % changed."""
    units = 0 if s.uuid in NO_UNIT_HISTORY else COURSES[s.course][1]
    before: dict[str, float] = {}
    for pulled_at, overall in zip(pull_times(len(s.overall)), s.overall, strict=True):
        if overall is None:
            continue
        for key, value in [("", overall), *_unit_split(s.course, units, overall)]:
            if before.get(key) != value:
                before[key] = value
                yield _history_row(s.uuid, key, value, pulled_at)
    if s.uuid == "u-amy":  # outcome rows (GetProgressFull) must not count as units
        yield _history_row(s.uuid, "c-data-u1", 100, PULLS[1]) | OUTCOME
        yield _history_row(s.uuid, "c-data-u5", 100, PULLS[2]) | OUTCOME


def _unit_split(course: str, units: int, overall: float) -> list[tuple[str, float]]:
    """Units done in order: overall 55% of 5 units is units 1-2 complete, unit 3 at 75%."""
    share = overall * units / 100
    return [
        (f"{course}-u{i + 1}", round(min(max(share - i, 0.0), 1.0) * 100, 1)) for i in range(units)
    ]


def _history_row(uuid: str, unit: str, value: float, pulled_at: datetime) -> dict[str, Any]:
    return {
        "candidate_uuid": uuid,
        "level": "unit" if unit else "learner",
        "unit_uuid": unit,
        "outcome_uuid": "",
        "name": unit or "overall",
        "reference": "",
        "percentage": value,
        "completed": value >= 100,
        "completed_date": pulled_at.date().isoformat() if value >= 100 else "",
        "evidence_count": None,
        "pulled_at": pulled_at,
    }


def many_learners(n: int, pulls: int) -> list[Spec]:
    """``n`` learners over the three courses, staggered plans and paces, ``pulls`` pulls each."""
    specs = []
    for i in range(n):
        course = list(COURSES)[i % 3]
        pace = 0.5 + (i % 7) / 6
        series = [min(100.0, round(pace * 9 * (k + 1), 1)) for k in range(pulls)]
        start = f"2025-{(i % 6) + 4:02d}-01"
        specs.append(
            Spec(
                f"bulk-{i}",
                f"B{i:05d}",
                f"Learner{i}",
                f"Bulk{i % 97}",
                course,
                start,
                "2026-09-01",
                "Completed" if series[-1] >= 100 else "Active",
                series,
            )
        )
    return specs
