"""Shared by the sandbox's progress and clock tests: moving the sandbox clock, and what every
progress answer must satisfy (docs/contract.md §3.3), checked from the answer alone."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from starlette.applications import Starlette

from labridge import models as m
from labridge.sandbox import seed
from labridge.sandbox.clock import CLOCK_PATH
from labridge.sandbox.db import Outcome
from labridge.sandbox.simulate import planned_end

from .conftest import BASE_URL

Units = tuple[tuple[m.Unit, tuple[Outcome, ...]], ...]


async def clock_call(app: Starlette, payload: Any = None, *, content: str | None = None) -> Any:
    """``GET /_sandbox/clock``, or a POST of ``payload`` (JSON) or of raw ``content``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        if payload is None and content is None:
            return await http.get(CLOCK_PATH)
        if content is not None:
            return await http.post(CLOCK_PATH, content=content)
        return await http.post(CLOCK_PATH, json=payload)


async def advance(app: Starlette, days: float) -> dict[str, Any]:
    response = await clock_call(app, {"advance_days": days})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def seeded_units(course_key: str) -> Units:
    """A seeded course's units with their outcomes, as LA's database holds them."""
    course = seed.course_by_key(course_key)
    return tuple(
        (
            m.Unit(
                unit_uuid=seed.unit_uuid(course.key, unit.reference),
                name=unit.name,
                reference=unit.reference,
                mandatory=unit.mandatory,
            ),
            tuple(
                Outcome(
                    seed.outcome_uuid(course.key, unit.reference, opos),
                    seed.outcome_reference(upos, opos),
                    text,
                )
                for opos, text in enumerate(unit.outcomes, start=1)
            ),
        )
        for upos, unit in enumerate(course.units, start=1)
    )


def expected_percent(answer: m.Progress, on: date) -> float:
    """Where the plan says the learner should be on ``on``: elapsed share of the planned time."""
    start = date.fromisoformat(answer.start_date)
    end = planned_end(start, answer.end_date)
    return 100 * min(1.0, max(0.0, (on - start).days / (end - start).days))


def _percent(done: int, total: int) -> float:
    return round(100 * done / total, 1)


def check_consistent(answer: m.Progress, today: date) -> None:
    """A GetProgressFull answer on ``today`` agrees with itself."""
    for unit in answer.units:
        check_unit(unit, date.fromisoformat(answer.start_date), today)
    outcomes = [o for u in answer.units for o in u.outcomes]
    flags = [o.completed for o in outcomes]
    assert flags == sorted(flags, reverse=True), "outcomes complete in order"
    dates = [o.completed_date for o in outcomes if o.completed]
    assert dates == sorted(dates)
    assert answer.overall_progress == _percent(len(dates), len(outcomes))
    assert answer.last_activity_date == max(dates, default=answer.start_date)
    if all(flags) and answer.status != "Withdrawn":
        assert answer.status == "Completed"


def check_unit(unit: m.UnitProgress, start: date, today: date) -> None:
    done = [o for o in unit.outcomes if o.completed]
    assert unit.outcomes, "a full answer lists every unit's outcomes"
    assert unit.progress == _percent(len(done), len(unit.outcomes))
    assert unit.completed == (len(done) == len(unit.outcomes))
    assert unit.completed_date == (max(o.completed_date for o in done) if unit.completed else "")
    for outcome in unit.outcomes:
        if outcome.completed:
            assert start < date.fromisoformat(outcome.completed_date) <= today
            assert 1 <= outcome.evidence_count <= 4
        else:
            assert outcome.completed_date == ""
            assert 0 <= outcome.evidence_count < 4


def check_not_behind(old: m.Progress, new: m.Progress) -> None:
    """``new``, later than ``old``, undoes nothing of it."""
    assert new.overall_progress >= old.overall_progress
    assert new.last_activity_date >= old.last_activity_date
    if old.status == "Completed":
        assert new.status == "Completed"
    for before, after in zip(old.units, new.units, strict=True):
        assert after.progress >= before.progress
        if before.completed:
            assert (after.completed, after.completed_date) == (True, before.completed_date)
        for was, now in zip(before.outcomes, after.outcomes, strict=True):
            assert now.evidence_count >= was.evidence_count
            if was.completed:
                assert (now.completed, now.completed_date) == (True, was.completed_date)
