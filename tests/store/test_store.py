"""The store against real SQLite and real PostgreSQL (the ``store_url`` fixture gives both)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from labridge.errors import ConfigurationError
from labridge.models import (
    Candidate,
    Company,
    Ethnicity,
    Framework,
    LAModel,
    Nationality,
    Trainer,
    Unit,
)
from labridge.store import (
    SETS,
    SetCounts,
    Store,
    current_revision,
    finish_sync_run,
    get_meta,
    last_sync,
    list_set,
    migrate,
    open_store,
    set_meta,
    start_sync_run,
    status,
    tables,
    upsert_set,
)
from labridge.store.engine import MIGRATIONS_DIR

from .conftest import StatementLog, head_revision

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)
T3 = T0 + timedelta(days=3)


def trainer(n: int, **changes: Any) -> Trainer:
    base = Trainer(
        trainer_uuid=f"T-{n:04d}",
        forename=f"Fore{n}",
        surname=f"Sur{n}",
        email=f"t{n}@example.ac.uk",
        is_assessor=n % 2 == 0,
        is_verifier=n % 3 == 0,
    )
    return base.model_copy(update=changes)


def candidate(n: int, **changes: Any) -> Candidate:
    base = Candidate(
        candidate_uuid=f"C-{n:06d}",
        source_id=f"MIS{n}",
        forename="Ada",
        surname=f"Learner{n}",
        email=f"l{n}@example.com",
        uln="9276308686",
        company_uuid="CO-1",
        course_uuid=f"F-{n % 5}",
        course_qan="603/1234/5",
        start_date="2025-09-01",
        end_date="2026-08-31",
        status="Active",
    )
    return base.model_copy(update=changes)


def framework(n: int, units: int = 3, **changes: Any) -> Framework:
    base = Framework(
        course_uuid=f"F-{n}",
        name=f"Framework {n}",
        qan=f"603/000{n}/1",
        level="3",
        units=[
            Unit(unit_uuid=f"F-{n}-U-{u}", name=f"Unit {u}", reference=f"R{u}", mandatory=u == 0)
            for u in range(units)
        ],
    )
    return base.model_copy(update=changes)


def sample() -> dict[str, list[LAModel]]:
    """One small record list per set except units (which come inside the frameworks)."""
    return {
        "frameworks": [framework(1), framework(2, units=2)],
        "trainers": [trainer(n) for n in range(4)],
        "companies": [Company(company_uuid="CO-1", name="Acme", postcode="LS1 4AP")],
        "nationalities": [Nationality(nationality_id="1", name="British")],
        "ethnicities": [Ethnicity(ethnicity_id="31", name="English")],
        "candidates": [candidate(n) for n in range(10)],
    }


def load(store: Store, data: dict[str, list[LAModel]], now: datetime) -> dict[str, SetCounts]:
    counts: dict[str, SetCounts] = {}
    with store.begin() as session:
        for name in SETS:
            records = data["frameworks"] if name == "units" else data[name]
            counts[name] = upsert_set(session, name, records, now)
    return counts


#: The natural key of each set a test reads one record of.
KEY = {"frameworks": "course_uuid", "trainers": "trainer_uuid", "companies": "company_uuid"}


def get_record(
    session: Session, name: str, key: str, include_removed: bool = False
) -> LAModel | None:
    """One record of set ``name`` by its natural key, as :func:`list_set` gives it."""
    found = [r for r in list_set(session, name, include_removed) if getattr(r, KEY[name]) == key]
    return found[0] if found else None


def candidates_of(
    session: Session, source_id: str, course_uuid: str | None = None
) -> list[LAModel]:
    """The stored candidates carrying the caller's learner id, optionally on one course."""
    return [
        c
        for c in list_set(session, "candidates")
        if isinstance(c, Candidate)
        and c.source_id == source_id
        and course_uuid in (None, c.course_uuid)
    ]


def upsert_frameworks(
    session: Session, frameworks: list[Framework], now: datetime
) -> tuple[SetCounts, SetCounts]:
    """The frameworks and their units, upserted as a sync does: two sets from one list."""
    return (
        upsert_set(session, "frameworks", frameworks, now),
        upsert_set(session, "units", frameworks, now),
    )


def keys(models: list[LAModel], attr: str) -> list[str]:
    return [getattr(m, attr) for m in models]


# ---------------------------------------------------------------------------------------------
# Opening and migrating


def test_migrations_create_the_schema_of_tables_module(database_url: str) -> None:
    """From an empty database (not the tests' migrated template): every migration runs."""
    with open_store(database_url) as store, store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.metadata) == []
        assert current_revision(conn) == head_revision() == "0006"
        names = set(inspect(conn).get_table_names())
    assert names == {*tables.metadata.tables, "alembic_version"}


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert MIGRATIONS_DIR.parent.name == "store"
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


def test_opening_an_up_to_date_store_changes_nothing(
    store: Store, statements: StatementLog, store_url: str
) -> None:
    load(store, sample(), T0)
    statements.clear()
    migrate(store.engine)
    ddl = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")
    assert [s for s in statements.statements if s.lstrip().upper().startswith(ddl)] == []
    with open_store(store_url) as again, again.begin() as session:
        assert len(list_set(session, "candidates")) == 10
        assert status(session)["schema_revision"] == head_revision()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_plain_postgresql_urls_use_psycopg(database_url: str) -> None:
    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with open_store(plain) as opened:
        assert opened.engine.dialect.driver == "psycopg"


def test_unreachable_postgresql_raises_configuration_error_without_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "Sup3r-s3cret!"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError) as info:
        open_store(f"postgresql://labridge:{secret.replace('!', '%21')}@127.0.0.1:1/labridge")
    err = info.value
    text = f"{err} {err!r} {err.__cause__!r} {err.__context__!r} {caplog.text}"
    assert secret not in text
    assert "Sup3r" not in text
    assert "postgresql+psycopg://labridge:***@127.0.0.1:1/labridge" in str(err)
    assert "check that the database server is running" in str(err)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url at all", "not a database URL"),
        ("nosuchdialect://user:hunter2@host/db", "cannot use the store URL"),
        ("sqlite:////nonexistent-dir/labridge/labridge.db", "cannot open the store"),
    ],
)
def test_bad_urls_raise_configuration_error(url: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected) as info:
        open_store(url)
    assert "hunter2" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# Upserts


def test_upsert_counts_across_rounds(store: Store) -> None:
    def sync(records: list[Trainer], now: datetime) -> SetCounts:
        with store.begin() as session:
            return upsert_set(session, "trainers", records, now)

    assert sync([trainer(1), trainer(2), trainer(3)], T0) == SetCounts(3, 0, 0, 3)
    # 1 unchanged, 2 renamed, 3 gone, 4 new.
    round2 = [trainer(1), trainer(2, surname="Renamed"), trainer(4)]
    assert sync(round2, T1) == SetCounts(added=1, changed=1, removed=1, total=3)
    assert sync(round2, T2) == SetCounts(0, 0, 0, 3)
    # 3 comes back (counted as added); 1 only gains an unknown member (counted as changed).
    round4 = [trainer(1, extras={"Phone": "0113"}), trainer(2, surname="Renamed"), trainer(3)]
    assert sync(round4, T3) == SetCounts(added=1, changed=1, removed=1, total=3)
    with store.begin() as session:
        assert keys(list_set(session, "trainers"), "trainer_uuid") == ["T-0001", "T-0002", "T-0003"]
        assert len(list_set(session, "trainers", include_removed=True)) == 4
        assert status(session)["sets"]["trainers"] == {"present": 3, "removed": 1}


def test_identical_upsert_writes_nothing(store: Store, statements: StatementLog) -> None:
    data = sample()
    load(store, data, T0)
    assert statements.writes() != []
    statements.clear()
    counts = load(store, sample(), T1)
    assert statements.writes() == []
    assert all(c.added == c.changed == c.removed == 0 for c in counts.values())
    assert counts["units"].total == 5
    with store.begin() as session:
        stamps = session.execute(select(tables.candidates.c.updated_at)).scalars().all()
    assert set(stamps) == {T0}


def test_only_changed_rows_are_written(store: Store, statements: StatementLog) -> None:
    load(store, sample(), T0)
    data = sample()
    data["candidates"][3] = candidate(3, status="Completed")
    statements.clear()
    counts = load(store, data, T1)
    assert counts["candidates"] == SetCounts(0, 1, 0, 10)
    assert [s.split()[0].upper() for s in statements.writes()] == ["UPDATE"]
    with store.begin() as session:
        rows = session.execute(
            select(tables.candidates.c.candidate_uuid, tables.candidates.c.updated_at)
        ).all()
    changed = {uuid for uuid, updated in rows if updated == T1}
    assert changed == {"C-000003"}


def test_removed_rows_come_back(store: Store) -> None:
    table = tables.companies
    acme, beta = Company(company_uuid="CO-1", name="Acme"), Company(company_uuid="CO-2")
    with store.begin() as session:
        upsert_set(session, "companies", [acme, beta], T0)
    with store.begin() as session:
        assert upsert_set(session, "companies", [acme], T1) == SetCounts(0, 0, 1, 1)
        assert get_record(session, "companies", "CO-2") is None
        assert get_record(session, "companies", "CO-2", include_removed=True) == beta
    with store.begin() as session:
        assert upsert_set(session, "companies", [acme, beta], T2) == SetCounts(1, 0, 0, 2)
        row = session.execute(select(table).where(table.c.company_uuid == "CO-2")).one()
    assert (row.first_seen_at, row.updated_at, row.removed_at) == (T0, T2, None)


def test_extras_round_trip_in_every_set(store: Store) -> None:
    extras: dict[str, Any] = {"Zeta": "ü €", "Nested": {"A": [1, 2.5, None, True]}, "Empty": ""}
    data = sample()
    data = {
        name: [r.model_copy(update={"extras": {**extras, "Key": i}}) for i, r in enumerate(rs)]
        for name, rs in data.items()
    }
    fw = data["frameworks"][0]
    assert isinstance(fw, Framework)
    fw.units[0].extras = {"UnitExtra": {"deep": ["x"]}}
    load(store, data, T0)
    with store.begin() as session:
        for name, records in data.items():
            assert list_set(session, name) == records, name
    # Same extras in another key order are not a change.
    assert load(store, sample_with_reordered_extras(data), T1)["trainers"].changed == 0


def sample_with_reordered_extras(data: dict[str, list[LAModel]]) -> dict[str, list[LAModel]]:
    def flip(record: LAModel) -> LAModel:
        return record.model_copy(update={"extras": dict(reversed(record.extras.items()))})

    return {name: [flip(r) for r in records] for name, records in data.items()}


def test_units_follow_their_frameworks(store: Store) -> None:
    shared = Unit(unit_uuid="SHARED", name="Functional skills")
    f1, f2 = framework(1), framework(2)
    f1.units.append(shared)
    f2.units.append(shared)
    with store.begin() as session:
        assert upsert_frameworks(session, [f1, f2], T0) == (
            SetCounts(2, 0, 0, 2),
            SetCounts(8, 0, 0, 8),
        )
    # Framework 2 leaves LA: its units go with it; framework 1 loses a unit, renames another.
    f1b = framework(1, units=2)
    f1b.units[1].name = "Renamed"
    f1b.units.append(shared)
    with store.begin() as session:
        fw_counts, unit_counts = upsert_frameworks(session, [f1b], T1)
        assert fw_counts == SetCounts(0, 0, 1, 1)
        assert unit_counts == SetCounts(added=0, changed=1, removed=5, total=3)
        stored = get_record(session, "frameworks", "F-1")
        assert stored == f1b
        removed = get_record(session, "frameworks", "F-2", include_removed=True)
        assert isinstance(removed, Framework)
        assert keys(list(removed.units), "unit_uuid") == ["F-2-U-0", "F-2-U-1", "F-2-U-2", "SHARED"]
        assert len(list_set(session, "units")) == 3


def test_duplicate_keys_keep_the_last_record(store: Store) -> None:
    with store.begin() as session:
        counts = upsert_set(session, "trainers", [trainer(1), trainer(1, surname="Last")], T0)
        assert counts == SetCounts(1, 0, 0, 1)
        assert get_record(session, "trainers", "T-0001") == trainer(1, surname="Last")


def test_misuse_is_refused(store: Store) -> None:
    with store.begin() as session:
        with pytest.raises(ValueError, match="unknown reference set 'courses'"):
            upsert_set(session, "courses", [], T0)
        with pytest.raises(TypeError, match="trainers are upserted from Trainer records"):
            upsert_set(session, "trainers", [candidate(1)], T0)
        with pytest.raises(TypeError, match="units are upserted from Framework records"):
            upsert_set(session, "units", [Unit(unit_uuid="U")], T0)
        with pytest.raises(ValueError, match="timezone-aware"):
            upsert_set(session, "trainers", [], datetime(2025, 1, 1))


def test_a_failed_transaction_stores_nothing(store: Store) -> None:
    def failing_sync() -> None:
        with store.begin() as session:
            upsert_set(session, "trainers", [trainer(1)], T0)
            raise RuntimeError("sync broke")

    with pytest.raises(RuntimeError, match="sync broke"):
        failing_sync()
    with store.begin() as session:
        assert list_set(session, "trainers") == []


def test_savepoints_nest(store: Store) -> None:
    # On SQLite both halves need the BEGIN hook of labridge.store.engine: without it a SAVEPOINT
    # opened before any INSERT is its own transaction, and releasing it commits.
    def failing_step(session: Session) -> None:
        with session.begin_nested():
            upsert_set(session, "trainers", [trainer(1), trainer(2)], T1)
            raise RuntimeError("inner step broke")

    def failing_sync() -> None:
        with store.begin() as session:
            with session.begin_nested():
                upsert_set(session, "ethnicities", [Ethnicity(ethnicity_id="31")], T0)
            raise RuntimeError("outer step broke")

    with store.begin() as session:
        upsert_set(session, "trainers", [trainer(1)], T0)
        with pytest.raises(RuntimeError, match="inner step broke"):
            failing_step(session)
        upsert_set(session, "companies", [Company(company_uuid="CO-1")], T0)
    with pytest.raises(RuntimeError, match="outer step broke"):
        failing_sync()
    with store.begin() as session:
        assert keys(list_set(session, "trainers"), "trainer_uuid") == ["T-0001"]
        assert keys(list_set(session, "companies"), "company_uuid") == ["CO-1"]
        assert list_set(session, "ethnicities") == []


def test_five_thousand_candidates(store: Store, statements: StatementLog) -> None:
    records = [candidate(n) for n in range(5000)]
    with store.begin() as session:
        assert upsert_set(session, "candidates", records, T0) == SetCounts(5000, 0, 0, 5000)
    records[10:110] = [candidate(n, status="Withdrawn") for n in range(10, 110)]
    del records[-50:]
    statements.clear()
    with store.begin() as session:
        counts = upsert_set(session, "candidates", records, T1)
    assert counts == SetCounts(added=0, changed=100, removed=50, total=4950)
    selects = [s for s in statements.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1  # one load for the whole set, no per-row SELECT
    statements.clear()
    with store.begin() as session:
        assert upsert_set(session, "candidates", records, T2) == SetCounts(0, 0, 0, 4950)
    assert statements.writes() == []


# ---------------------------------------------------------------------------------------------
# Reads, sync runs, meta, status


def test_candidates_keep_the_callers_learner_id(store: Store) -> None:
    records = [candidate(1), candidate(2, source_id="MIS1"), candidate(3)]
    with store.begin() as session:
        upsert_set(session, "candidates", records, T0)
        found = candidates_of(session, "MIS1")
        assert keys(found, "candidate_uuid") == ["C-000001", "C-000002"]
        on_course = candidates_of(session, "MIS1", course_uuid="F-2")
        assert on_course == [records[1]]
        assert candidates_of(session, "nobody") == []


def test_sync_runs_and_status(store: Store) -> None:
    with store.begin() as session:
        assert last_sync(session) is None
        empty = status(session)
    assert empty["last_sync"] is None
    assert empty["sets"] == {name: {"present": 0, "removed": 0} for name in SETS}

    with store.begin() as session:
        run = start_sync_run(session, T0)
    with store.begin() as session:
        running = last_sync(session)
        assert running is not None
        assert (running.id, running.status, running.finished_at) == (run, "running", None)
    counts = load(store, sample(), T0)
    with store.begin() as session:
        finish_sync_run(session, run, T1, "ok", counts)
        report = status(session)
    assert report["last_sync"] == {
        "id": run,
        "started_at": T0.isoformat(),
        "finished_at": T1.isoformat(),
        "status": "ok",
        "summary": {name: c.as_dict() for name, c in counts.items()},
    }
    assert report["sets"]["units"] == {"present": 5, "removed": 0}
    assert report["sets"]["candidates"] == {"present": 10, "removed": 0}

    with store.begin() as session:
        second = start_sync_run(session, T2)
        finish_sync_run(session, second, T3, "failed", {"error": "LA unreachable"})
        latest = last_sync(session)
        assert latest is not None
        assert (latest.id, latest.status, latest.summary) == (
            second,
            "failed",
            {"error": "LA unreachable"},
        )
        with pytest.raises(ValueError, match="'ok' or 'failed'"):
            finish_sync_run(session, second, T3, "done", {})
        with pytest.raises(ValueError, match="no sync run 999"):
            finish_sync_run(session, 999, T3, "ok", {})


def test_meta_values(store: Store, statements: StatementLog) -> None:
    with store.begin() as session:
        assert get_meta(session, "la_url") is None
        set_meta(session, "la_url", "https://la.example")
        set_meta(session, "la_url", "https://la2.example")
    statements.clear()
    with store.begin() as session:
        set_meta(session, "la_url", "https://la2.example")
        assert get_meta(session, "la_url") == "https://la2.example"
    assert statements.writes() == []


def test_every_model_field_has_a_column() -> None:
    models: dict[str, type[LAModel]] = {
        "frameworks": Framework,
        "units": Unit,
        "trainers": Trainer,
        "companies": Company,
        "nationalities": Nationality,
        "ethnicities": Ethnicity,
        "candidates": Candidate,
    }
    for name, model in models.items():
        columns = set(tables.metadata.tables[name].columns.keys())
        assert set(model.model_fields) - {"units"} <= columns, name
