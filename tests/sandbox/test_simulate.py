"""GetProgress and GetProgressFull as the sandbox plays them (docs/contract.md §3.3): progress
simulated from the sandbox clock, through labridge's own client in-process; the simulation's
invariants with hypothesis on plain values."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from labridge import AsyncClient
from labridge import models as m
from labridge.errors import SoapFault
from labridge.sandbox import seed, simulate
from labridge.sandbox.app import create_app
from labridge.sandbox.db import SandboxDB

from .conftest import LA, PASSWORD, USERNAME, ManualClock
from .learners import COURSE, MANDATORY_UNITS, OPTIONAL_UNIT, course, la_client, learner, stats
from .progress_checks import (
    advance,
    check_consistent,
    check_not_behind,
    expected_percent,
    seeded_units,
)

TODAY = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TODAY)


@pytest.fixture
async def lab(app: Starlette) -> AsyncIterator[AsyncClient]:
    """labridge's own client, talking to the sandbox in-process."""
    async with la_client(app) as client:
        yield client


def of_kind(kind: str) -> str:
    """The first of a fixed series of learner ids whose pace on ST0070 is of ``kind`` (the pace
    hangs on the learner's id and course: :func:`simulate.learner_key`)."""
    for i in range(1000):
        source_id = f"MIS-{kind}-{i}"
        if simulate.pace_of(f"{source_id}|{COURSE}").kind == kind:
            return source_id
    raise AssertionError(f"no {kind} learner in the series")


def add_learner(db: SandboxDB, kind: str, start: str, end: str = "") -> str:
    """A learner of ``kind`` on ST0070 (its mandatory units), straight into LA's database."""
    source_id = of_kind(kind)
    return db.add_candidate(
        MANDATORY_UNITS,
        candidate_uuid=str(uuid.uuid5(seed.NAMESPACE, f"progress-test:{source_id}")),
        source_id=source_id,
        course_uuid=COURSE,
        start_date=start,
        end_date=end,
        status="Active",
    )


def today(clock: ManualClock, days: float = 0) -> date:
    return (clock.now + timedelta(days=days)).date()


# -- the answer --------------------------------------------------------------------------------


async def test_get_progress_answers_units_without_outcomes(lab: AsyncClient) -> None:
    learner_seed = seed.CANDIDATES[0]
    unit_level = await lab.get_progress(learner_seed.uuid)
    full = await lab.get_progress_full(learner_seed.uuid)
    assert unit_level.candidate_uuid == learner_seed.uuid
    assert unit_level.source_id == learner_seed.source_id
    assert (unit_level.start_date, unit_level.end_date) == ("2025-09-01", "2027-03-01")
    assert [u.unit_uuid for u in unit_level.units] == seed.candidate_units(learner_seed)
    assert all(u.outcomes == [] for u in unit_level.units)
    assert all(len(u.outcomes) == 3 for u in full.units)
    without_outcomes = [u.model_copy(update={"outcomes": []}) for u in full.units]
    assert unit_level == full.model_copy(update={"units": without_outcomes})


async def test_every_seeded_learner_is_consistent(lab: AsyncClient, clock: ManualClock) -> None:
    for learner_seed in seed.CANDIDATES:
        check_consistent(await lab.get_progress_full(learner_seed.uuid), today(clock))


async def test_two_fresh_sandboxes_give_the_same_answers(clock: ManualClock) -> None:
    answers = []
    for _ in range(2):
        db = SandboxDB()
        try:
            app = create_app(db, username=USERNAME, password=PASSWORD, clock=clock, test_hooks=True)
            await advance(app, 45)
            async with la_client(app) as lab:
                answers.append([await lab.get_progress_full(s.uuid) for s in seed.CANDIDATES])
        finally:
            db.close()
    assert answers[0] == answers[1]
    assert any(p.overall_progress > 0 for p in answers[0])


async def test_progress_never_goes_backwards_as_the_clock_moves(
    app: Starlette, lab: AsyncClient, clock: ManualClock
) -> None:
    uuids = [s.uuid for s in seed.CANDIDATES]
    before = [await lab.get_progress_full(u) for u in uuids]
    for step in (0, 1, 6.5, 30, 90, 200):
        await advance(app, step)
        after = [await lab.get_progress_full(u) for u in uuids]
        for old, new in zip(before, after, strict=True):
            check_not_behind(old, new)
        before = after
    assert lab.logins > 1  # the days moved on expired the session, and nobody noticed


# -- kinds of learner --------------------------------------------------------------------------


async def test_a_stalled_learner_stops(
    app: Starlette, db: SandboxDB, lab: AsyncClient, clock: ManualClock
) -> None:
    stalled = add_learner(db, simulate.STALLED, "2025-03-01", "2026-03-01")
    first = await lab.get_progress_full(stalled)
    await advance(app, 400)
    later = await lab.get_progress_full(stalled)
    assert 0 < first.overall_progress < 100
    assert later == first  # nothing moved, not even evidence
    assert later.status == "Active"
    check_consistent(later, today(clock, 400))


async def test_an_early_finisher_completes_and_turns_completed(
    app: Starlette, db: SandboxDB, lab: AsyncClient
) -> None:
    early = add_learner(db, simulate.EARLY, "2025-09-01", "2026-09-01")
    halfway = await lab.get_progress(early)
    assert halfway.overall_progress > expected_percent(halfway, TODAY.date())
    assert halfway.status == "Active"
    await advance(app, 120)  # 301 of 365 planned days: past 1/1.3 of them
    done = await lab.get_progress(early)
    assert done.overall_progress == 100
    assert done.status == "Completed"
    assert all(u.completed and u.progress == 100 for u in done.units)
    assert done.last_activity_date < "2026-09-01"
    assert done.last_activity_date == max(u.completed_date for u in done.units)


async def test_a_learner_behind_is_behind_the_expected_percentage(
    app: Starlette, db: SandboxDB, lab: AsyncClient
) -> None:
    behind = add_learner(db, simulate.BEHIND, "2025-09-01", "2026-09-01")
    answer = await lab.get_progress(behind)
    assert 0 < answer.overall_progress < expected_percent(answer, TODAY.date()) - 5
    await advance(app, 184)  # the planned end
    assert (await lab.get_progress(behind)).overall_progress <= 80
    await advance(app, 550)  # 915 days in: past 1/0.4 of the 365 planned
    assert (await lab.get_progress(behind)).status == "Completed"


async def test_a_learner_on_track_keeps_near_the_plan(db: SandboxDB, lab: AsyncClient) -> None:
    on_track = add_learner(db, simulate.ON_TRACK, "2025-09-01")  # no planned end: a year
    answer = await lab.get_progress(on_track)
    assert answer.end_date == ""
    assert abs(answer.overall_progress - expected_percent(answer, TODAY.date())) <= 12


async def test_before_the_start_nothing_is_done(
    app: Starlette, db: SandboxDB, lab: AsyncClient, clock: ManualClock
) -> None:
    future = add_learner(db, simulate.EARLY, "2026-06-01", "2027-06-01")
    answer = await lab.get_progress_full(future)
    assert answer.overall_progress == 0
    assert answer.last_activity_date == "2026-06-01"
    assert answer.status == "Active"
    outcomes = [o for u in answer.units for o in u.outcomes]
    assert all(u.progress == 0 and not u.completed for u in answer.units)
    assert all(not o.completed and o.evidence_count == 0 for o in outcomes)
    await advance(app, 100)  # 8 days after the start
    check_consistent(await lab.get_progress_full(future), today(clock, 100))


# -- candidates, faults, stats -----------------------------------------------------------------


async def test_an_enrolled_learner_gets_progress(
    app: Starlette, lab: AsyncClient, clock: ManualClock
) -> None:
    optional = [m.EnrolmentUnit(unit_uuid=OPTIONAL_UNIT)]
    user = learner(course=course(start_date="2025-09-01", end_date="2026-09-01", units=optional))
    response = await lab.group_enrolment(user)
    first = await lab.get_progress_full(response.candidate_uuid)
    assert first.source_id == "MIS-900001"
    assert [u.reference for u in first.units] == ["U1", "U2", "U3", "U4", "U5", "U6", "U7", "EPA"]
    await advance(app, 400)
    later = await lab.get_progress_full(response.candidate_uuid)
    check_not_behind(first, later)
    check_consistent(later, today(clock, 400))
    assert later.overall_progress > 0


async def test_an_unknown_candidate_is_a_user_exception(lab: AsyncClient) -> None:
    for call in (lab.get_progress, lab.get_progress_full):
        with pytest.raises(SoapFault) as caught:
            await call("no-such-candidate")
        assert caught.value.faultcode == "soapenv:Server.userException"
        assert caught.value.faultstring.startswith("Unknown CandidateUUID 'no-such-candidate'")
    assert lab.logins == 1  # a fault about the call, not the session


async def test_a_missing_candidate_uuid_is_a_client_fault(la: LA) -> None:
    token = await la.authenticate()
    fault = la.fault(await la.send("GetProgress", {}, token), "GetProgress")
    assert fault.faultcode == "soapenv:Client"
    assert "needs a CandidateUUID" in fault.faultstring


async def test_progress_calls_are_counted(app: Starlette, lab: AsyncClient) -> None:
    await lab.get_progress(seed.CANDIDATES[0].uuid)
    await lab.get_progress_full(seed.CANDIDATES[0].uuid)
    await lab.get_progress_full(seed.CANDIDATES[1].uuid)
    calls = (await stats(app))["calls"]
    assert (calls["GetProgress"], calls["GetProgressFull"]) == (1, 2)


async def test_ninety_days_on_the_population_is_spread(
    app: Starlette, lab: AsyncClient, clock: ManualClock
) -> None:
    """The seeded learners and a dozen new ones, 90 days on: some behind, some on track, some
    done (more than 10 points under the expected percentage counts as behind)."""
    uuids = [s.uuid for s in seed.CANDIDATES]
    for i in range(12):
        start = (TODAY.date() - timedelta(days=30 * i)).isoformat()
        user = learner(source_id=f"MIS-95{i:04d}", course=course(start_date=start, end_date=""))
        uuids.append((await lab.group_enrolment(user)).candidate_uuid)
    await advance(app, 90)
    answers = [await lab.get_progress(u) for u in uuids]
    kinds = [_standing(p, today(clock, 90)) for p in answers]
    assert {"behind", "on track", "done"} <= set(kinds), kinds


def _standing(answer: m.Progress, on: date) -> str:
    if answer.status == "Completed":
        return "done"
    return "behind" if answer.overall_progress < expected_percent(answer, on) - 10 else "on track"


# -- the simulation on plain values ------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    candidate=st.uuids().map(str),
    course_key=st.sampled_from([c.key for c in seed.COURSES]),
    start=st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    planned=st.one_of(st.none(), st.integers(-10, 900)),
    status=st.sampled_from(["Active", "BreakInLearning", "Completed", "Withdrawn"]),
    steps=st.lists(st.integers(0, 120), min_size=1, max_size=12),
)
def test_the_simulation_is_consistent_and_never_goes_back(
    candidate: str,
    course_key: str,
    start: date,
    planned: int | None,
    status: str,
    steps: list[int],
) -> None:
    end = "" if planned is None else (start + timedelta(days=planned)).isoformat()
    cand = m.Candidate(
        candidate_uuid=candidate, start_date=start.isoformat(), end_date=end, status=status
    )
    learner_ = simulate.Learner(cand, seeded_units(course_key))
    day = start - timedelta(days=30)
    before = simulate.simulate(learner_, day, full=True)
    for step in steps:
        day += timedelta(days=step)
        after = simulate.simulate(learner_, day, full=True)
        check_consistent(after, day)
        check_not_behind(before, after)
        assert after == simulate.simulate(learner_, day, full=True)
        before = after


async def test_progress_follows_the_learner_not_the_candidate_uuid(
    db: SandboxDB, lab: AsyncClient
) -> None:
    """The same learner enrolled in two sandboxes (new CandidateUUIDs each time, as in LA)
    progresses the same way, so that demo and test runs are reproducible."""
    made = [
        db.add_candidate(
            MANDATORY_UNITS,
            candidate_uuid=str(uuid.uuid4()),
            source_id="MIS-77",
            course_uuid=COURSE,
            start_date="2025-09-01",
            end_date="2026-09-01",
            status="Active",
        )
        for _ in range(2)
    ]
    first, second = [await lab.get_progress_full(c) for c in made]
    assert first.overall_progress == second.overall_progress > 0
    assert [u.completed_date for u in first.units] == [u.completed_date for u in second.units]
