"""The sync workflow against the real sandbox app (in-process) and real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from labridge import AsyncClient, AuthenticationError, ConfigurationError, store
from labridge.workflows.sync import EmptyAnswerRefused, SyncReport, sync

REFERENCE_TABLES = (
    "frameworks",
    "units",
    "trainers",
    "companies",
    "nationalities",
    "ethnicities",
    "candidates",
)


def _writes_to_reference_tables(engine: sa.Engine) -> list[str]:
    """Collects every INSERT/UPDATE/DELETE statement that touches a reference table."""
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("INSERT", "UPDATE", "DELETE")) and any(
            f" {t.upper()}" in head.split("(")[0] for t in REFERENCE_TABLES
        ):
            seen.append(statement)

    return seen


async def test_first_sync_adds_everything_the_sandbox_lists(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    report = await sync(client, db)
    data = report.as_dict()
    assert list(data) == list(store.SETS)
    seeded = sandbox.state.db
    assert data["frameworks"]["total"] == len(seeded.frameworks()) >= 8
    assert data["units"]["total"] == sum(len(f.units) for f in seeded.frameworks())
    assert data["trainers"]["total"] == len(seeded.trainers()) >= 9
    assert data["companies"]["total"] == len(seeded.companies()) >= 25
    assert data["ethnicities"]["total"] == 19
    assert data["nationalities"]["total"] == len(seeded.nationalities()) > 150
    assert data["candidates"]["total"] >= 3
    for counts in data.values():
        assert counts["added"] == counts["total"]
        assert counts["changed"] == counts["removed"] == 0


async def test_second_sync_with_nothing_changed_writes_nothing(
    client: AsyncClient, db: store.Store
) -> None:
    await sync(client, db)
    writes = _writes_to_reference_tables(db.engine)
    again = await sync(client, db)
    assert not again.changed
    assert all(c["added"] == c["changed"] == c["removed"] == 0 for c in again.as_dict().values())
    assert writes == []


async def test_changes_and_removals_in_la_are_counted(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    await sync(client, db)
    la_db = sandbox.state.db
    trainer = la_db.trainers()[0]
    company = la_db.companies()[0]
    with la_db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE trainers SET surname = 'Renamed' WHERE trainer_uuid = :u"),
            {"u": trainer.trainer_uuid},
        )
        conn.execute(
            sa.text("DELETE FROM companies WHERE company_uuid = :u"), {"u": company.company_uuid}
        )
    report = await sync(client, db)
    assert report.counts["trainers"].changed == 1
    assert report.counts["companies"].removed == 1
    with db.session() as session:
        status = store.status(session)
        names = {t.surname for t in store.list_set(session, "trainers")}  # type: ignore[attr-defined]
    assert status["sets"]["companies"]["removed"] == 1
    assert "Renamed" in names
    assert status["last_sync"]["status"] == "ok"


async def test_refused_credentials_fail_the_run_and_leave_the_store_alone(
    sandbox: Starlette, db: store.Store
) -> None:
    async with AsyncClient(
        "http://sandbox", "sandbox", "wrong", transport=httpx.ASGITransport(app=sandbox)
    ) as la:
        with pytest.raises(AuthenticationError):
            await sync(la, db)
    with db.session() as session:
        status = store.status(session)
    assert all(s["present"] == 0 for s in status["sets"].values())
    assert status["last_sync"]["status"] == "failed"


async def test_sync_report_times_come_from_the_clock(client: AsyncClient, db: store.Store) -> None:
    moments = iter(datetime(2026, 11, 27, 9, 0, s, tzinfo=UTC) for s in range(10))
    report: SyncReport = await sync(client, db, clock=lambda: next(moments))
    assert report.started_at < report.finished_at


# -- an empty answer never empties a set silently (issue 8) --------------------------------------


def _empty_companies(sandbox: Starlette) -> int:
    with sandbox.state.db.engine.begin() as conn:
        return int(conn.execute(sa.text("DELETE FROM companies")).rowcount)


async def test_an_empty_answer_for_a_set_the_store_holds_is_refused(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    held = (await sync(client, db)).counts["companies"].total
    assert held > 0
    trainer = sandbox.state.db.trainers()[0]
    with sandbox.state.db.engine.begin() as conn:  # a change that must not be half-written
        conn.execute(
            sa.text("UPDATE trainers SET surname = 'Renamed' WHERE trainer_uuid = :u"),
            {"u": trainer.trainer_uuid},
        )
    _empty_companies(sandbox)
    with pytest.raises(EmptyAnswerRefused) as refused:
        await sync(client, db)
    message = str(refused.value)
    assert f"LA returned no companies, the store holds {held}" in message
    assert "labridge sync --accept-empty companies" in message
    with db.session() as session:
        status = store.status(session)
        surnames = {t.surname for t in store.list_set(session, "trainers")}  # type: ignore[attr-defined]
    assert status["sets"]["companies"] == {"present": held, "removed": 0}
    assert "Renamed" not in surnames  # nothing of the refused run was written
    assert status["last_sync"]["status"] == "failed"


async def test_accept_empty_confirms_a_real_emptying(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    held = (await sync(client, db)).counts["companies"].total
    _empty_companies(sandbox)
    report = await sync(client, db, accept_empty=["companies"])
    assert report.counts["companies"].removed == held
    assert (await sync(client, db)).counts["companies"].removed == 0  # empty and empty: fine


async def test_an_empty_answer_for_an_empty_set_is_fine(
    client: AsyncClient, db: store.Store, sandbox: Starlette
) -> None:
    _empty_companies(sandbox)
    assert (await sync(client, db)).counts["companies"].total == 0


async def test_accept_empty_names_a_set_sync_reads(client: AsyncClient, db: store.Store) -> None:
    with pytest.raises(ConfigurationError, match="--accept-empty units: not a set sync reads"):
        await sync(client, db, accept_empty=["units"])
