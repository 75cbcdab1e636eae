"""The batched journal of an enrol run (docs/reliability.md, "The batched journal"): claims and
``pending`` rows written a chunk at a time, before any of the chunk is sent; outcomes written a
few at a time; a learner journalled ``pending`` whose send never started put back to ``queued``.
The kill between the pending commit and the outcomes is in tests/test_crash.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from labridge import TransportError, store
from labridge.sources.csv import read_csv
from labridge.sources.records import SourceRecord
from labridge.store import journal
from labridge.workflows.enrol import Enroller, Options
from labridge.workflows.sync import sync

from .conftest import client_of, read_request

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
LEARNER = re.compile(rb"SourceSystemLearnerUUID[^>]*>([^<]+)<")


def _one_course(n: int) -> list[SourceRecord]:
    """``n`` learners LA accepts, all on the sample's first learner's course."""
    first = next(r for r in read_csv(SAMPLE) if isinstance(r, SourceRecord))
    made = ({**first.fields, "learner_id": f"MIS-9{i:05d}", "email": f"batch.{i}@example.org"}
            for i in range(n))  # fmt: skip
    return [SourceRecord(i + 2, f"made.csv line {i + 2}", fields) for i, fields in enumerate(made)]


def _stats(app: Starlette) -> dict[str, Any]:
    return dict(app.state.db.stats())


class JournalWatch:
    """A test harness around the real sandbox app: each GroupEnrolment that reaches LA is held
    against the store's committed journal (read on a connection of its own), and any learner
    whose row was not ``pending``, claimed, with the attempt counted, is kept."""

    def __init__(self, app: Starlette, db: store.Store) -> None:
        self.app, self.db = app, db
        self.seen: list[str] = []
        self.wrong: list[tuple[str, str | None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, replay = await read_request(receive)
        if b"GroupEnrolment" in body and (found := LEARNER.search(body)):
            self._check(found.group(1).decode())
        await self.app(scope, replay, send)

    def _check(self, source_id: str) -> None:
        self.seen.append(source_id)
        with self.db.session() as session:
            rows = [e for e in journal.entries(session) if e.source_id == source_id]
        ok = len(rows) == 1 and rows[0].state == "pending" and rows[0].claimed_by is not None
        if not ok or rows[0].attempts < 1:
            self.wrong.append((source_id, rows[0].state if rows else None))


@pytest.mark.parametrize("concurrency", [1, 4, 16])
async def test_no_enrolment_leaves_before_its_claim_and_pending_row_are_committed(
    db: store.Store, sandbox: Starlette, concurrency: int
) -> None:
    watch = JournalWatch(sandbox, db)
    async with client_of(httpx.ASGITransport(app=watch)) as client:
        await sync(client, db)
        report = await Enroller(client, db, Options(concurrency=concurrency)).run(
            list(read_csv(SAMPLE))
        )
    assert report.count("enrolled") == 42
    assert len(watch.seen) == 42
    assert watch.wrong == []
    # Every outcome written, every claim given up, by the end of the run.
    with db.session() as session:
        entries = journal.entries(session)
    assert sum(e.state == "enrolled" for e in entries) == 43  # 42 sent + 1 LA held already
    assert [e for e in entries if e.claimed_by is not None or e.state == "pending"] == []
    enrolled = next(e for e in entries if e.source_id == watch.seen[0])
    with db.session() as session:
        assert [s for s, _ in journal.events(session, *enrolled.key)] == ["pending", "enrolled"]


class NeverReaches(httpx.AsyncBaseTransport):
    """The network to the sandbox app, down for every GroupEnrolment after the first ``ok``:
    those fail to connect, so they certainly never reach LA."""

    def __init__(self, app: Starlette, ok: int) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.ok = ok

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if b"GroupEnrolment" in request.content:
            if self.ok <= 0:
                raise httpx.ConnectError("connection refused", request=request)
            self.ok -= 1
        return await self.inner.handle_async_request(request)


async def test_learners_journalled_pending_whose_send_never_started_are_queued_again(
    db: store.Store, sandbox: Starlette
) -> None:
    rows = _one_course(4)
    async with client_of(sandbox) as client:
        await sync(client, db)
    # One in flight: the first learner is enrolled; the second cannot reach LA, which ends the
    # run while the third, journalled pending with it, waits for the slot and is never sent.
    async with client_of(NeverReaches(sandbox, ok=1)) as down:
        with pytest.raises(TransportError):
            await Enroller(down, db, Options(concurrency=1)).run(rows)
    assert _stats(sandbox)["calls"]["GroupEnrolment"] == 1
    with db.session() as session:
        entries = {e.source_id: e for e in journal.entries(session)}
        third = entries[rows[2].source_id]
        events = [s for s, _ in journal.events(session, *third.key)]
    assert [entries[r.source_id].state for r in rows[:3]] == ["enrolled", "queued", "queued"]
    assert (third.attempts, third.pushed, third.claimed_by) == (0, None, None)
    assert events == ["pending", "queued"]
    assert rows[3].source_id not in entries or entries[rows[3].source_id].state == "queued"
    # Nothing was left uncertain: the next run sends the rest at once, each once.
    async with client_of(sandbox) as client:
        report = await Enroller(client, db, Options(concurrency=1)).run(rows)
    assert [r.outcome for r in report.records] == ["skipped", "enrolled", "enrolled", "enrolled"]
    stats = _stats(sandbox)
    assert stats["calls"]["GroupEnrolment"] == 4
    assert stats["duplicate_source_ids"] == 0


async def test_a_learner_another_live_run_is_sending_is_left_to_it_though_la_lists_them(
    db: store.Store, sandbox: Starlette
) -> None:
    """Another run on the store has sent the learner (LA lists them, the sync saw them) and not
    yet journalled the answer: its row is ``pending``, its claim held. This run must not report
    the learner as its own enrolment (two runs at once each counted one learner enrolled)."""
    from datetime import UTC, datetime

    from labridge.store import locks
    from labridge.validate.learners import check_all
    from labridge.validate.lookups import ReferenceData
    from labridge.workflows.enrol import IN_PROGRESS, LEASE, presence_lock

    rows = _one_course(2)
    other = "11111111-2222-3333-4444-555555555555"
    async with client_of(sandbox) as client:
        await sync(client, db)
        with db.session() as session:
            ref = ReferenceData.load(session)
        (checked,) = check_all(rows[:1], ref)
        assert checked.user is not None
        await client.group_enrolment(checked.user)  # the other run's send, answer not journalled
        now = datetime.now(UTC)
        with db.begin() as session:
            journal.record(session, rows[0].source_id, checked.course_uuid, "pending", now,
                           sent=True)  # fmt: skip
            assert journal.claim(session, rows[0].source_id, checked.course_uuid, other, now,
                                 LEASE)  # fmt: skip
        await sync(client, db)  # this run's sync sees the learner in LA
        with locks.hold(db.engine, presence_lock(other)):  # the other run is alive
            report = await Enroller(client, db, Options()).run(rows)
        assert [r.outcome for r in report.records] == ["skipped", "enrolled"]
        assert report.records[0].reason == IN_PROGRESS
        # Once that run is gone without journalling its answer, LA's listing settles the row.
        locks.forget(db.engine, presence_lock(other))
        again = await Enroller(client, db, Options()).run(rows)
    assert [r.outcome for r in again.records] == ["enrolled", "skipped"]
    assert "found in LA after an uncertain send" in again.records[0].reason
    stats = _stats(sandbox)
    assert stats["calls"]["GroupEnrolment"] == 2
    assert stats["duplicate_source_ids"] == 0
