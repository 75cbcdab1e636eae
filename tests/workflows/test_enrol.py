"""The enrol workflow against the real sandbox (in-process and over loopback) and real stores:
outcomes, exactly once across reruns, deleted stores and network faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from labridge import AsyncClient, TransportError, store
from labridge.sandbox.server import start_background
from labridge.sources.csv import read_csv
from labridge.sources.records import SourceRow
from labridge.store import journal
from labridge.workflows.enrol import Enroller, EnrolReport, Options
from labridge.workflows.sync import sync

from .conftest import client_of

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"


def _rows(limit: int | None = None) -> list[SourceRow]:
    return list(read_csv(SAMPLE))[:limit]


async def _enrol(
    client: AsyncClient, db: store.Store, rows: list[SourceRow], **options: Any
) -> EnrolReport:
    await sync(client, db)
    return await Enroller(client, db, Options(**options)).run(rows)


async def _stats(app: Starlette) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as h:
        return dict((await h.get("/_sandbox/stats")).json())


async def _arm(app: Starlette, **fault: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as h:
        (await h.post("/_sandbox/faults", json=fault)).raise_for_status()


def _valid_rows() -> list[SourceRow]:
    """Sample rows that pass validation and are not in LA yet (the first three)."""
    return _rows(3)


async def test_sample_export_every_row_gets_an_outcome(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    before = (await _stats(sandbox))["candidates"]
    report = await _enrol(client, db, _rows(), send_login_details=True)
    counts = report.as_dict()
    assert len(report.records) == 51
    assert counts["enrolled"] + counts["skipped"] + counts["invalid"] == 51
    assert counts["enrolled"] == 42
    assert counts["skipped"] == 1  # the learner already in LA
    assert counts["invalid"] == 8
    assert report.failed
    # Listed in source order, whatever order the concurrent enrolments finished in.
    lines = [int(r.origin.rsplit(" ", 1)[1]) for r in report.records]
    assert lines == sorted(lines) == list(range(2, 53))
    stats = await _stats(sandbox)
    assert stats["candidates"] == before + 42
    assert stats["duplicate_source_ids"] == 0
    assert stats["welcome_emails"] == 42
    with db.session() as session:
        entries = journal.load_all(session)
    assert sum(e.state == "enrolled" for e in entries.values()) == 43  # 42 new + 1 found in LA
    assert sum(e.state == "invalid" for e in entries.values()) >= 7


async def test_a_second_run_enrols_nobody_twice(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    await _enrol(client, db, _rows())
    calls = (await _stats(sandbox))["calls"]["GroupEnrolment"]
    again = await _enrol(client, db, _rows())
    assert again.count("enrolled") == 0
    assert again.count("skipped") == 43  # 42 enrolled by the first run + 1 LA held already
    # The row repeating a learner stays invalid (it was reported skipped once the first enrolled).
    assert again.count("invalid") == 8
    stats = await _stats(sandbox)
    assert stats["calls"]["GroupEnrolment"] == calls
    assert stats["duplicate_source_ids"] == 0


async def test_a_deleted_store_still_enrols_nobody_twice(
    client: AsyncClient, sandbox: Starlette, tmp_path: Path
) -> None:
    first = store.open_store(f"sqlite:///{tmp_path}/a.db")
    await _enrol(client, first, _rows(10))
    first.close()
    (tmp_path / "a.db").unlink()
    fresh = store.open_store(f"sqlite:///{tmp_path}/a.db")
    report = await _enrol(client, fresh, _rows(10))
    fresh.close()
    assert report.count("enrolled") == 0
    assert all(
        "already enrolled in LA" in r.reason for r in report.records if r.outcome == "skipped"
    )
    assert (await _stats(sandbox))["duplicate_source_ids"] == 0


async def test_dry_run_sends_no_enrolment_and_writes_no_journal(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    report = await _enrol(client, db, _rows(), dry_run=True)
    assert report.count("would_enrol") == 42
    assert report.count("enrolled") == 0
    assert "GroupEnrolment" not in (await _stats(sandbox))["calls"]
    with db.session() as session:
        assert journal.entries(session) == []


@pytest.mark.parametrize("mode", ["drop_after_commit", "fail_before"])
async def test_an_ambiguous_failure_is_reconciled_with_la_before_any_resend(
    client: AsyncClient, db: store.Store, sandbox: Starlette, mode: str
) -> None:
    await sync(client, db)
    await _arm(sandbox, operation="GroupEnrolment", mode=mode, count=1)
    # No settle window: the uncertain learner is looked for in LA at the end of this same run.
    options = Options(concurrency=1, settle_seconds=0)
    report = await Enroller(client, db, options).run(_valid_rows())
    assert report.count("enrolled") == 3
    stats = await _stats(sandbox)
    assert stats["duplicate_source_ids"] == 0
    # drop: the first call landed, LA is asked and nothing is resent; fail_before: it did not
    # land (LA does not count it), LA is asked and the learner is sent again. Either way three
    # enrolments were done, each once.
    assert stats["calls"]["GroupEnrolment"] == 3
    assert stats["faults_fired"] == {f"GroupEnrolment:{mode}": 1}
    # The sync (in learning, and not); each of the three courses' view before its first send; the
    # second look; the
    # duplicates check after the run (each view asks for candidates in learning and not).
    assert stats["calls"]["GetCandidates"] == 2 + 3 * 2 + 2 + 2


async def test_an_uncertain_learner_is_not_looked_for_within_the_settle_window(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    await sync(client, db)
    await _arm(sandbox, operation="GroupEnrolment", mode="drop_after_commit", count=1)
    report = await Enroller(client, db, Options(concurrency=1)).run(_valid_rows())
    assert [r.outcome for r in report.records] == ["uncertain", "enrolled", "enrolled"]
    assert report.failed  # exit 1 while anything is uncertain
    first = report.records[0]
    assert first.settle_after is not None
    assert f"check LA for learner id {first.source_id}" in first.reason
    with db.session() as session:
        entry = journal.get(session, first.source_id, first.course)
    assert entry is not None
    assert entry.state == "uncertain"
    assert entry.claimed_by is None
    # A run within the window neither resends nor looks: still uncertain.
    again = await Enroller(client, db, Options(concurrency=1)).run(_valid_rows()[:1])
    assert [r.outcome for r in again.records] == ["uncertain"]
    # Once the window has passed, LA is asked and lists the learner: enrolled, not resent.
    later = await Enroller(client, db, Options(concurrency=1, settle_seconds=0)).run(
        _valid_rows()[:1]
    )
    assert [r.outcome for r in later.records] == ["enrolled"]
    assert "found in LA" in later.records[0].reason
    stats = await _stats(sandbox)
    assert stats["calls"]["GroupEnrolment"] == 3
    assert stats["duplicate_source_ids"] == 0
    with db.session() as session:
        assert journal.get(session, first.source_id, first.course).state == "enrolled"  # type: ignore[union-attr]


async def test_a_timeout_after_la_did_the_work_is_not_resent(tmp_path: Path) -> None:
    with start_background(test_hooks=True) as running:
        db = store.open_store(f"sqlite:///{tmp_path}/t.db")
        async with AsyncClient(running.url, "sandbox", "sandbox", timeout=1.0, backoff=0) as la:
            await sync(la, db)
            fault = {"operation": "GroupEnrolment", "mode": "delay", "seconds": 2}
            httpx.post(running.url + "/_sandbox/faults", json=fault).raise_for_status()
            options = Options(concurrency=1, settle_seconds=0)  # settled later in this run
            report = await Enroller(la, db, options).run(_valid_rows())
        db.close()
        stats = httpx.get(running.url + "/_sandbox/stats").json()
    assert report.count("enrolled") == 3
    assert stats["calls"]["GroupEnrolment"] == 3
    assert stats["duplicate_source_ids"] == 0


async def test_la_unreachable_stops_the_run_and_the_next_run_finishes_it(
    db: store.Store, sandbox: Starlette
) -> None:
    async with client_of(sandbox) as la:
        await sync(la, db)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with AsyncClient("http://sandbox", "sandbox", "sandbox", backoff=0,
                           transport=httpx.MockTransport(refuse)) as down:  # fmt: skip
        with pytest.raises(TransportError):
            await Enroller(down, db, Options()).run(_valid_rows())
    async with client_of(sandbox) as la:
        report = await _enrol(la, db, _valid_rows())
    assert report.count("enrolled") == 3
    assert (await _stats(sandbox))["duplicate_source_ids"] == 0


async def test_a_pending_row_left_by_a_crash_is_settled_from_la(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    rows = _valid_rows()
    await _enrol(client, db, rows[:1])  # enrolled in LA ...
    with db.begin() as session:  # ... but the journal says the answer never came back
        entry = journal.entries(session)[0]
        journal.record(session, entry.source_id, entry.course, "pending", entry.updated_at)
    report = await _enrol(client, db, rows)
    # The lost answer's enrolment is confirmed from LA (not resent), the others are sent.
    assert [r.outcome for r in report.records] == ["enrolled", "enrolled", "enrolled"]
    assert "found in LA after an uncertain send" in report.records[0].reason
    stats = await _stats(sandbox)
    assert stats["duplicate_source_ids"] == 0
    assert stats["calls"]["GroupEnrolment"] == 3


async def test_a_refusal_by_la_is_reported_with_its_messages(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    await sync(client, db)
    rows = _valid_rows()[:1]
    # LA changes after the sync: the learner's employer is removed from LA.
    company = rows[0].fields["company"]  # type: ignore[union-attr]
    with sandbox.state.db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM companies WHERE name = ?", (company,))
    report = await Enroller(client, db, Options()).run(rows)
    assert [r.outcome for r in report.records] == ["refused"]
    assert report.records[0].problems[0].code == "UNKNOWN_COMPANY"
    assert report.failed
    with db.session() as session:
        assert journal.entries(session)[0].state == "refused"
