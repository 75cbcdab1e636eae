"""A big centre's sync (issue 11 §1): candidates listed course by course, an unchanged answer
neither decoded nor compared, against the real sandbox app with a generated centre and real
SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from labridge import AsyncClient, soap, store
from labridge.errors import AnswerTooBig
from labridge.models import Candidate, Framework
from labridge.sandbox.app import create_app
from labridge.sandbox.seed import Generated
from labridge.soap import Limits
from labridge.store import answer_digests, tables
from labridge.workflows.sync import (
    EmptyAnswerRefused,
    every_candidate,
    listing_units,
    refresh_courses,
    sync,
)

from .conftest import client_of

LEARNERS, COURSES = 600, 12


@pytest.fixture
def centre(dialect: str) -> Starlette:
    """A sandbox holding a generated centre: every course has a QAN."""
    return create_app(dialect=dialect, test_hooks=True, generated=Generated(LEARNERS, COURSES))


class Recording(httpx.AsyncBaseTransport):
    """The sandbox app in-process, counting the GetCandidates calls by CourseQAN asked for."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.asked: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        call = soap.decode_request(body)
        if call.operation == "GetCandidates":
            self.asked[str(call.params.get("CourseQAN") or "")] += 1
        return await self.inner.handle_async_request(request)


@pytest.fixture
def recording(centre: Starlette) -> Recording:
    return Recording(centre)


@pytest.fixture
async def la(recording: Recording) -> AsyncIterator[AsyncClient]:
    async with client_of(recording) as client:
        yield client


def _candidates(session: sa.orm.Session) -> list[Candidate]:
    return [c for c in store.list_set(session, "candidates") if isinstance(c, Candidate)]


def _candidate_writes(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("INSERT", "UPDATE", "DELETE")) and " CANDIDATES" in head[:30]:
            seen.append(statement)

    return seen


async def test_candidates_are_listed_course_by_course_and_all_found(
    recording: Recording, la: AsyncClient, db: store.Store
) -> None:
    report = await sync(la, db, concurrency=4)
    everyone = {c.candidate_uuid for c in await every_candidate(la)}
    with db.session() as session:
        stored = {c.candidate_uuid for c in _candidates(session)}
        frameworks = store.list_set(session, "frameworks")
    assert stored == everyone
    assert report.counts["candidates"].added == report.counts["candidates"].total == len(everyone)
    assert len(everyone) > LEARNERS  # the generated learners and the seeded ones
    units = listing_units(frameworks)
    assert "" not in {qan for qan, _ in units}  # every course of this centre has a QAN
    asked = recording.asked
    assert asked[""] == 2  # only every_candidate's own two calls above
    assert {qan for qan in asked if qan} == {qan for qan, _ in units}
    assert all(asked[qan] == 2 for qan, _ in units)  # in learning or not, each with completed


async def test_a_second_sync_with_nothing_new_reads_no_answer_again_and_writes_nothing(
    la: AsyncClient, db: store.Store
) -> None:
    await sync(la, db)
    writes = _candidate_writes(db.engine)
    with db.session() as session:
        before = session.execute(sa.select(tables.meta)).all()
    again = await sync(la, db)
    assert not again.changed
    assert again.counts["candidates"].total > LEARNERS
    assert writes == []
    with db.session() as session:
        assert session.execute(sa.select(tables.meta)).all() == before  # digests as they were


async def test_one_course_that_changed_is_read_again_and_stored(
    centre: Starlette, la: AsyncClient, db: store.Store
) -> None:
    await sync(la, db)
    sandbox_db = centre.state.db
    (one,) = [c for c in sandbox_db.candidates(active=True, completed=True) if c.source_id ==
              "GEN0000005"]  # fmt: skip
    sandbox_db.update_candidate(one.candidate_uuid, {"email": "moved.on@example.org"})
    report = await sync(la, db)
    counts = report.counts["candidates"]
    assert (counts.added, counts.changed, counts.removed) == (0, 1, 0)
    with db.session() as session:
        row = session.execute(
            sa.select(tables.candidates.c.email).where(
                tables.candidates.c.candidate_uuid == one.candidate_uuid
            )
        ).scalar_one()
    assert row == "moved.on@example.org"


async def test_a_learner_gone_from_one_course_is_marked_removed_there_only(
    centre: Starlette, la: AsyncClient, db: store.Store
) -> None:
    first = await sync(la, db)
    sandbox_db = centre.state.db
    (one,) = [c for c in sandbox_db.candidates(active=True, completed=True) if c.source_id ==
              "GEN0000007"]  # fmt: skip
    sandbox_db.update_candidate(one.candidate_uuid, {"is_test": True})  # no longer listed
    report = await sync(la, db)
    counts = report.counts["candidates"]
    assert (counts.added, counts.changed, counts.removed) == (0, 0, 1)
    assert counts.total == first.counts["candidates"].total - 1


async def test_a_course_answered_empty_is_refused_unless_accepted(
    centre: Starlette, la: AsyncClient, db: store.Store
) -> None:
    await sync(la, db)
    sandbox_db = centre.state.db
    course = "690/0003/3"
    on_it = list(sandbox_db.candidates(course, active=True, completed=True))
    on_it += sandbox_db.candidates(course, active=False, completed=True)
    assert on_it
    for cand in on_it:
        sandbox_db.update_candidate(cand.candidate_uuid, {"is_test": True})
    with pytest.raises(EmptyAnswerRefused, match="690/0003/3") as refused:
        await sync(la, db)
    assert "--accept-empty candidates" in refused.value.hint
    report = await sync(la, db, accept_empty=["candidates"])
    assert report.counts["candidates"].removed == len({c.candidate_uuid for c in on_it})


async def test_a_digest_kept_under_another_basis_is_not_trusted(
    la: AsyncClient, db: store.Store
) -> None:
    await sync(la, db)
    with db.begin() as session:  # as an older labridge (another decoder) would have kept them
        kept = answer_digests.load(session, _any_basis(session))
        answer_digests.save(session, "older", kept)
        session.execute(tables.candidates.delete())
    report = await sync(la, db)  # so every answer is read again, and the rows come back
    assert report.counts["candidates"].added == report.counts["candidates"].total > LEARNERS


def _any_basis(session: sa.orm.Session) -> str:
    (value,) = {
        str(v).split(" ")[0]
        for k, v in session.execute(sa.select(tables.meta.c.key, tables.meta.c.value))
        if k.startswith("answer:")
    }
    return value


async def test_refreshing_some_courses_lists_those_only_and_keeps_the_rest(
    centre: Starlette, recording: Recording, la: AsyncClient, db: store.Store
) -> None:
    first = await sync(la, db)
    with db.session() as session:
        frameworks = [f for f in store.list_set(session, "frameworks") if isinstance(f, Framework)]
    wanted = {f.course_uuid: f.qan for f in frameworks if f.qan in ("690/0005/5", "690/0006/6")}
    sandbox_db = centre.state.db
    (one,) = [c for c in sandbox_db.candidates(active=True, completed=True) if c.source_id ==
              "GEN0000004"]  # fmt: skip
    assert one.course_uuid in wanted
    sandbox_db.update_candidate(one.candidate_uuid, {"surname": "Renamed"})
    recording.asked.clear()
    counts = await refresh_courses(la, db, wanted)
    assert counts is not None
    assert counts.changed == 1
    assert counts.total == first.counts["candidates"].total  # the other courses are kept
    assert set(recording.asked) == set(wanted.values())


async def test_a_centre_listed_in_one_answer_too_big_names_the_courses_without_a_qan(
    db: store.Store,
) -> None:
    """The seed's standards have no QAN: everyone comes in one answer, and an answer over the
    cap says why and what to do."""
    app = create_app()
    with app.state.db.engine.begin() as conn:  # a few hundred more learners on a seed course
        rows = conn.execute(sa.text("SELECT * FROM candidates LIMIT 1")).mappings().one()
        for k in range(400):
            copy = {**rows, "candidate_uuid": f"00000000-0000-4000-8000-{k:012d}",
                    "source_id": f"BIG{k:05d}"}  # fmt: skip
            columns = ", ".join(copy)
            conn.execute(
                sa.text(f"INSERT INTO candidates ({columns}) VALUES "
                        f"({', '.join(':' + c for c in copy)})"),
                copy,
            )  # fmt: skip
    async with client_of(app, limits=Limits.for_answers(200_000)) as la:
        with pytest.raises(AnswerTooBig) as too_big:
            await sync(la, db)
    assert "GetCandidates" in str(too_big.value)
    hint = too_big.value.hint
    assert "have no QAN ('" in hint
    assert "course by course" in hint
    assert "[la] max_answer_mib" in hint
