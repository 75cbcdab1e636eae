"""The progress mirror and its history: the latest state per learner (``progress_learners``) and a
history (``progress_history``) that grows only when something changed.

A pull (docs/contract.md §3.3, GetProgress or GetProgressFull) is turned into *snapshots*, one per
key ``(level, unit_uuid, outcome_uuid)``: the learner as a whole, each unit and, from a full pull,
each outcome. A snapshot becomes a ``progress_history`` row only when its values differ from the
latest row of the same key: a history table keeps a row only when something changed
(docs/data-protection.md, "What labridge stores", lists what it holds). Only keys present in a pull
are compared, so a unit-level pull never reads as "the outcomes vanished"; nothing is ever written
for a key that is missing.

The latest row of every key is loaded once, in one query (:func:`load_known`), compared in
Python, and each batch of pulls is written with a handful of bulk statements (:func:`write_batch`).
A failed pull keeps the learner's last good values and records when and why it failed.

What the tables hold is read back with :func:`learners` (one :class:`LatestProgress` per learner)
and :func:`history` (the changes, oldest first): the public reads for a library caller who wants
more than the progress report, which reads the same tables with its own aggregating queries, and
:func:`summary` for ``labridge status``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeAlias
from weakref import WeakKeyDictionary

from sqlalchemy import Dialect, RowMapping, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ..models import Candidate, OutcomeProgress, Progress, UnitProgress
from . import tables

LEVELS = ("learner", "unit", "outcome")
#: ``(level, unit_uuid, outcome_uuid)``; the learner's own key is ``("learner", "", "")``.
Key: TypeAlias = tuple[str, str, str]

# Column widths of the tables (tables.py): LA's dates are YYYY-MM-DD (docs/contract.md §1 [INF]), so
# a longer value (a timestamp) keeps its date part; other values are cut to fit rather than lost.
_DATE_LEN, _STATUS_LEN, _TEXT_LEN = 10, 32, tables.TEXT_LEN
_LEARNER_VALUES = (
    "source_id", "course_uuid", "start_date", "end_date", "status", "overall",
    "last_activity_date", "pulled_at", "failed_at", "error",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one pull said about one key. Every field but the key is compared."""

    level: str
    unit_uuid: str = ""
    outcome_uuid: str = ""
    name: str = ""
    reference: str = ""
    #: The learner's overall percentage, a unit's progress, or 100/0 for a done/open outcome.
    percentage: float = 0.0
    completed: bool = False
    completed_date: str = ""
    #: Outcomes only.
    evidence_count: int | None = None

    @property
    def key(self) -> Key:
        return (self.level, self.unit_uuid, self.outcome_uuid)


_SNAPSHOT_FIELDS = tuple(f.name for f in fields(Snapshot))

#: A snapshot's values in field order (its key first: level, unit_uuid, outcome_uuid), as a plain
#: tuple. :class:`Known` holds every key of every learner so for a whole pull; the garbage
#: collector stops tracking a tuple of strings and numbers, where each collection would walk
#: that many :class:`Snapshot` objects (issue 11: most of a full pull's collector time).
Values: TypeAlias = tuple[str, str, str, str, str, float, bool, str, int | None]


@dataclass(frozen=True)
class HistoryRow:
    id: int
    candidate_uuid: str
    pulled_at: datetime
    snapshot: Snapshot


@dataclass(frozen=True)
class LatestProgress:
    """A ``progress_learners`` row: the latest known progress and how the last pull went (the
    progress report's judged line per learner is :class:`labridge.reports.LearnerProgress`)."""

    candidate_uuid: str
    source_id: str
    course_uuid: str
    start_date: str
    end_date: str
    status: str
    overall: float
    last_activity_date: str
    pulled_at: datetime | None
    failed_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Pulled:
    """A successful pull; ``progress`` values LA left empty fall back to the synced candidate."""

    candidate: Candidate
    progress: Progress
    #: True for GetProgressFull: the outcomes are compared too.
    full: bool = False


@dataclass(frozen=True)
class Failed:
    candidate: Candidate
    error: str


@dataclass
class Known:
    """What the store held before a pull: the latest snapshot of every key of every learner
    (as :data:`Values`; :meth:`snapshot` gives one as a :class:`Snapshot`), and the learners that
    have a ``progress_learners`` row. :func:`write_batch` keeps it current (load it again after a
    batch whose transaction was rolled back)."""

    latest: dict[str, dict[Key, Values]] = field(default_factory=dict)
    learners: set[str] = field(default_factory=set)

    def snapshot(self, candidate_uuid: str, key: Key) -> Snapshot | None:
        """The latest snapshot of one key of one learner, if the store has one."""
        values = self.latest.get(candidate_uuid, {}).get(key)
        return None if values is None else Snapshot(*values)


# ---------------------------------------------------------------------------------------------
# From LA's answer to snapshots


def snapshots(progress: Progress, *, full: bool = False) -> dict[Key, Snapshot]:
    """The snapshots of one pull by key (a key LA listed twice keeps its last values)."""
    return {key: Snapshot(*values) for key, values in snapshot_values(progress, full=full).items()}


def snapshot_values(progress: Progress, *, full: bool = False) -> dict[Key, Values]:
    """:func:`snapshots` as :data:`Values`, by key (a key LA listed twice keeps its last values)."""
    found: dict[Key, Values] = {}
    key: Key = ("learner", "", "")
    found[key] = (
        *key, "", "", progress.overall_progress, progress.status == "Completed", "", None,
    )  # fmt: skip
    for unit in progress.units:
        values = _unit_values(unit)
        found[values[:3]] = values
        if full:
            for outcome in unit.outcomes:
                values = _outcome_values(unit.unit_uuid, outcome)
                found[values[:3]] = values
    return found


def _unit_values(unit: UnitProgress) -> Values:
    return (
        "unit",
        unit.unit_uuid,
        "",
        unit.name,
        unit.reference[:_TEXT_LEN],
        unit.progress,
        unit.completed,
        unit.completed_date[:_DATE_LEN],
        None,
    )


def _outcome_values(unit_uuid: str, outcome: OutcomeProgress) -> Values:
    return (
        "outcome",
        unit_uuid,
        outcome.outcome_uuid,
        outcome.description,
        outcome.reference[:_TEXT_LEN],
        100.0 if outcome.completed else 0.0,
        outcome.completed,
        outcome.completed_date[:_DATE_LEN],
        outcome.evidence_count,
    )


def changed(latest: Mapping[Key, Values], pulled: Mapping[Key, Values]) -> list[Values]:
    """The pulled values that differ from (or have no) latest row of their key."""
    return [v for key, v in pulled.items() if latest.get(key) != v]


def _cut(value: str, length: int) -> str:
    return value[:length]


# ---------------------------------------------------------------------------------------------
# Writes


def load_known(session: Session) -> Known:
    """The latest history row of every key of every learner (one query), and the learners."""
    t = tables.progress_history
    newest = (
        select(func.max(t.c.id).label("id"))
        .group_by(t.c.candidate_uuid, t.c.level, t.c.unit_uuid, t.c.outcome_uuid)
        .subquery()
    )
    known = Known()
    for row in session.execute(select(t).join(newest, t.c.id == newest.c.id)).mappings():
        values = _values(row)
        known.latest.setdefault(row["candidate_uuid"], {})[values[:3]] = values
    learners = session.execute(select(tables.progress_learners.c.candidate_uuid)).scalars()
    known.learners.update(learners)
    return known


def write_batch(
    session: Session, known: Known, results: Iterable[Pulled | Failed], now: datetime
) -> dict[str, int]:
    """Store a batch of pulls: learner rows upserted, changed snapshots appended to the history
    with ``pulled_at`` ``now``. Returns the number of history rows written per candidate pulled
    (0 when nothing changed; failed learners are not in it)."""
    written: dict[str, int] = {}
    history: list[tuple[Any, ...]] = []
    learners: dict[str, dict[str, Any]] = {}  # a learner twice in a batch keeps its last result
    for result in results:
        uuid = result.candidate.candidate_uuid
        if isinstance(result, Pulled):
            rows = _history_rows(known, result)
            history.extend(rows)
            written[uuid] = written.get(uuid, 0) + len(rows)
            learners[uuid] = _pulled_values(result, now)
        else:
            learners[uuid] = _failed_values(result, now, known_row=uuid in known.learners)
    _write_learners(session, known, list(learners.values()))
    if history:
        _insert_history(session, history, now)
    return written


def _history_rows(known: Known, result: Pulled) -> list[tuple[Any, ...]]:
    """The history rows of one pull, as :data:`_HISTORY_COLUMNS` less ``pulled_at``."""
    uuid = result.candidate.candidate_uuid
    latest = known.latest.setdefault(uuid, {})
    fresh = changed(latest, snapshot_values(result.progress, full=result.full))
    latest.update((v[:3], v) for v in fresh)
    return [(uuid, *v) for v in fresh]


#: The columns a history row is written with, in the order :func:`_history_rows` gives them.
_HISTORY_COLUMNS = ("candidate_uuid", *_SNAPSHOT_FIELDS, "pulled_at")


@dataclass(frozen=True)
class _HistoryInsert:
    """The history's INSERT as one dialect's driver takes it, compiled once."""

    sql: str
    #: The positions of :data:`_HISTORY_COLUMNS` in the driver's parameters (positional style;
    #: empty when they are in the columns' own order), or ``None`` when it takes them by name.
    order: tuple[int, ...] | None
    #: Each column's bind processor (what SQLAlchemy does to a value on its way to the driver).
    processors: tuple[Callable[[Any], Any] | None, ...]


_history_inserts: WeakKeyDictionary[Dialect, _HistoryInsert] = WeakKeyDictionary()


def _history_insert(dialect: Dialect) -> _HistoryInsert:
    made = _history_inserts.get(dialect)
    if made is None:
        t = tables.progress_history
        compiled = insert(t).inline().compile(dialect=dialect, column_keys=list(_HISTORY_COLUMNS))
        names = compiled.positiontup
        order = None if names is None else tuple(_HISTORY_COLUMNS.index(n) for n in names)
        if order == tuple(range(len(_HISTORY_COLUMNS))):
            order = ()  # positional, in the columns' own order
        processors = tuple(t.c[name].type.bind_processor(dialect) for name in _HISTORY_COLUMNS)
        made = _history_inserts[dialect] = _HistoryInsert(str(compiled), order, processors)
    return made


def _insert_history(session: Session, rows: list[tuple[Any, ...]], now: datetime) -> None:
    """Append ``rows`` (:func:`_history_rows`) with ``pulled_at`` ``now``: one INSERT run by the
    driver for every row (executemany), each value converted as SQLAlchemy's own INSERT would,
    without its work per row and per value (most of a first full pull's store time: issue 11)."""
    connection = session.connection()
    statement = _history_insert(connection.dialect)
    *processors, at = statement.processors
    pulled_at = now if at is None else at(now)
    convert = [(i, p) for i, p in enumerate(processors) if p is not None]
    params: list[Any] = []
    for row in rows:
        values = list(row)
        for i, process in convert:
            values[i] = process(values[i])
        values.append(pulled_at)
        if statement.order is None:
            params.append(dict(zip(_HISTORY_COLUMNS, values, strict=True)))
        elif statement.order:
            params.append(tuple(values[i] for i in statement.order))
        else:
            params.append(tuple(values))
    connection.exec_driver_sql(statement.sql, params)


def _pulled_values(result: Pulled, now: datetime) -> dict[str, Any]:
    p, c = result.progress, result.candidate
    return {
        "candidate_uuid": c.candidate_uuid,
        "source_id": _cut(p.source_id or c.source_id, _TEXT_LEN),
        "course_uuid": _cut(p.course_uuid or c.course_uuid, _TEXT_LEN),
        "start_date": _cut(p.start_date or c.start_date, _DATE_LEN),
        "end_date": _cut(p.end_date or c.end_date, _DATE_LEN),
        "status": _cut(p.status or c.status, _STATUS_LEN),
        "overall": p.overall_progress,
        "last_activity_date": _cut(p.last_activity_date, _DATE_LEN),
        "pulled_at": now,
        "failed_at": None,
        "error": None,
    }


def _failed_values(result: Failed, now: datetime, *, known_row: bool) -> dict[str, Any]:
    """A failure keeps a stored learner's last good values; a learner never pulled gets a row
    from the synced candidate, with no progress and ``pulled_at`` NULL."""
    c = result.candidate
    failure = {"candidate_uuid": c.candidate_uuid, "failed_at": now, "error": result.error}
    if known_row:
        return failure
    return {
        **failure,
        "source_id": _cut(c.source_id, _TEXT_LEN),
        "course_uuid": _cut(c.course_uuid, _TEXT_LEN),
        "start_date": _cut(c.start_date, _DATE_LEN),
        "end_date": _cut(c.end_date, _DATE_LEN),
        "status": _cut(c.status, _STATUS_LEN),
        "overall": 0.0,
        "last_activity_date": "",
        "pulled_at": None,
    }


def _write_learners(session: Session, known: Known, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the new learners in one statement and update the known ones: a pulled learner's
    every value, a failed one's failure only (one statement per set of columns)."""
    new = [r for r in rows if r["candidate_uuid"] not in known.learners]
    if new:
        session.execute(insert(tables.progress_learners), new)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row["candidate_uuid"] in known.learners:
            columns = tuple(c for c in _LEARNER_VALUES if c in row)
            by_columns.setdefault(columns, []).append(row)
    for columns, group in by_columns.items():
        _update_learners(session, columns, group)
    known.learners.update(r["candidate_uuid"] for r in new)


def _update_learners(
    session: Session, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    # Parameters are prefixed: SQLAlchemy reserves a column's own name for its SET clause.
    t = tables.progress_learners
    stmt = (
        update(t)
        .where(t.c.candidate_uuid == bindparam("k_uuid"))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    params = [{"k_uuid": r["candidate_uuid"], **{f"v_{c}": r[c] for c in columns}} for r in rows]
    session.execute(stmt, params)


# ---------------------------------------------------------------------------------------------
# Reads


def learners(session: Session) -> list[LatestProgress]:
    """Every learner's latest progress, by source id then candidate."""
    t = tables.progress_learners
    stmt = select(t).order_by(t.c.source_id, t.c.candidate_uuid)
    return [LatestProgress(**dict(row)) for row in session.execute(stmt).mappings()]


def history(
    session: Session, candidate_uuid: str | None = None, *, level: str | None = None
) -> list[HistoryRow]:
    """History rows, oldest first: of one learner or all, of one level or all."""
    t = tables.progress_history
    stmt = select(t).order_by(t.c.id)
    if candidate_uuid is not None:
        stmt = stmt.where(t.c.candidate_uuid == candidate_uuid)
    if level is not None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
        stmt = stmt.where(t.c.level == level)
    return [
        HistoryRow(row["id"], row["candidate_uuid"], row["pulled_at"], _snapshot(row))
        for row in session.execute(stmt).mappings()
    ]


def _snapshot(row: RowMapping) -> Snapshot:
    return Snapshot(*_values(row))


def _values(row: RowMapping) -> Values:
    return tuple(row[f] for f in _SNAPSHOT_FIELDS)


def summary(session: Session) -> dict[str, Any]:
    """What the progress tables hold, for ``labridge status``: learners known, how many failed
    their last pull, history rows, and when the last successful pull was."""
    t = tables.progress_learners
    learners_known, failing, last = session.execute(
        select(func.count(), func.count(t.c.failed_at), func.max(t.c.pulled_at))
    ).one()
    history_rows = session.execute(select(func.count()).select_from(tables.progress_history))
    return {
        "learners": int(learners_known),
        "failing": int(failing),
        "history_rows": int(history_rows.scalar_one()),
        "last_pull": last.isoformat() if last else None,
    }
