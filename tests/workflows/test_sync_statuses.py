"""Sync lists LA's candidates in every status, so that nobody LA holds is enrolled again (issue 7):
a withdrawn learner is still enrolled as far as labridge is concerned, even from a fresh store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from labridge import AsyncClient, store
from labridge.sandbox import seed
from labridge.sandbox.app import create_app
from labridge.sources.csv import read_csv
from labridge.workflows.enrol import Enroller, Options
from labridge.workflows.sync import every_candidate, sync

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
#: A row of the sample export, and the id LA holds the same learner under, as Withdrawn.
SAMPLE_ID, WITHDRAWN = "MIS-200107", "MIS-900107"


@pytest.fixture
def sandbox() -> Starlette:
    return create_app()


def _client(app: Starlette) -> AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return AsyncClient("http://sandbox", "sandbox", "sandbox", backoff=0, transport=transport)


async def _stats(app: Starlette) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as h:
        return dict((await h.get("/_sandbox/stats")).json())


async def test_sync_lists_candidates_of_every_status(db: store.Store, sandbox: Starlette) -> None:
    async with _client(sandbox) as client:
        report = await sync(client, db)
    with db.session() as session:
        statuses = {c.status for c in store.list_set(session, "candidates")}  # type: ignore[attr-defined]
    assert statuses == {"Active", "BreakInLearning", "Completed", "Withdrawn"}
    assert report.counts["candidates"].total == len(seed.CANDIDATES)


async def test_a_withdrawn_learner_is_skipped_not_enrolled_from_a_fresh_store(
    db: store.Store, sandbox: Starlette, tmp_path: Path
) -> None:
    line = next(x for x in SAMPLE.read_text().splitlines() if x.startswith(SAMPLE_ID + ","))
    export = tmp_path / "withdrawn.csv"
    export.write_text(
        SAMPLE.read_text().splitlines()[0] + "\n" + line.replace(SAMPLE_ID, WITHDRAWN)
    )
    rows = list(read_csv(export))
    async with _client(sandbox) as client:
        await sync(client, db)
        report = await Enroller(client, db, Options()).run(rows)
    [outcome] = report.records
    assert outcome.outcome == "skipped"
    assert "already enrolled in LA" in outcome.reason
    figures = await _stats(sandbox)
    assert "GroupEnrolment" not in figures["calls"]  # nothing sent
    assert figures["duplicate_source_ids"] == 0


async def test_test_learners_are_listed_only_when_configured(sandbox: Starlette) -> None:
    tester = sandbox.state.db.add_candidate(
        source_id="MIS-TEST-9", status="Withdrawn", is_test=True
    )
    async with _client(sandbox) as client:
        default = {c.candidate_uuid for c in await every_candidate(client)}
        with_tests = [c.candidate_uuid for c in await every_candidate(client, include_test=True)]
    assert tester not in default
    assert tester in with_tests
    assert len(with_tests) == len(set(with_tests)) == len(default) + 1  # each candidate once
