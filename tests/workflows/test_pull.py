"""The progress pull against the real sandbox app (in-process) and real SQLite and PostgreSQL:
history only when something changed, bounded concurrency, failed learners retried."""

from __future__ import annotations

import asyncio
import gc
import socket
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from labridge import AsyncClient, store
from labridge.models import Candidate, Progress
from labridge.sandbox.app import create_app
from labridge.store import progress_history as sp
from labridge.workflows.pull import PullReport, enrolled, pull
from labridge.workflows.sync import sync

from .conftest import client_of

#: The sandbox's base clock: its "now" before any advance, so that every run simulates alike.
BASE = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox(dialect: str) -> Starlette:
    return create_app(clock=lambda: BASE, dialect=dialect, test_hooks=True)


async def _hook(app: Starlette, path: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as h:
        (await h.post(path, json=body)).raise_for_status()


async def _advance(app: Starlette, days: int) -> None:
    await _hook(app, "/_sandbox/clock", {"advance_days": days})


async def _synced_pull(client: AsyncClient, db: store.Store, **kw: Any) -> PullReport:
    await sync(client, db)
    return await pull(client, db, **kw)


def _history_inserts(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT") and "progress_history" in statement:
            seen.append(statement)

    return seen


def _history(db: store.Store, level: str | None = None) -> list[sp.HistoryRow]:
    with db.session() as session:
        return sp.history(session, level=level)


def _learners(db: store.Store) -> dict[str, sp.LatestProgress]:
    with db.session() as session:
        return {lp.candidate_uuid: lp for lp in sp.learners(session)}


def _seen(answer: Progress) -> tuple[Any, ...]:
    """What the history tracks of a unit-level answer, computed from LA's answer alone."""
    units = [
        (u.unit_uuid, u.name, u.reference, u.progress, u.completed, u.completed_date)
        for u in answer.units
    ]
    return (answer.overall_progress, answer.status == "Completed", units)


async def _answers(client: AsyncClient, learners: list[Candidate]) -> dict[str, tuple[Any, ...]]:
    return {c.candidate_uuid: _seen(await client.get_progress(c.candidate_uuid)) for c in learners}


async def test_first_pull_stores_every_enrolled_learner(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    report = await _synced_pull(client, db)
    la = sandbox.state.db  # every status: the withdrawn too (blnActive false)
    listed = la.candidates("", active=True, completed=True) + la.candidates("", active=False)
    assert report.learners == len(listed) == len(enrolled(db)) >= 5
    assert (report.changed, report.unchanged, report.failed) == (report.learners, 0, 0)
    stored = _learners(db)
    assert set(stored) == {c.candidate_uuid for c in listed}
    units = _history(db, "unit")
    for cand in listed:
        answer = await client.get_progress(cand.candidate_uuid)
        row = stored[cand.candidate_uuid]
        assert (row.source_id, row.overall) == (cand.source_id, answer.overall_progress)
        assert row.error is None
        mine = [h for h in units if h.candidate_uuid == cand.candidate_uuid]
        assert len(mine) == len(answer.units)
    learner_rows = _history(db, "learner")
    assert sorted(h.candidate_uuid for h in learner_rows) == sorted(stored)
    assert _history(db, "outcome") == []


async def test_a_second_pull_with_the_clock_unchanged_writes_no_history(
    client: AsyncClient, db: store.Store
) -> None:
    first = await _synced_pull(client, db)
    inserts = _history_inserts(db.engine)
    again = await _synced_pull(client, db)
    assert (again.learners, again.changed, again.unchanged) == (first.learners, 0, first.learners)
    assert inserts == []


async def test_history_grows_only_for_learners_whose_progress_moved(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    await _synced_pull(client, db)
    learners = enrolled(db)
    before = await _answers(client, learners)
    moved_ever, still_ever = set(), set()
    for _ in range(6):
        await _advance(sandbox, 30)
        after = await _answers(client, learners)
        moved = {uuid for uuid in after if after[uuid] != before[uuid]}
        count = len(_history(db))
        report = await pull(client, db)
        new = _history(db)[count:]
        assert {h.candidate_uuid for h in new} == moved
        assert (report.changed, report.unchanged) == (len(moved), len(learners) - len(moved))
        moved_ever |= moved
        still_ever |= set(after) - moved
        before = after
    assert moved_ever
    assert still_ever
    for uuid in moved_ever:
        overall = [
            h.snapshot.percentage for h in _history(db, "learner") if h.candidate_uuid == uuid
        ]
        assert overall == sorted(overall)
        assert len(overall) == len(set(overall))


async def test_full_pull_adds_outcomes_and_a_unit_pull_does_not_forget_them(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    await _advance(sandbox, 60)
    await _synced_pull(client, db)
    full = await pull(client, db, full=True)
    outcomes = _history(db, "outcome")
    expected = 0
    for cand in enrolled(db):
        answer = await client.get_progress_full(cand.candidate_uuid)
        expected += sum(len(u.outcomes) for u in answer.units)
    assert len(outcomes) == expected > 0
    assert full.changed == len({h.candidate_uuid for h in outcomes})
    assert {h.snapshot.evidence_count is not None for h in outcomes} == {True}
    inserts = _history_inserts(db.engine)
    assert (await pull(client, db)).changed == 0  # units only: the outcomes are not "gone"
    assert (await pull(client, db, full=True)).changed == 0
    assert inserts == []


class CountingTransport(httpx.AsyncBaseTransport):
    """The sandbox's transport, counting GetProgress requests in flight at once."""

    def __init__(self, app: Starlette) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.in_flight = self.peak = self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        counted = b"GetProgress" in request.content
        if counted:
            self.in_flight += 1
            self.calls += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.005)  # let the other calls start if they may
            return await self._inner.handle_async_request(request)
        finally:
            if counted:
                self.in_flight -= 1


def _add_learners(app: Starlette, count: int) -> None:
    la_db = app.state.db
    model = la_db.candidates("", active=True, completed=True)[0]
    fields = la_db.candidate_fields(model.candidate_uuid)
    units = [u.unit_uuid for u in la_db.enrolled_units(model.candidate_uuid)]
    keep = {k: v for k, v in fields.items() if k not in ("candidate_uuid", "created_at")}
    for n in range(count):
        la_db.add_candidate(units, **{**keep, "source_id": f"EXTRA{n:03d}", "uln": ""})


@pytest.mark.parametrize("concurrency", [1, 3, 8])
async def test_never_more_calls_in_flight_than_asked(
    sandbox: Starlette, db: store.Store, concurrency: int
) -> None:
    _add_learners(sandbox, 20)
    transport = CountingTransport(sandbox)
    async with client_of(transport) as la:
        report = await _synced_pull(la, db, concurrency=concurrency)
    assert report.learners >= 25
    assert transport.calls == report.learners == report.changed
    assert transport.peak == concurrency


async def test_a_failing_learner_is_counted_and_pulled_again_next_time(
    sandbox: Starlette, db: store.Store
) -> None:
    async with client_of(httpx.ASGITransport(app=sandbox), read_attempts=2) as la:
        await sync(la, db)
        first = enrolled(db)[0]  # pulled first with one call at a time
        fault = {"operation": "GetProgress", "mode": "fail_before", "count": 2}
        await _hook(sandbox, "/_sandbox/faults", fault)
        seen: list[tuple[str, str]] = []
        report = await pull(
            la, db, concurrency=1, on_learner=lambda c, o: seen.append((c.candidate_uuid, o))
        )
        assert (report.failed, report.changed) == (1, report.learners - 1)
        assert not report.unreachable
        assert [f.candidate_uuid for f in report.failures] == [first.candidate_uuid]
        assert "503" in report.failures[0].error
        assert seen[0] == (first.candidate_uuid, "failed")
        assert len(seen) == report.learners
        row = _learners(db)[first.candidate_uuid]
        assert row.pulled_at is None
        assert row.error
        assert row.failed_at is not None
        assert first.candidate_uuid not in {h.candidate_uuid for h in _history(db)}
        again = await pull(la, db, concurrency=1)
    assert (again.failed, again.changed, again.unchanged) == (0, 1, again.learners - 1)
    row = _learners(db)[first.candidate_uuid]
    assert (row.error, row.failed_at) == (None, None)
    assert row.pulled_at is not None


class CrashingTransport(CountingTransport):
    """Blows up (a bug, not an LA failure) on the n-th GetProgress call."""

    def __init__(self, app: Starlette, at: int) -> None:
        super().__init__(app)
        self.at = at

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if b"GetProgress" in request.content and self.calls + 1 == self.at:
            raise RuntimeError("crash")
        return await super().handle_async_request(request)


async def test_a_crash_keeps_what_was_pulled_before_it(
    client: AsyncClient, sandbox: Starlette, db: store.Store
) -> None:
    await sync(client, db)
    async with client_of(CrashingTransport(sandbox, at=4)) as la:
        with pytest.raises(RuntimeError, match="crash"):
            await pull(la, db, concurrency=1)
    assert len(_learners(db)) == 3
    report = await pull(client, db)  # the next run picks up where it stopped
    assert (report.changed, report.unchanged) == (report.learners - 3, 3)


async def test_a_candidate_la_no_longer_knows_fails_alone(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    await sync(client, db)
    gone = enrolled(db)[-1].candidate_uuid
    with sandbox.state.db.engine.begin() as conn:
        for table in ("candidate_units", "welcome_emails", "candidates"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE candidate_uuid = :u"), {"u": gone})
    report = await pull(client, db)
    assert [f.candidate_uuid for f in report.failures] == [gone]
    assert not report.unreachable
    assert report.changed == report.learners - 1
    assert _learners(db)[gone].error


async def test_la_unreachable_for_everyone_is_reported_not_raised(
    client: AsyncClient, db: store.Store
) -> None:
    await sync(client, db)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with AsyncClient(url, "sandbox", "sandbox", backoff=0, read_attempts=1) as down:
        report = await pull(down, db)
    assert report.failed == report.learners > 0
    assert report.unreachable
    assert all(f.hint for f in report.failures)
    assert all(lp.failed_at is not None for lp in _learners(db).values())


async def test_report_shape(client: AsyncClient, db: store.Store) -> None:
    data = (await _synced_pull(client, db)).as_dict()
    assert list(data) == ["learners", "changed", "unchanged", "failed", "failures"]
    assert data["failures"] == []
    assert data["changed"] + data["unchanged"] + data["failed"] == data["learners"]


async def test_a_pull_runs_with_the_heap_it_started_with_frozen(
    client: AsyncClient, db: store.Store
) -> None:
    await sync(client, db)
    frozen: list[int] = []
    report = await pull(client, db, on_learner=lambda _c, _o: frozen.append(gc.get_freeze_count()))
    assert len(frozen) == report.learners > 0
    assert min(frozen) > 0
    assert gc.get_freeze_count() == 0
