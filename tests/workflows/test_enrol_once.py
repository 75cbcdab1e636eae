"""Exactly once where real deployments break it (issue 7): a slow LA that commits after the
client gave up, claims between runs on one store, LA's duplicates, a wrong contract."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from labridge import AsyncClient, ConfigurationError, store
from labridge.sandbox.app import create_app
from labridge.sandbox.server import start_background
from labridge.sources.csv import read_csv
from labridge.sources.records import SourceRow
from labridge.store import duplicates, journal, tables
from labridge.workflows.enrol import IN_PROGRESS, LEASE, Enroller, Options
from labridge.workflows.sync import sync

from .conftest import client_of, read_request

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"


def _rows(n: int) -> list[SourceRow]:
    return list(read_csv(SAMPLE))[:n]


@pytest.fixture
async def la() -> AsyncIterator[tuple[Starlette, AsyncClient]]:
    app = create_app(test_hooks=True)
    async with client_of(app) as client:
        yield app, client


def _stats(app: Starlette) -> dict[str, Any]:
    return dict(app.state.db.stats())


class SlowBeforeCommit:
    """A test harness around the real sandbox app: GroupEnrolment requests are held for
    ``seconds`` before the app sees them, so LA commits after the client's timeout fired."""

    def __init__(self, app: Starlette, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, replay = await read_request(receive)
        if b"GroupEnrolment" in body:
            await asyncio.sleep(self.seconds)
        await self.app(scope, replay, send)


@pytest.mark.parametrize("harness", ["asgi-wrapper", "sandbox-fault"])
async def test_a_slow_la_that_commits_after_the_timeout_enrols_nobody_twice(
    db: store.Store, harness: str
) -> None:
    """Once with a test-side wrapper, once with the sandbox's own ``slow_before_commit`` fault
    (what ``labridge sandbox serve --slow-rate`` plays at random)."""
    app = create_app(test_hooks=True)
    served: Any = SlowBeforeCommit(app, 1.5) if harness == "asgi-wrapper" else app
    with start_background(served) as running:
        if harness == "sandbox-fault":
            fault = {"operation": "GroupEnrolment", "mode": "slow_before_commit",
                     "seconds": 1.5, "count": 4}  # fmt: skip
            httpx.post(running.url + "/_sandbox/faults", json=fault).raise_for_status()
        async with AsyncClient(running.url, "sandbox", "sandbox", timeout=0.5, backoff=0) as la:
            await sync(la, db)
            before = _stats(app)["candidates"]
            options = Options(concurrency=5, settle_seconds=5)
            report = await Enroller(la, db, options).run(_rows(5))
            n = report.count("uncertain")  # every valid record (one of the five is invalid)
            assert n == 4
            assert report.count("invalid") == 1
            assert report.failed
            deadline = time.monotonic() + 20
            while _stats(app)["candidates"] < before + n and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # LA finishes the work the client gave up on
            with db.session() as session:
                states = {e.state for e in journal.entries(session)}
            assert states == {"uncertain", "invalid"}
            # A run within the window neither looks nor resends.
            again = await Enroller(la, db, options).run(_rows(5))
            assert again.count("uncertain") == n
            # After the window (a clock past it, no sleeping) LA lists them: enrolled, not resent.
            later = datetime.now(UTC) + timedelta(seconds=6)
            await sync(la, db)
            settled = await Enroller(la, db, options, clock=lambda: later).run(_rows(5))
        stats = _stats(app)
    assert settled.count("enrolled") == n, settled.records
    assert all("found in LA" in r.reason for r in settled.records if r.outcome == "enrolled")
    assert stats["calls"]["GroupEnrolment"] == n
    assert stats["duplicate_source_ids"] == 0
    assert stats["candidates"] == before + n
    with db.session() as session:
        assert {e.state for e in journal.entries(session)} == {"enrolled", "invalid"}


async def test_a_learner_claimed_by_another_live_run_is_skipped(
    db: store.Store, la: tuple[Starlette, AsyncClient]
) -> None:
    app, client = la
    await sync(client, db)
    rows = _rows(2)
    other = "11111111-2222-3333-4444-555555555555"
    first = rows[0]
    enroller = Enroller(client, db, Options())
    course = enroller.ref.course(first.fields["course"]).course_uuid  # type: ignore[union-attr]
    with db.begin() as session:
        assert journal.claim(session, first.source_id, course, other, datetime.now(UTC), LEASE)
    # The other run is alive: its presence lock is held by this process.
    from labridge.store import locks
    from labridge.workflows.enrol import presence_lock

    with locks.hold(db.engine, presence_lock(other)):
        report = await enroller.run(rows)
    assert [r.outcome for r in report.records] == ["skipped", "enrolled"]
    assert report.records[0].reason == IN_PROGRESS
    # Once that run is gone, its claim is taken over at once, lease or not.
    locks.forget(db.engine, presence_lock(other))
    report = await Enroller(client, db, Options()).run(rows)
    assert [r.outcome for r in report.records] == ["enrolled", "skipped"]
    assert _stats(app)["duplicate_source_ids"] == 0


def test_a_claim_is_one_conditional_update(db: store.Store) -> None:
    now = datetime.now(UTC)
    with db.begin() as session:
        assert journal.claim(session, "L1", "C1", "run-a", now, LEASE) is not None
        assert journal.claim(session, "L1", "C1", "run-b", now, LEASE) is None
        assert journal.claim(session, "L1", "C1", "run-a", now, LEASE) is not None  # its own
        # An expired lease is free for anyone.
        assert journal.claim(session, "L1", "C1", "run-b", now + 2 * LEASE, LEASE) is not None
        journal.release(session, "L1", "C1", "run-b")
        entry = journal.claim(session, "L1", "C1", "run-c", now, LEASE)
    assert entry is not None
    assert entry.state == "queued"
    assert entry.claimed_by == "run-c"


async def test_duplicates_made_by_another_store_are_found_after_a_run(
    db: store.Store, la: tuple[Starlette, AsyncClient], tmp_path: Path
) -> None:
    app, client = la
    rows = _rows(3)
    other = store.open_store(f"sqlite:///{tmp_path}/other.db")
    await sync(client, other)
    await Enroller(client, other, Options()).run(rows[:1])  # another machine, its own store
    other.close()
    # This store synced before that run, so it does not know the learner; its refresh of the
    # course right before sending finds them all the same and does not send them again.
    await sync(client, db)
    with db.begin() as session:  # as if the sync had happened before the other run
        session.execute(tables.candidates.delete())
    report = await Enroller(client, db, Options()).run(rows[:1])
    assert report.count("skipped") == 1
    assert "already enrolled in LA" in report.records[0].reason
    assert _stats(app)["duplicate_source_ids"] == 0
    # A duplicate made behind labridge's back is found by the check after a run that sent, on
    # the courses of the run's records (rows[0]'s, whose record is skipped, among them).
    user = Enroller(client, db, Options()).ref  # the same reference data
    assert user is not None
    await client.group_enrolment(_checked_user(rows[0], db))
    report = await Enroller(client, db, Options()).run(rows[:2])
    assert report.count("enrolled") == 1
    assert [d.source_id for d in report.duplicates] == [rows[0].source_id]
    assert report.failed
    assert report.as_dict()["duplicates"][0]["candidate_uuids"]
    with db.session() as session:
        listed = duplicates.listing(session)
    assert [(d.source_id, len(d.candidate_uuids)) for d in listed] == [(rows[0].source_id, 2)]
    # Found once: a later run does not report it as new.
    again = await Enroller(client, db, Options()).run(rows[2:3])
    assert again.duplicates == []


def _checked_user(row: SourceRow, db: store.Store) -> Any:
    from labridge.validate.learners import check_all
    from labridge.validate.lookups import ReferenceData

    with db.session() as session:
        ref = ReferenceData.load(session)
    (checked,) = check_all([row], ref)  # type: ignore[list-item]
    return checked.user


async def test_a_contract_that_loses_learner_ids_sends_nothing(
    db: store.Store, la: tuple[Starlette, AsyncClient]
) -> None:
    app, client = la
    with app.state.db.engine.begin() as conn:  # LA's candidates, read with no learner id
        conn.exec_driver_sql("UPDATE candidates SET source_id = ''")
    await sync(client, db)
    with pytest.raises(ConfigurationError, match="SourceSystemLearnerUUID is probably wrong"):
        await Enroller(client, db, Options()).run(_rows(3))
    assert "GroupEnrolment" not in _stats(app)["calls"]
