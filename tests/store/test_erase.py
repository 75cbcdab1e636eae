"""Erasure against the real sandbox (in-process) and real SQLite and PostgreSQL stores: every
table loses the learner's data, an anonymous audit row stays, exactly once still holds (enrol
says "forgotten", sync does not mirror them again), dry runs change nothing, and on SQLite the
data is gone from the database and WAL files' bytes too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from labridge import AsyncClient, store
from labridge.dburl import sqlite_file
from labridge.sandbox.app import create_app
from labridge.sources.csv import read_csv
from labridge.store import erase, journal
from labridge.workflows.enrol import Enroller
from labridge.workflows.pull import pull
from labridge.workflows.sync import sync
from labridge.workflows.update import Updater

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
#: Ewan Shaw, enrolled from the sample's fifth row: their e-mail, NI number, address, mobile
#: and ULN, which must leave every table (and the file).
LEARNER = "MIS-200128"
CANARIES = ("ewan.shaw68@example.org", "WH963738C", "73 Queens Road", "07815381254", "4202221817")
#: Another learner, enrolled alongside, who must keep everything.
OTHER = "MIS-200100"
#: A learner the first six rows hold whose record is invalid: only in the journal.
INVALID = "MIS-200121"


@pytest.fixture
def sandbox() -> Starlette:
    return create_app()


@pytest.fixture
async def client(sandbox: Starlette) -> AsyncIterator[AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox)
    async with AsyncClient("http://sandbox", "sandbox", "sandbox", backoff=0,
                           transport=transport) as la:  # fmt: skip
        yield la


@pytest.fixture
async def db(store_url: str, client: AsyncClient, tmp_path: Path) -> AsyncIterator[store.Store]:
    """A store after a sync, an enrol of six sample rows, a second sync and a progress pull:
    every table that can hold a learner's data holds some."""
    opened = store.open_store(store_url)
    await sync(client, opened)
    # The six rows, then the learner's row once more: a repeat in one input (repeated_rows).
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:7]
    repeat = tmp_path / "repeat.csv"
    again = [x for x in lines if x.startswith(LEARNER + ",")]
    repeat.write_text("\n".join([*lines, *again]) + "\n", encoding="utf-8")
    report = await Enroller(client, opened).run(read_csv(repeat))
    outcomes = [r.outcome for r in report.records if r.source_id == LEARNER]
    assert outcomes == ["enrolled", "invalid"]
    await sync(client, opened)
    await pull(client, opened)
    with opened.begin() as session:  # LA's duplicates, as the check after a run keeps them
        cand = _candidate_uuid(session, LEARNER)
        session.execute(sa.insert(store.tables.la_duplicates).values(
            candidate_uuid="dup-" + cand, source_id=LEARNER, course_uuid="c",
            found_at=datetime.now(UTC)))  # fmt: skip
    yield opened
    opened.close()


def _rows() -> list[Any]:
    return list(read_csv(SAMPLE))[:6]


def _candidate_uuid(session: Any, source_id: str) -> str:
    c = store.tables.candidates
    return str(session.execute(sa.select(c.c.candidate_uuid).where(c.c.source_id == source_id))
               .scalar_one())  # fmt: skip


def _dump(db: store.Store) -> dict[str, list[str]]:
    """Every row of every table, as text: what a reader of the database sees."""
    out: dict[str, list[str]] = {}
    with db.engine.connect() as conn:
        for name in store.tables.metadata.tables:
            rows = conn.execute(sa.text(f"SELECT * FROM {name}")).all()
            out[name] = sorted(json.dumps([str(v) for v in row]) for row in rows)
    return out


def _holding(dump: dict[str, list[str]], *needles: str) -> dict[str, int]:
    return {
        name: n
        for name, rows in dump.items()
        if (n := sum(1 for r in rows if any(x in r for x in needles)))
    }


def _forget(db: store.Store, ids: list[str], **kw: Any) -> erase.ErasureReport:
    with db.begin() as session:
        return erase.forget(session, ids, datetime.now(UTC), **kw)


def test_forget_erases_the_learner_from_every_table_and_keeps_an_anonymous_audit_row(
    db: store.Store,
) -> None:
    with db.session() as session:
        cand = _candidate_uuid(session, LEARNER)
    before = _dump(db)
    held = _holding(before, *CANARIES, LEARNER, cand)
    # The fixture put the learner everywhere: the test would catch a table left out.
    assert set(held) >= set(erase.TABLES)

    report = _forget(db, [LEARNER])

    (done,) = report.learners
    assert done.outcome == "erased"
    assert done.learner == LEARNER
    assert done.tables == {name: held[name] for name in erase.TABLES}
    after = _dump(db)
    assert _holding(after, *CANARIES, LEARNER) == {}
    # The journal keeps the row (state, CandidateUUID) under a hash; nothing else of theirs.
    assert _holding(after, cand) == {"enrolments": 1}
    with db.session() as session:
        hashed = erase.learner_hash(erase.salt(session, create=False) or b"", LEARNER)
        (row,) = [e for e in journal.entries(session) if e.candidate_uuid == cand]
        audit = session.execute(sa.select(store.tables.erasures)).mappings().one()
    assert row.source_id == erase.FORGOTTEN_PREFIX + hashed
    assert (row.state, row.pushed, row.origin, row.problems) == ("enrolled", None, "", ())
    assert audit["learner_hash"] == hashed
    assert audit["reason"] == "forget"
    assert json.loads(audit["erased"]) == done.tables
    # The other learners keep everything they had.
    assert _holding(after, OTHER) == _holding(before, OTHER)


async def test_a_forgotten_learner_is_never_enrolled_nor_mirrored_again(
    db: store.Store, client: AsyncClient, sandbox: Starlette
) -> None:
    la = sandbox.state.db
    in_la = len([x for x in la.candidates(active=True, completed=True) if x.source_id == LEARNER])
    _forget(db, [LEARNER])

    await sync(client, db)  # LA still lists them: the mirror leaves them out
    report = await Enroller(client, db).run(_rows())

    outcome = {r.source_id: r for r in report.records}[LEARNER]
    today = datetime.now(UTC).date().isoformat()
    assert outcome.outcome == "skipped"
    assert outcome.reason == f"forgotten: erased on {today}, not re-enrolled"
    listed = [x for x in la.candidates(active=True, completed=True) if x.source_id == LEARNER]
    assert len(listed) == in_la == 1  # not sent again
    assert _holding(_dump(db), *CANARIES, LEARNER) == {}
    await pull(client, db)
    assert _holding(_dump(db), *CANARIES, LEARNER, listed[0].candidate_uuid) == {"enrolments": 1}


async def test_a_forgotten_learner_is_never_updated(
    db: store.Store, client: AsyncClient, sandbox: Starlette
) -> None:
    la = sandbox.state.db
    (cand,) = [x for x in la.candidates(active=True, completed=True) if x.source_id == LEARNER]
    _forget(db, [LEARNER])
    rows = _rows()
    assert rows[4].source_id == LEARNER
    # A change update would otherwise send.
    rows[4] = replace(rows[4], fields={**rows[4].fields, "email": "changed@example.org"})
    report = await Updater(client, db).run(rows)
    outcome = {r.source_id: r for r in report.records}[LEARNER]
    assert outcome.outcome == "not_enrolled"
    assert [p.code for p in outcome.problems] == ["FORGOTTEN"]
    assert la.candidate_fields(cand.candidate_uuid)["email"] == "ewan.shaw68@example.org"
    assert _holding(_dump(db), *CANARIES, LEARNER, "changed@example.org") == {}


def test_dry_run_counts_and_changes_nothing(db: store.Store) -> None:
    before = _dump(db)
    report = _forget(db, [LEARNER, "NOBODY"], dry_run=True)
    assert [e.outcome for e in report.learners] == ["would_erase", "not_found"]
    assert report.learners[0].tables["enrolments"] == 1
    assert _dump(db) == before


def test_a_candidate_uuid_names_its_learner_and_a_journal_only_learner_is_erased(
    db: store.Store,
) -> None:
    with db.session() as session:
        cand = _candidate_uuid(session, LEARNER)
    report = _forget(db, [cand, INVALID])
    assert [e.outcome for e in report.learners] == ["erased", "erased"]
    assert report.learners[1].tables == {**dict.fromkeys(erase.TABLES, 0), "enrolments": 1,
                                         "enrolment_events": 1}  # fmt: skip
    assert _holding(_dump(db), *CANARIES, LEARNER, INVALID) == {}
    again = _forget(db, [LEARNER, INVALID])
    assert [e.outcome for e in again.learners] == ["already_forgotten"] * 2
    with db.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(store.tables.erasures))\
            .scalar_one() == 2  # fmt: skip


async def test_learners_gone_from_la_are_found_by_when_they_vanished(
    db: store.Store, client: AsyncClient, sandbox: Starlette
) -> None:
    with db.session() as session:
        cand = _candidate_uuid(session, LEARNER)
        assert erase.gone_before(session, datetime.now(UTC) + timedelta(days=1)) == []
    sandbox.state.db.update_candidate(cand, {"is_test": True})  # LA no longer lists them
    await sync(client, db)
    with db.session() as session:
        assert erase.gone_before(session, datetime.now(UTC) + timedelta(seconds=1)) == [LEARNER]
        assert erase.gone_before(session, datetime.now(UTC) - timedelta(days=1)) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("builds_secure_delete", [True, False])
def test_erased_data_leaves_the_sqlite_files_bytes(
    db: store.Store, builds_secure_delete: bool
) -> None:
    """Whether or not this SQLite was built with secure_delete on (Debian's is), and whether or
    not labridge's pragma took: the VACUUM after an erasure leaves nothing behind."""
    if not builds_secure_delete:
        db.engine.dispose()
        sa.event.listen(db.engine, "connect", _secure_delete_off)
    path = sqlite_file(db.engine.url)
    assert path is not None
    files = [path, path.with_name(path.name + "-wal")]
    before = b"".join(f.read_bytes() for f in files if f.exists())
    assert all(x.encode() in before for x in CANARIES)  # the check can fail

    _forget(db, [LEARNER])
    erase.vacuum(db.engine)
    db.close()  # the last connection closing checkpoints the WAL as well

    after = b"".join(f.read_bytes() for f in files if f.exists())
    assert [x for x in CANARIES if x.encode() in after] == []
    assert b"MIS-200100" in after  # the others stay


def _secure_delete_off(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA secure_delete = OFF")


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_vacuum_runs_on_postgresql_outside_a_transaction(db: store.Store) -> None:
    _forget(db, [LEARNER])
    erase.vacuum(db.engine)  # VACUUM refuses to run inside a transaction block
    assert _holding(_dump(db), *CANARIES, LEARNER) == {}
