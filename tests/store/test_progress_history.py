"""The progress history (store/progress_history.py) on real SQLite and PostgreSQL: a history row
only when something changed."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from labridge.models import Candidate, OutcomeProgress, Progress, UnitProgress
from labridge.store import Store
from labridge.store import progress_history as sp

from .conftest import StatementLog

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)


def candidate(n: int) -> Candidate:
    return Candidate(
        candidate_uuid=f"C-{n:05d}",
        source_id=f"MIS{n}",
        course_uuid="F-1",
        start_date="2025-09-01",
        end_date="2026-08-31",
        status="Active",
    )


def outcome(u: int, o: int, done: bool = False, evidence: int = 0) -> OutcomeProgress:
    return OutcomeProgress(
        outcome_uuid=f"O-{u}-{o}",
        reference=f"{u}.{o}",
        description=f"Outcome {u}.{o}",
        completed=done,
        completed_date="2026-01-02" if done else "",
        evidence_count=evidence,
    )


def unit(u: int, pct: float = 0.0, outcomes: Sequence[OutcomeProgress] = ()) -> UnitProgress:
    return UnitProgress(
        unit_uuid=f"U-{u}",
        name=f"Unit {u}",
        reference=f"R{u}",
        progress=pct,
        completed=pct >= 100,
        completed_date="2026-01-03" if pct >= 100 else "",
        outcomes=list(outcomes),
    )


def progress(n: int, overall: float, units: Sequence[UnitProgress], **kw: Any) -> Progress:
    values: dict[str, Any] = {
        "candidate_uuid": f"C-{n:05d}",
        "source_id": f"MIS{n}",
        "course_uuid": "F-1",
        "start_date": "2025-09-01",
        "end_date": "2026-08-31",
        "last_activity_date": "2026-01-04",
        "overall_progress": overall,
        "status": "Active",
        "units": list(units),
    }
    return Progress.model_validate({**values, **kw})


def pulled(n: int, overall: float, units: Sequence[UnitProgress], full: bool = False) -> sp.Pulled:
    return sp.Pulled(candidate(n), progress(n, overall, units), full)


def write(store: Store, results: Sequence[sp.Pulled | sp.Failed], now: datetime) -> dict[str, int]:
    """One batch, the way a pull writes it: the latest rows loaded fresh from the store."""
    with store.begin() as session:
        return sp.write_batch(session, sp.load_known(session), results, now)


def history_writes(log: StatementLog) -> list[str]:
    return [s for s in log.writes() if "progress_history" in s]


def test_first_pull_stores_the_learner_and_a_row_per_key(store: Store) -> None:
    written = write(store, [pulled(1, 25.0, [unit(1, 50.0), unit(2)])], T0)
    assert written == {"C-00001": 3}
    with store.session() as session:
        (learner,) = sp.learners(session)
        rows = sp.history(session, "C-00001")
    assert learner.overall == 25.0
    assert (learner.source_id, learner.course_uuid, learner.status) == ("MIS1", "F-1", "Active")
    assert (learner.pulled_at, learner.failed_at, learner.error) == (T0, None, None)
    assert learner.last_activity_date == "2026-01-04"
    assert [r.snapshot.key for r in rows] == [
        ("learner", "", ""), ("unit", "U-1", ""), ("unit", "U-2", ""),
    ]  # fmt: skip
    assert rows[1].snapshot == sp.Snapshot("unit", "U-1", "", "Unit 1", "R1", 50.0, False, "")
    assert all(r.pulled_at == T0 for r in rows)


def test_the_same_pull_again_writes_no_history(store: Store, statements: StatementLog) -> None:
    batch = [pulled(n, 10.0 * n, [unit(1, 5.0 * n), unit(2)]) for n in range(1, 4)]
    write(store, batch, T0)
    statements.clear()
    assert write(store, batch, T1) == {"C-00001": 0, "C-00002": 0, "C-00003": 0}
    assert history_writes(statements) == []
    with store.session() as session:
        assert len(sp.history(session)) == 9
        assert {lp.pulled_at for lp in sp.learners(session)} == {T1}


def test_only_the_keys_that_changed_get_a_row(store: Store) -> None:
    write(store, [pulled(1, 25.0, [unit(1, 50.0), unit(2), unit(3)])], T0)
    assert write(store, [pulled(1, 25.0, [unit(1, 50.0), unit(2, 10.0), unit(3)])], T1) == {
        "C-00001": 1
    }
    renamed = unit(3).model_copy(update={"name": "Unit three"})
    assert write(store, [pulled(1, 40.0, [unit(1, 100.0), unit(2, 10.0), renamed])], T2) == {
        "C-00001": 3
    }
    with store.session() as session:
        rows = sp.history(session, "C-00001")
    later = [(r.snapshot.key[1] or "learner", r.pulled_at) for r in rows[4:]]
    assert later == [("U-2", T1), ("learner", T2), ("U-1", T2), ("U-3", T2)]
    done = rows[-2].snapshot
    assert (done.completed, done.completed_date) == (True, "2026-01-03")


def test_learner_completion_is_a_change(store: Store) -> None:
    write(store, [pulled(1, 100.0, [unit(1, 100.0)])], T0)
    finished = sp.Pulled(candidate(1), progress(1, 100.0, [unit(1, 100.0)], status="Completed"))
    assert write(store, [finished], T1) == {"C-00001": 1}
    with store.session() as session:
        learner_rows = sp.history(session, level="learner")
    assert [r.snapshot.completed for r in learner_rows] == [False, True]


def test_outcomes_are_compared_only_when_pulled(store: Store) -> None:
    units = [unit(1, 50.0, [outcome(1, 1, True, 2), outcome(1, 2)]), unit(2, 0.0, [outcome(2, 1)])]
    assert write(store, [pulled(1, 25.0, units, full=True)], T0) == {"C-00001": 6}
    # A unit-level pull of the same state: no outcome is taken for gone.
    assert write(store, [pulled(1, 25.0, units, full=False)], T1) == {"C-00001": 0}
    more = [unit(1, 50.0, [outcome(1, 1, True, 3), outcome(1, 2)]), units[1]]
    assert write(store, [pulled(1, 25.0, more, full=True)], T2) == {"C-00001": 1}
    with store.session() as session:
        rows = sp.history(session, "C-00001", level="outcome")
    assert [(r.snapshot.outcome_uuid, r.snapshot.evidence_count) for r in rows] == [
        ("O-1-1", 2), ("O-1-2", 0), ("O-2-1", 0), ("O-1-1", 3),
    ]  # fmt: skip
    first = rows[0].snapshot
    assert (first.percentage, first.completed, first.reference, first.name) == (
        100.0, True, "1.1", "Outcome 1.1",
    )  # fmt: skip


def test_load_known_finds_the_newest_row_of_each_key(store: Store) -> None:
    for day, pct in enumerate((10.0, 20.0, 30.0)):
        write(store, [pulled(1, pct, [unit(1, pct), unit(2)]), pulled(2, 5.0, [unit(1)])],
              T0 + timedelta(days=day))  # fmt: skip
    with store.session() as session:
        known = sp.load_known(session)
    assert known.learners == {"C-00001", "C-00002"}
    assert known.snapshot("C-00001", ("learner", "", "")) == sp.Snapshot(
        "learner", "", "", "", "", 30.0, False, ""
    )
    assert getattr(known.snapshot("C-00001", ("unit", "U-1", "")), "percentage", None) == 30.0
    assert getattr(known.snapshot("C-00001", ("unit", "U-2", "")), "percentage", None) == 0.0
    assert known.snapshot("C-00001", ("unit", "U-3", "")) is None
    assert set(known.latest["C-00002"]) == {("learner", "", ""), ("unit", "U-1", "")}


def test_a_failure_keeps_the_last_good_values_and_a_success_clears_it(store: Store) -> None:
    write(store, [pulled(1, 25.0, [unit(1, 50.0)])], T0)
    assert write(store, [sp.Failed(candidate(1), "LA answered HTTP 503")], T1) == {}
    with store.session() as session:
        (learner,) = sp.learners(session)
    assert (learner.overall, learner.pulled_at) == (25.0, T0)
    assert (learner.failed_at, learner.error) == (T1, "LA answered HTTP 503")
    write(store, [pulled(1, 30.0, [unit(1, 60.0)])], T2)
    with store.session() as session:
        (learner,) = sp.learners(session)
    assert (learner.overall, learner.pulled_at, learner.failed_at, learner.error) == (
        30.0, T2, None, None,
    )  # fmt: skip


def test_a_learner_never_pulled_gets_a_row_from_the_candidate(store: Store) -> None:
    write(store, [sp.Failed(candidate(7), "no such candidate"), pulled(8, 1.0, [])], T0)
    with store.session() as session:
        failed, ok = sp.learners(session)
        assert [r.candidate_uuid for r in sp.history(session)] == ["C-00008"]
    assert (failed.source_id, failed.start_date) == ("MIS7", "2025-09-01")
    assert (failed.overall, failed.pulled_at, failed.failed_at) == (0.0, None, T0)
    assert failed.error == "no such candidate"
    assert ok.failed_at is None


def test_empty_values_fall_back_to_the_candidate_and_long_ones_are_cut(store: Store) -> None:
    answer = progress(
        1, 5.0, [unit(1).model_copy(update={"completed_date": "2026-01-03T10:00:00"})],
        source_id="", course_uuid="", last_activity_date="2026-01-04T08:30:00Z",
    )  # fmt: skip
    write(store, [sp.Pulled(candidate(1), answer)], T0)
    with store.session() as session:
        (learner,) = sp.learners(session)
        unit_row = sp.history(session, level="unit")[0].snapshot
    assert (learner.source_id, learner.course_uuid) == ("MIS1", "F-1")
    assert learner.last_activity_date == "2026-01-04"
    assert unit_row.completed_date == "2026-01-03"


def test_a_key_listed_twice_keeps_its_last_values(store: Store) -> None:
    assert write(store, [pulled(1, 5.0, [unit(1, 10.0), unit(1, 20.0)])], T0) == {"C-00001": 2}
    with store.session() as session:
        assert sp.history(session, level="unit")[0].snapshot.percentage == 20.0


def test_a_learner_twice_in_one_batch_is_stored_once(store: Store) -> None:
    write(store, [sp.Failed(candidate(1), "boom"), pulled(1, 5.0, [])], T0)
    with store.session() as session:
        (learner,) = sp.learners(session)
    assert learner.error is None


def test_bad_level_is_refused(store: Store) -> None:
    with store.session() as session, pytest.raises(ValueError, match="level must be one of"):
        sp.history(session, level="course")


def test_thousands_of_learners_take_a_handful_of_statements(
    store: Store, statements: StatementLog
) -> None:
    units = [unit(u, 10.0) for u in range(1, 6)]
    batch = [pulled(n, 10.0, units) for n in range(2000)]
    write(store, batch, T0)
    assert len(statements.writes()) == 2  # one INSERT per table, executemany
    statements.clear()
    moved = [pulled(n, 20.0 if n % 2 else 10.0, units) for n in range(2000)]
    written = write(store, moved, T1)
    assert sum(written.values()) == 1000
    reads = [s for s in statements.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 2  # the latest rows of every key, and the learners
    assert len(statements.writes()) == 2  # one UPDATE of the learners, one INSERT of history


def test_what_a_pull_keeps_of_every_key_is_not_walked_by_the_garbage_collector(
    store: Store,
) -> None:
    # A pull keeps the latest values of every key of every learner (133 keys a learner of 12 units
    # of 10 outcomes) for its whole run: as objects the collector tracks, each collection walked
    # them all (issue 11: the most of a full pull's collector time).
    outcomes = [outcome(1, o, done=o % 2 == 0, evidence=o) for o in range(1, 4)]
    batch = [pulled(n, 10.0, [unit(1, 10.0, outcomes), unit(2)], full=True) for n in range(3)]
    with store.begin() as session:
        known = sp.load_known(session)
        sp.write_batch(session, known, batch, T0)
    with store.session() as session:
        loaded = sp.load_known(session)
    gc.collect()
    for held in (known, loaded):
        values = [v for keys in held.latest.values() for v in keys.values()]
        assert len(values) == 3 * 6
        assert not any(gc.is_tracked(v) for v in values)
    assert loaded.latest == known.latest
    assert loaded.snapshot("C-00001", ("outcome", "U-1", "O-1-2")) == sp.Snapshot(
        "outcome", "U-1", "O-1-2", "Outcome 1.2", "1.2", 100.0, True, "2026-01-02", 2
    )
