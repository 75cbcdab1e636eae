"""The reference sets synced from LA: upserts by natural key, and reads.

The sets are the lists docs/contract.md §4 step 2 asks an integration to keep in step, plus the
candidates. Each upsert takes the *complete* set as LA listed it: a stored row missing from it is
marked removed (``removed_at``), never deleted, and is revived if LA lists it again. A set is
loaded in one query and compared in Python, then written with at most three bulk statements; when
nothing changed nothing is written at all, so ``updated_at`` means "LA's data last changed".

Units come only inside frameworks (GetFrameworks, docs/contract.md §3.2), so the "units" set is
upserted from the frameworks too: ``upsert_set(session, "units", frameworks, now)``. The sync
runs that fill the sets are in :mod:`labridge.store.sync_runs`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeAlias, cast

from sqlalchemy import Table, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..models import (
    Candidate,
    Company,
    Ethnicity,
    Framework,
    LAModel,
    Nationality,
    Trainer,
    Unit,
)
from . import tables

logger = logging.getLogger(__name__)

#: The reference sets, in the order a sync fetches them.
SETS: tuple[str, ...] = (
    "frameworks",
    "units",
    "trainers",
    "companies",
    "nationalities",
    "ethnicities",
    "candidates",
)

Key: TypeAlias = tuple[Any, ...]
Row: TypeAlias = dict[str, Any]

#: Keys per ``IN`` list (SQLite allows 32,766 parameters a statement).
_CHUNK = 500

_TRACKING = ("extras", "first_seen_at", "updated_at", "removed_at")


@dataclass(frozen=True)
class SetCounts:
    """What one upsert did. ``total`` is the number of rows present (not removed) after it."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    total: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Set:
    """How one set is stored. The column lists are cached: they are read for every row."""

    name: str
    table: Table
    model: type[LAModel]
    #: Natural key columns.
    keys: tuple[str, ...]

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Columns holding the record's fields, natural key excluded."""
        skip = {*self.keys, *_TRACKING}
        return tuple(c.name for c in self.table.columns if c.name not in skip)

    @cached_property
    def compared(self) -> tuple[str, ...]:
        """Columns whose difference makes a row "changed"."""
        return (*self.fields, "extras")

    @cached_property
    def from_record(self) -> tuple[str, ...]:
        """Columns read from the record itself (a unit's course comes from its framework)."""
        return tuple(c for c in (*self.keys, *self.fields) if c in self.model.model_fields)


_SETS: dict[str, _Set] = {
    s.name: s
    for s in (
        _Set("frameworks", tables.frameworks, Framework, ("course_uuid",)),
        _Set("units", tables.units, Unit, ("course_uuid", "unit_uuid")),
        _Set("trainers", tables.trainers, Trainer, ("trainer_uuid",)),
        _Set("companies", tables.companies, Company, ("company_uuid",)),
        _Set("nationalities", tables.nationalities, Nationality, ("nationality_id",)),
        _Set("ethnicities", tables.ethnicities, Ethnicity, ("ethnicity_id",)),
        _Set("candidates", tables.candidates, Candidate, ("candidate_uuid",)),
    )
}


def set_table(name: str) -> Table:
    """The table that holds set ``name``."""
    return _set(name).table


def _set(name: str) -> _Set:
    try:
        return _SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown reference set {name!r}; the sets are {', '.join(SETS)}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Upserts


@dataclass
class _Plan:
    inserts: list[Row] = field(default_factory=list)
    updates: list[Row] = field(default_factory=list)
    removals: list[Key] = field(default_factory=list)
    added: int = 0
    changed: int = 0


def upsert_set(
    session: Session,
    name: str,
    records: Iterable[LAModel],
    now: datetime,
    *,
    courses: Collection[str] | None = None,
) -> SetCounts:
    """Bring set ``name`` in line with ``records``, the complete set as LA listed it.

    ``records`` are the set's models; for "units" they are the :class:`Framework` records whose
    units are stored. A key listed twice keeps its last record. Returns what changed.

    ``courses`` (candidates only): ``records`` are the complete candidates of these CourseUUIDs
    only (a sync lists them course by course). Stored candidates of other courses are left as
    they are, except one listed again here under its new course, which is updated.
    """
    return upsert_rows(session, name, _rows(_set(name), records), now, courses=courses)


def record_rows(name: str, records: Iterable[LAModel], shared: dict[str, str]) -> list[Row]:
    """``records`` as set ``name`` stores them (see :func:`upsert_rows`). A value repeated
    across rows (a course, a company, a status, a date) is kept once, in ``shared``: a big
    centre's 100,000 candidates take half the memory so."""
    rows = []
    for row in _rows(_set(name), records):
        for column, value in row.items():
            if isinstance(value, str) and len(value) < 64:
                row[column] = shared.setdefault(value, value)
        rows.append(row)
    return rows


def upsert_rows(
    session: Session,
    name: str,
    rows: Iterable[Row],
    now: datetime,
    *,
    courses: Collection[str] | None = None,
) -> SetCounts:
    """:func:`upsert_set` of rows already built (:func:`record_rows`)."""
    spec = _set(name)
    now = tables.aware(now)
    incoming = _incoming(spec, rows)
    if courses is None:
        stored = _stored(session, spec)
    else:
        if spec.name != "candidates":
            raise ValueError(f"only candidates are upserted course by course, not {spec.name}")
        stored = _stored_of_courses(session, spec, set(courses), incoming)
    plan = _plan(spec, incoming, stored)
    _write(session, spec, plan, now)
    total = len(incoming) if courses is None else present_count(session, name)
    return SetCounts(plan.added, plan.changed, len(plan.removals), total)


def present_count(session: Session, name: str, *, courses: Collection[str] | None = None) -> int:
    """How many rows of set ``name`` are present (not removed); ``courses``: of these CourseUUIDs
    only."""
    table = _set(name).table
    stmt = select(func.count()).select_from(table).where(table.c.removed_at.is_(None))
    if courses is not None:
        stmt = stmt.where(table.c.course_uuid.in_(sorted(courses)))
    return int(session.execute(stmt).scalar_one())


def candidate_courses(session: Session) -> set[str]:
    """The CourseUUIDs of the present candidates."""
    t = tables.candidates
    return set(session.scalars(select(t.c.course_uuid).where(t.c.removed_at.is_(None)).distinct()))


def _incoming(spec: _Set, given: Iterable[Row]) -> dict[Key, Row]:
    rows: dict[Key, Row] = {}
    count = 0
    for row in given:
        rows[tuple(row[k] for k in spec.keys)] = row
        count += 1
    if count != len(rows):
        logger.warning(
            "LA listed %d %s more than once; kept the last of each", count - len(rows), spec.name
        )
    return rows


def _rows(spec: _Set, records: Iterable[LAModel]) -> Iterator[Row]:
    parent = Framework if spec.name == "units" else spec.model
    for record in records:
        if not isinstance(record, parent):
            raise TypeError(
                f"{spec.name} are upserted from {parent.__name__} records, "
                f"not {type(record).__name__}"
            )
        if isinstance(record, Framework) and spec.name == "units":
            for unit in record.units:
                yield {"course_uuid": record.course_uuid, **_row(spec, unit)}
        else:
            yield _row(spec, record)


def _row(spec: _Set, record: LAModel) -> Row:
    row = {c: getattr(record, c) for c in spec.from_record}
    row["extras"] = _dump(record.extras)
    return row


def _stored(
    session: Session, spec: _Set, where: ColumnElement[bool] | None = None
) -> dict[Key, Row]:
    table = spec.table
    columns = [table.c[c] for c in (*spec.keys, *spec.compared, "removed_at")]
    stmt = select(*columns)
    result = session.execute(stmt if where is None else stmt.where(where))
    return {tuple(m[k] for k in spec.keys): dict(m) for m in result.mappings()}


def _stored_of_courses(
    session: Session, spec: _Set, courses: set[str], incoming: Mapping[Key, Row]
) -> dict[Key, Row]:
    """The stored candidates of ``courses``, and those of other courses listed in ``incoming``
    (two columns of every row are read to find them; whole rows only of those)."""
    t = spec.table
    stored = _stored(session, spec, t.c.course_uuid.in_(sorted(courses))) if courses else {}
    key = t.c.candidate_uuid
    elsewhere = [
        uuid
        for uuid, course in session.execute(select(key, t.c.course_uuid))
        if course not in courses and (uuid,) in incoming
    ]
    for start in range(0, len(elsewhere), _CHUNK):
        stored.update(_stored(session, spec, key.in_(elsewhere[start : start + _CHUNK])))
    return stored


def _plan(spec: _Set, incoming: Mapping[Key, Row], stored: Mapping[Key, Row]) -> _Plan:
    plan = _Plan()
    for key, row in incoming.items():
        old = stored.get(key)
        if old is None:
            plan.inserts.append(row)
            plan.added += 1
        elif old["removed_at"] is not None:
            # Back in LA after being removed: counted as added, as the user sees it reappear.
            plan.updates.append(row)
            plan.added += 1
        elif any(old[c] != row[c] for c in spec.compared):
            plan.updates.append(row)
            plan.changed += 1
    plan.removals = [
        k for k, old in stored.items() if k not in incoming and old["removed_at"] is None
    ]
    return plan


def _write(session: Session, spec: _Set, plan: _Plan, now: datetime) -> None:
    # Each statement runs only when it has rows, so an unchanged set writes nothing.
    # In chunks: the parameters of 100,000 rows at once cost hundreds of MB (a big centre's
    # first sync), a chunk's a few.
    stamps = {"first_seen_at": now, "updated_at": now, "removed_at": None}
    for chunk in _chunks(plan.inserts):
        session.execute(insert(spec.table), [{**r, **stamps} for r in chunk])
    if plan.updates:
        stmt = _update_by_key(spec, (*spec.compared, "updated_at", "removed_at"))
        values = {"updated_at": now, "removed_at": None}
        for chunk in _chunks(plan.updates):
            session.execute(stmt, [_params(spec, r, {**r, **values}) for r in chunk])
    if plan.removals:
        stmt = _update_by_key(spec, ("updated_at", "removed_at"))
        values = {"updated_at": now, "removed_at": now}
        keyed = [dict(zip(spec.keys, k, strict=True)) for k in plan.removals]
        session.execute(stmt, [_params(spec, k, values) for k in keyed])


#: Rows per bulk statement.
_WRITE_CHUNK = 5_000


def _chunks(rows: list[Row]) -> Iterator[list[Row]]:
    for start in range(0, len(rows), _WRITE_CHUNK):
        yield rows[start : start + _WRITE_CHUNK]


def _update_by_key(spec: _Set, columns: Sequence[str]) -> Update:
    # Key and value parameters get prefixes: SQLAlchemy reserves a column's own name for the
    # parameter of its SET clause.
    table = spec.table
    where = [table.c[k] == bindparam(f"k_{k}") for k in spec.keys]
    return update(table).where(*where).values({c: bindparam(f"v_{c}") for c in columns})


def _params(spec: _Set, key_row: Mapping[str, Any], values: Mapping[str, Any]) -> Row:
    params = {f"k_{k}": key_row[k] for k in spec.keys}
    params.update(
        {f"v_{c}": values[c] for c in (*spec.compared, "updated_at", "removed_at") if c in values}
    )
    return params


def _dump(extras: Mapping[str, Any]) -> str:
    # Sorted and compact, so equal extras always give equal text and compare as unchanged.
    return json.dumps(
        extras, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


# ---------------------------------------------------------------------------------------------
# Reads


def list_set(session: Session, name: str, include_removed: bool = False) -> list[LAModel]:
    """The records of set ``name``, ordered by natural key, extras restored.

    Frameworks come with their units (present ones, or all with ``include_removed``); the "units"
    set gives bare :class:`Unit` records, which do not say their course.
    """
    spec = _set(name)
    records = [_model(spec, row) for row in _select(session, spec, include_removed)]
    if spec.name == "frameworks":
        _attach_units(session, records, include_removed)
    return records


def _select(session: Session, spec: _Set, include_removed: bool) -> list[Row]:
    table = spec.table
    stmt = select(table).order_by(*(table.c[k] for k in spec.keys))
    if not include_removed:
        stmt = stmt.where(table.c.removed_at.is_(None))
    return [dict(m) for m in session.execute(stmt).mappings()]


def _model(spec: _Set, row: Mapping[str, Any]) -> LAModel:
    values = {c: row[c] for c in spec.from_record}
    return spec.model.model_validate({**values, "extras": json.loads(row["extras"])})


def _attach_units(session: Session, frameworks: list[LAModel], include_removed: bool) -> None:
    spec = _SETS["units"]
    by_course: dict[str, list[Unit]] = defaultdict(list)
    for row in _select(session, spec, include_removed):
        by_course[row["course_uuid"]].append(cast(Unit, _model(spec, row)))
    for framework in frameworks:
        if isinstance(framework, Framework):
            framework.units = by_course.get(framework.course_uuid, [])
