"""The sandbox's own database: LA's side of the world (courses, trainers, learners, sessions).

Its tables have their own metadata, separate from labridge's store: the sandbox plays LA, and LA's
database is not ours. SQLite only, a file or ``:memory:``; one :class:`SandboxDB` is shared by
uvicorn's threads, each public method one short transaction on a pooled connection. Reads run
side by side: a file database is in WAL mode (readers take no lock; writers take turns), an
in-memory one is a named shared-cache database whose readers share a lock that only a writer
takes alone (shared-cache SQLite refuses, rather than waits, when a reader meets a writer). The
statements every call runs (GetProgress's reads, a session's check and renewal, the call count)
are built once and run on SQLAlchemy Core; the rest use the ORM.

The database stores; it does not judge. LA's business rules (which trainer may assess, which units
a course adds when omitted, what an empty string clears) belong to the sandbox's services. The only
rules here are structural: units belong to courses, a learner's units and welcome e-mails belong
to a learner (foreign keys, enforced).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import (
    ForeignKey,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.elements import ColumnElement

from labridge import models as m

from . import seed as data
from .clock import utc_now

#: Connections kept per database: one for each of the threads a sandbox answers on (anyio's
#: default limit of 40).
POOL_SIZE = 40

#: LA's welcome e-mail link lives 24 hours (docs/contract.md §3.5).
WELCOME_EMAIL_LIFETIME = timedelta(hours=24)

ACTIVE = "Active"
COMPLETED = "Completed"
WITHDRAWN = "Withdrawn"
BREAK_IN_LEARNING = "BreakInLearning"


# ---------------------------------------------------------------------------------------------
# Tables


class Base(DeclarativeBase):
    """The sandbox's metadata (not labridge's store)."""


class UserRow(Base):
    """A web-service user, the ``szUsername`` of Authenticate."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(primary_key=True)
    #: ``<salt hex>$<scrypt hex>``; never the password.
    password_hash: Mapped[str]


class CourseRow(Base):
    __tablename__ = "courses"
    course_uuid: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    qan: Mapped[str] = mapped_column(default="")
    level: Mapped[str] = mapped_column(default="")
    active: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[str] = mapped_column(default="standard")  # "standard" | "qualification"


class UnitRow(Base):
    __tablename__ = "units"
    unit_uuid: Mapped[str] = mapped_column(primary_key=True)
    course_uuid: Mapped[str] = mapped_column(ForeignKey("courses.course_uuid"), index=True)
    name: Mapped[str]
    reference: Mapped[str] = mapped_column(default="")
    mandatory: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)


class OutcomeRow(Base):
    __tablename__ = "outcomes"
    outcome_uuid: Mapped[str] = mapped_column(primary_key=True)
    unit_uuid: Mapped[str] = mapped_column(ForeignKey("units.unit_uuid"), index=True)
    reference: Mapped[str] = mapped_column(default="")
    description: Mapped[str] = mapped_column(default="")
    position: Mapped[int] = mapped_column(default=0)


class TrainerRow(Base):
    __tablename__ = "trainers"
    trainer_uuid: Mapped[str] = mapped_column(primary_key=True)
    forename: Mapped[str] = mapped_column(default="")
    surname: Mapped[str] = mapped_column(default="")
    email: Mapped[str] = mapped_column(default="")
    is_assessor: Mapped[bool] = mapped_column(default=False)
    is_verifier: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class CompanyRow(Base):
    __tablename__ = "companies"
    company_uuid: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    contact_email: Mapped[str] = mapped_column(default="")
    postcode: Mapped[str] = mapped_column(default="")


class NationalityRow(Base):
    __tablename__ = "nationalities"
    nationality_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    #: The GOV.UK list's own order ("1" < "10" as text would not keep it).
    position: Mapped[int] = mapped_column(default=0)


class EthnicityRow(Base):
    __tablename__ = "ethnicities"
    ethnicity_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    ilr_code: Mapped[str] = mapped_column(default="")
    position: Mapped[int] = mapped_column(default=0)


class CandidateRow(Base):
    """A learner as LA holds it. Company, course and trainers are plain ids, not foreign keys:
    UpdateEnrolment may blank a member (docs/contract.md §3.6), and refusing that is the service's
    call."""

    __tablename__ = "candidates"
    candidate_uuid: Mapped[str] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(default="", index=True)
    forename: Mapped[str] = mapped_column(default="")
    surname: Mapped[str] = mapped_column(default="")
    birth_date: Mapped[str] = mapped_column(default="")
    gender: Mapped[str] = mapped_column(default="")
    email: Mapped[str] = mapped_column(default="")
    uln: Mapped[str] = mapped_column(default="")
    ni_number: Mapped[str] = mapped_column(default="")
    phone: Mapped[str] = mapped_column(default="")
    mobile: Mapped[str] = mapped_column(default="")
    line1: Mapped[str] = mapped_column(default="")
    line2: Mapped[str] = mapped_column(default="")
    line3: Mapped[str] = mapped_column(default="")
    line4: Mapped[str] = mapped_column(default="")
    town: Mapped[str] = mapped_column(default="")
    county: Mapped[str] = mapped_column(default="")
    postcode: Mapped[str] = mapped_column(default="")
    nationality_id: Mapped[str] = mapped_column(default="")
    ethnicity_id: Mapped[str] = mapped_column(default="")
    employment_status: Mapped[str] = mapped_column(default="")
    company_uuid: Mapped[str] = mapped_column(default="")
    course_uuid: Mapped[str] = mapped_column(default="", index=True)
    course_qan: Mapped[str] = mapped_column(default="", index=True)
    start_date: Mapped[str] = mapped_column(default="")
    end_date: Mapped[str] = mapped_column(default="")  # planned (AnticipatedEndDate)
    status: Mapped[str] = mapped_column(default=ACTIVE)
    assessor_uuid: Mapped[str] = mapped_column(default="")
    verifier_uuid: Mapped[str] = mapped_column(default="")
    job_title: Mapped[str] = mapped_column(default="")
    department: Mapped[str] = mapped_column(default="")
    employee_reference: Mapped[str] = mapped_column(default="")
    line_manager: Mapped[str] = mapped_column(default="")
    line_manager_email: Mapped[str] = mapped_column(default="")
    line_manager_phone: Mapped[str] = mapped_column(default="")
    awarding_body_registration_no: Mapped[str] = mapped_column(default="")
    is_test: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[str] = mapped_column(default="")


class CandidateUnitRow(Base):
    __tablename__ = "candidate_units"
    candidate_uuid: Mapped[str] = mapped_column(
        ForeignKey("candidates.candidate_uuid"), primary_key=True
    )
    unit_uuid: Mapped[str] = mapped_column(ForeignKey("units.unit_uuid"), primary_key=True)


class WelcomeEmailRow(Base):
    __tablename__ = "welcome_emails"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    candidate_uuid: Mapped[str] = mapped_column(ForeignKey("candidates.candidate_uuid"))
    email: Mapped[str]
    sent_at: Mapped[str]  # ISO 8601 date-time, as given
    expires_at: Mapped[str]


class SessionRow(Base):
    __tablename__ = "sessions"
    token_id: Mapped[str] = mapped_column(primary_key=True)
    token_uuid: Mapped[str]
    username: Mapped[str]
    #: ISO 8601, kept as given (SQLite would drop a datetime's time zone).
    expires_at: Mapped[str]


class CallCountRow(Base):
    __tablename__ = "call_counts"
    operation: Mapped[str] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


CANDIDATE_COLUMNS: frozenset[str] = frozenset(CandidateRow.__table__.columns.keys())


# ---------------------------------------------------------------------------------------------
# The statements of every call (GetProgress's reads, a session's check and renewal, the call
# count), compiled once and run on the pooled DB-API connection: building and running a
# statement through SQLAlchemy costs more than SQLite's running it.

_units, _outcomes, _sessions = UnitRow.__table__.c, OutcomeRow.__table__.c, SessionRow.__table__.c
_CANDIDATE = select(CandidateRow.__table__).where(CandidateRow.candidate_uuid == bindparam("uuid"))
_HELD_UNITS = (
    select(_units.unit_uuid, _units.name, _units.reference, _units.mandatory,
           _outcomes.outcome_uuid, _outcomes.reference, _outcomes.description)
    .join(CandidateUnitRow, CandidateUnitRow.unit_uuid == _units.unit_uuid)
    .outerjoin(OutcomeRow, _outcomes.unit_uuid == _units.unit_uuid)
    .where(CandidateUnitRow.candidate_uuid == bindparam("uuid"))
    .order_by(_units.position, _units.unit_uuid, _outcomes.position)
)  # fmt: skip
_SESSION = select(_sessions.token_uuid, _sessions.username, _sessions.expires_at).where(
    _sessions.token_id == bindparam("token_id")
)
_TOUCH_SESSION = (
    update(SessionRow)
    .where(_sessions.token_id == bindparam("b_token_id"))
    .values(expires_at=bindparam("b_expires_at"))
)
_COUNT_CALL = (
    sqlite_insert(CallCountRow)
    .values(operation=bindparam("b_operation"), count=1)
    .on_conflict_do_update(
        index_elements=[CallCountRow.operation], set_={"count": CallCountRow.count + 1}
    )
)
_CANDIDATE_NAMES = tuple(CandidateRow.__table__.columns.keys())


class _Prepared:
    """A statement compiled once for SQLite: its SQL and how to order its parameters."""

    def __init__(self, statement: Any) -> None:
        self._compiled = statement.compile(dialect=sqlite_dialect())
        self.sql = str(self._compiled)
        self._names = tuple(self._compiled.positiontup or ())

    def params(self, **given: Any) -> tuple[Any, ...]:
        values = self._compiled.construct_params(given)
        return tuple(values[name] for name in self._names)


_RUN_CANDIDATE, _RUN_HELD_UNITS, _RUN_SESSION, _RUN_TOUCH_SESSION, _RUN_COUNT_CALL = (
    _Prepared(s) for s in (_CANDIDATE, _HELD_UNITS, _SESSION, _TOUCH_SESSION, _COUNT_CALL)
)


# ---------------------------------------------------------------------------------------------
# Small records the readers return where labridge.models has no type


class StoredSession(NamedTuple):
    token_uuid: str
    username: str
    expires_at: datetime


@dataclass(frozen=True)
class Outcome:
    outcome_uuid: str
    reference: str
    description: str


class EnrolledUnit(NamedTuple):
    unit: m.Unit
    outcomes: list[Outcome]


@dataclass(frozen=True)
class WelcomeEmail:
    candidate_uuid: str
    email: str
    sent_at: datetime
    expires_at: datetime


class Stats(TypedDict):
    candidates: int
    #: Extra rows: a (source_id, course_uuid) pair held by 3 candidates counts 2.
    duplicate_source_ids: int
    #: Pairs held by more than one candidate: the same example counts 1.
    duplicate_pairs: int
    calls: dict[str, int]
    welcome_emails: int


# ---------------------------------------------------------------------------------------------
# Passwords: scrypt with a per-user random salt; only salt and digest are stored.


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{salt.hex()}${_scrypt(password, salt).hex()}"


def verify_password(password: str, stored: str) -> bool:
    salt_hex, _, digest_hex = stored.partition("$")
    try:
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt), expected)


@cache
def _dummy_hash() -> str:
    # Checked against when the user is unknown, so that an unknown user costs the same time
    # as a wrong password and response times do not reveal which usernames exist.
    return hash_password(secrets.token_hex(16))


# ---------------------------------------------------------------------------------------------
# Helpers


def normalise_qan(qan: str) -> str:
    """``"603/4771/9"``, ``"6034771 9"`` and ``"603/4771/x"``-style spellings compare equal."""
    return re.sub(r"[\s/]+", "", qan).upper()


def _on_qan(session: Session, given: str, wanted: str) -> ColumnElement[bool]:
    """The candidates on the course(s) whose QAN is ``wanted`` once normalised, or holding the
    QAN as ``given`` or as such a course spells it (the caller filters the rows again)."""
    courses = session.execute(select(CourseRow.course_uuid, CourseRow.qan)).all()
    matched = [(uuid, qan) for uuid, qan in courses if normalise_qan(qan) == wanted]
    spellings = sorted({given, *(qan for _, qan in matched)})
    return or_(
        CandidateRow.course_uuid.in_([uuid for uuid, _ in matched]),
        CandidateRow.course_qan.in_(spellings),
    )


def listed_statuses(active: bool, completed: bool) -> tuple[str, ...]:
    """Statuses GetCandidates lists (docs/contract.md §3.3): ``blnActive`` true → those in learning,
    Active and BreakInLearning (a learner on a break is still on programme); false → those not
    in learning, Withdrawn; ``blnCompleted`` adds Completed either way."""
    statuses = [ACTIVE, BREAK_IN_LEARNING] if active else [WITHDRAWN]
    if completed:
        statuses.append(COMPLETED)
    return tuple(statuses)


def _make_engine(url: str) -> tuple[Engine, bool]:
    """The engine, and whether the database lives in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(f"the sandbox database is SQLite only, not {parsed.get_backend_name()}")
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        # A named shared-cache database: every pooled connection (one per thread at a time)
        # sees the same tables, and it lives while one is open (SandboxDB keeps one).
        name = f"file:labridge-sandbox-{uuid.uuid4().hex}?mode=memory&cache=shared"
        engine = create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(name, uri=True, check_same_thread=False),
            poolclass=QueuePool,
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
        )
    else:
        engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_SIZE)
    event.listen(engine, "connect", _configure if in_memory else _configure_file)
    return engine, in_memory


def _configure(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _configure_file(dbapi_connection: Any, record: Any) -> None:
    # WAL: readers run beside the one writer; NORMAL is durable across a crash of the sandbox.
    _configure(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _ReadWriteLock:
    """Any number of readers, or one writer. Shared-cache SQLite refuses (``SQLITE_LOCKED``)
    rather than waits when a reader meets a writer's table lock, so the in-memory database
    keeps them apart here; readers never wait for each other."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._readers:
                self._cond.wait()
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def _count(session: Session, row: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(row)) or 0


# ---------------------------------------------------------------------------------------------
# Row → model


def _unit(row: UnitRow) -> m.Unit:
    return m.Unit(
        unit_uuid=row.unit_uuid, name=row.name, reference=row.reference, mandatory=row.mandatory
    )


def _framework(row: CourseRow, units: list[UnitRow]) -> m.Framework:
    return m.Framework(
        course_uuid=row.course_uuid,
        name=row.name,
        qan=row.qan,
        level=row.level,
        active=row.active,
        units=[_unit(u) for u in units],
    )


def _trainer(row: TrainerRow) -> m.Trainer:
    return m.Trainer(
        trainer_uuid=row.trainer_uuid,
        forename=row.forename,
        surname=row.surname,
        email=row.email,
        is_assessor=row.is_assessor,
        is_verifier=row.is_verifier,
    )


def _company(row: CompanyRow) -> m.Company:
    return m.Company(
        company_uuid=row.company_uuid,
        name=row.name,
        contact_email=row.contact_email,
        postcode=row.postcode,
    )


def _candidate(row: Any, course_qan: str | None) -> m.Candidate:
    # ``row``: a CandidateRow, or a Core row of its table (the same names).
    return m.Candidate(
        candidate_uuid=row.candidate_uuid,
        source_id=row.source_id,
        forename=row.forename,
        surname=row.surname,
        email=row.email,
        uln=row.uln,
        company_uuid=row.company_uuid,
        course_uuid=row.course_uuid,
        course_qan=row.course_qan or course_qan or "",
        start_date=row.start_date,
        end_date=row.end_date,
        status=row.status,
    )


# ---------------------------------------------------------------------------------------------
# Seed data → rows


def _course_rows(courses: Iterable[data.CourseSeed] = data.COURSES) -> Iterator[Base]:
    for course in courses:
        cid = data.course_uuid(course.key)
        yield CourseRow(
            course_uuid=cid, name=course.name, qan=course.qan, level=course.level,
            active=course.active, kind=course.kind,
        )  # fmt: skip
        for upos, unit in enumerate(course.units, start=1):
            uid = data.unit_uuid(course.key, unit.reference)
            yield UnitRow(
                unit_uuid=uid, course_uuid=cid, name=unit.name, reference=unit.reference,
                mandatory=unit.mandatory, position=upos,
            )  # fmt: skip
            for opos, text in enumerate(unit.outcomes, start=1):
                yield OutcomeRow(
                    outcome_uuid=data.outcome_uuid(course.key, unit.reference, opos),
                    unit_uuid=uid, reference=data.outcome_reference(upos, opos),
                    description=text, position=opos,
                )  # fmt: skip


def _reference_rows() -> Iterator[Base]:
    for t in data.TRAINERS:
        yield TrainerRow(
            trainer_uuid=t.uuid, forename=t.forename, surname=t.surname, email=t.email,
            is_assessor=t.is_assessor, is_verifier=t.is_verifier, active=t.active,
        )  # fmt: skip
    for c in data.COMPANIES:
        yield CompanyRow(
            company_uuid=c.uuid, name=c.name, contact_email=c.contact_email, postcode=c.postcode
        )
    for pos, (nid, name) in enumerate(data.nationality_records()):
        yield NationalityRow(nationality_id=nid, name=name, position=pos)
    for pos, (eid, name, code) in enumerate(data.ethnicity_records()):
        yield EthnicityRow(ethnicity_id=eid, name=name, ilr_code=code, position=pos)


def _candidate_rows() -> Iterator[Base]:
    for seed in data.CANDIDATES:
        yield CandidateRow(**data.candidate_record(seed))
    for seed in data.CANDIDATES:
        for unit_uuid in data.candidate_units(seed):
            yield CandidateUnitRow(candidate_uuid=seed.uuid, unit_uuid=unit_uuid)


def _insert_seed(session: Session, generated: data.Generated | None = None) -> None:
    # Without relationship()s the unit of work does not order INSERTs by foreign key, so flush
    # table by table in dependency order: parents exist before children under enforced FKs.
    _add_in_order(session, [*_course_rows(), *_reference_rows(), *_candidate_rows()])
    if generated is not None and generated.candidates > 0:
        _insert_generated(session, generated)


def _insert_generated(session: Session, generated: data.Generated) -> None:
    """A big centre's courses and learners, in bulk (tens of thousands of rows: no ORM objects).
    Every course of such a centre has a QAN: a seeded standard without one takes its ST code, so
    that GetCandidates can list each course on its own."""
    keys = {data.course_uuid(c.key): c.key for c in data.COURSES}
    for held in session.scalars(select(CourseRow).where(CourseRow.qan == "")):
        held.qan = keys.get(held.course_uuid, held.course_uuid)
    session.flush()
    courses = data.generated_courses(max(1, generated.courses))
    _add_in_order(session, list(_course_rows(courses)))
    learners: list[dict[str, Any]] = []
    enrolled: list[dict[str, Any]] = []
    for row, course in data.generated_candidates(generated.candidates, courses):
        learners.append(row)
        enrolled += [
            {"candidate_uuid": row["candidate_uuid"], "unit_uuid": unit}
            for unit in (data.unit_uuid(course.key, u.reference) for u in course.units)
        ]
        if len(learners) >= _BULK:
            _bulk(session, learners, enrolled)
    _bulk(session, learners, enrolled)


def _add_in_order(session: Session, rows: list[Base]) -> None:
    for table in Base.metadata.sorted_tables:
        session.add_all([row for row in rows if row.__table__ is table])
        session.flush()


#: Rows per bulk INSERT of generated learners.
_BULK = 5_000


def _bulk(session: Session, learners: list[dict[str, Any]], enrolled: list[dict[str, Any]]) -> None:
    if learners:
        session.execute(insert(CandidateRow), learners)
        session.execute(insert(CandidateUnitRow), enrolled)
    learners.clear()
    enrolled.clear()


# ---------------------------------------------------------------------------------------------
# The database


class SandboxDB:
    """LA's database as the sandbox sees it. ``url`` is a SQLAlchemy SQLite URL: ``sqlite://``
    (the default) is a private in-memory database, ``sqlite:///path/to/file.db`` a file."""

    def __init__(self, url: str = "sqlite://") -> None:
        self.engine, in_memory = _make_engine(url)
        # Keeps a shared-cache in-memory database alive between calls (it goes with its last
        # connection); a file database needs nothing kept.
        self._keeper = self.engine.raw_connection() if in_memory else None
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_lock: Callable[[], AbstractContextManager[Any]]
        self._write_lock: Callable[[], AbstractContextManager[Any]]
        if in_memory:
            lock = _ReadWriteLock()
            self._read_lock, self._write_lock = lock.shared, lock.exclusive
        else:
            # WAL: readers take no lock at all; writers take turns, as SQLite allows one.
            writer = threading.Lock()
            self._read_lock, self._write_lock = nullcontext, lambda: writer

    @contextmanager
    def _dbapi(self) -> Iterator[Any]:
        """A pooled DB-API (sqlite3) connection; back to the pool, rolled back, afterwards."""
        conn = self.engine.raw_connection()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._read_lock(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with self._write_lock(), self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None
        self.engine.dispose()

    # -- seeding and users ------------------------------------------------------------------

    def seed(self, username: str, password: str, generated: data.Generated | None = None) -> None:
        """Load the seed data once (a database that has courses is left alone), with the
        ``generated`` big centre if asked, then make sure the web-service user ``username``
        exists with ``password``."""
        with self._writing() as session:
            if _count(session, CourseRow) == 0:
                _insert_seed(session, generated)
        self.set_user(username, password)

    def set_user(self, username: str, password: str) -> None:
        """Create the user, or give an existing one this password."""
        row = UserRow(username=username, password_hash=hash_password(password))  # slow: unlocked
        with self._writing() as session:
            session.merge(row)

    def check_password(self, username: str, password: str) -> bool:
        with self._reading() as session:
            row = session.get(UserRow, username)
            stored = row.password_hash if row is not None else None
        ok = verify_password(password, stored or _dummy_hash())
        return ok and stored is not None

    # -- reference data ---------------------------------------------------------------------

    def frameworks(self) -> list[m.Framework]:
        """Every course, active or not (LA flags them with ``Active``), ordered by name, each
        with its units in the course's order."""
        with self._reading() as session:
            courses = session.scalars(select(CourseRow).order_by(CourseRow.name)).all()
            units = session.scalars(select(UnitRow).order_by(UnitRow.position)).all()
        by_course: dict[str, list[UnitRow]] = {}
        for unit in units:
            by_course.setdefault(unit.course_uuid, []).append(unit)
        return [_framework(c, by_course.get(c.course_uuid, [])) for c in courses]

    def find_course(self, course_uuid: str = "", course_qan: str = "") -> m.Framework | None:
        """The course with this UUID, else the first (by name) with this QAN in any spelling
        :func:`normalise_qan` accepts; active or not."""
        courses = self.frameworks()
        if course_uuid:
            return next((c for c in courses if c.course_uuid == course_uuid), None)
        wanted = normalise_qan(course_qan)
        return next((c for c in courses if wanted and normalise_qan(c.qan) == wanted), None)

    def outcomes(self, unit_uuid: str) -> list[Outcome]:
        """A unit's outcomes in order (GetProgress reads them with :meth:`learner`; this is for
        whoever inspects LA's data, tests among them)."""
        with self._reading() as session:
            rows = session.scalars(
                select(OutcomeRow)
                .where(OutcomeRow.unit_uuid == unit_uuid)
                .order_by(OutcomeRow.position)
            ).all()
        return [Outcome(r.outcome_uuid, r.reference, r.description) for r in rows]

    def trainers(self, include_inactive: bool = False) -> list[m.Trainer]:
        """GetTrainers' list: LA lists active users only, so a trainer who left is not offered,
        though :meth:`trainer` still knows them (an enrolment naming them is refused, not
        reported as unknown)."""
        stmt = select(TrainerRow).order_by(TrainerRow.surname, TrainerRow.forename)
        if not include_inactive:
            stmt = stmt.where(TrainerRow.active.is_(True))
        with self._reading() as session:
            return [_trainer(r) for r in session.scalars(stmt)]

    def trainer(self, trainer_uuid: str) -> m.Trainer | None:
        """A trainer by UUID, active or not (see :meth:`trainer_is_active`)."""
        with self._reading() as session:
            row = session.get(TrainerRow, trainer_uuid)
            return _trainer(row) if row is not None else None

    def trainer_is_active(self, trainer_uuid: str) -> bool:
        with self._reading() as session:
            row = session.get(TrainerRow, trainer_uuid)
            return row is not None and row.active

    def nationalities(self) -> list[m.Nationality]:
        with self._reading() as session:
            rows = session.scalars(select(NationalityRow).order_by(NationalityRow.position))
            return [m.Nationality(nationality_id=r.nationality_id, name=r.name) for r in rows]

    def ethnicities(self) -> list[m.Ethnicity]:
        with self._reading() as session:
            rows = session.scalars(select(EthnicityRow).order_by(EthnicityRow.position))
            return [m.Ethnicity(ethnicity_id=r.ethnicity_id, name=r.name) for r in rows]

    def ethnicity_ilr_codes(self) -> dict[str, str]:
        """EthnicityID → ILR ethnicity code, as stored."""
        with self._reading() as session:
            rows = session.execute(select(EthnicityRow.ethnicity_id, EthnicityRow.ilr_code))
            return dict(rows.all())

    def companies(self) -> list[m.Company]:
        with self._reading() as session:
            return [
                _company(r) for r in session.scalars(select(CompanyRow).order_by(CompanyRow.name))
            ]

    def company(self, company_uuid: str) -> m.Company | None:
        with self._reading() as session:
            row = session.get(CompanyRow, company_uuid)
            return _company(row) if row is not None else None

    # -- candidates -------------------------------------------------------------------------

    def candidates(
        self, course_qan: str = "", active: bool = True, completed: bool = False, test: bool = False
    ) -> list[m.Candidate]:
        """GetCandidates (docs/contract.md §3.3), ordered by surname, forename.

        - ``course_qan``: empty means every course; otherwise the learner's course QAN must
          equal it after :func:`normalise_qan` (slashes, spaces and case do not matter).
        - ``active`` true lists Active and BreakInLearning learners, false lists Withdrawn ones;
          ``completed`` adds Completed ones. No one call lists every status: a client unions
          ``active`` true and false, each with ``completed`` true.
        - ``test`` widens the list to learners flagged as test learners (they are left out
          otherwise); it selects no status of its own.
        """
        stmt = (
            select(CandidateRow, CourseRow.qan)
            .outerjoin(CourseRow, CourseRow.course_uuid == CandidateRow.course_uuid)
            .where(CandidateRow.status.in_(listed_statuses(active, completed)))
            .order_by(CandidateRow.surname, CandidateRow.forename, CandidateRow.candidate_uuid)
        )
        if not test:
            stmt = stmt.where(CandidateRow.is_test.is_(False))
        wanted = normalise_qan(course_qan)
        with self._reading() as session:
            if wanted:
                stmt = stmt.where(_on_qan(session, course_qan, wanted))
            rows = session.execute(stmt).all()
        return [
            _candidate(row, qan)
            for row, qan in rows
            if not wanted or wanted in {normalise_qan(row.course_qan), normalise_qan(qan or "")}
        ]

    def candidate(self, candidate_uuid: str) -> m.Candidate | None:
        with self._reading() as session:
            row = session.get(CandidateRow, candidate_uuid)
            return _candidate(row, None) if row is not None else None

    def candidate_fields(self, candidate_uuid: str) -> dict[str, str | bool] | None:
        """Every stored column of a learner (see :data:`CANDIDATE_COLUMNS`), or None."""
        with self._reading() as session:
            row = session.get(CandidateRow, candidate_uuid)
            if row is None:
                return None
            return {name: getattr(row, name) for name in sorted(CANDIDATE_COLUMNS)}

    def add_candidate(self, unit_uuids: Iterable[str] = (), /, **fields: str | bool) -> str:
        """Store a new learner and its units in one transaction; ``fields`` are
        :data:`CANDIDATE_COLUMNS`. Returns its UUID (``candidate_uuid`` if given, else a new
        uuid4). ``course_qan`` defaults to the course's QAN and ``created_at`` to now.
        ``unit_uuids`` (positional, so that ``**fields`` may be any dict) are stored exactly as
        given: adding a course's mandatory units is LA's rule, the caller's job. An unknown unit
        raises :class:`sqlalchemy.exc.IntegrityError` and stores nothing."""
        _check_columns(fields)
        values: dict[str, str | bool] = {"created_at": utc_now().isoformat(), **fields}
        cid = str(values.get("candidate_uuid") or uuid.uuid4())
        values["candidate_uuid"] = cid
        with self._writing() as session:
            if not values.get("course_qan"):
                course = session.get(CourseRow, str(values.get("course_uuid", "")))
                values["course_qan"] = course.qan if course is not None else ""
            session.add(CandidateRow(**values))
            session.flush()
            _add_units(session, cid, unit_uuids)
        return cid

    def update_candidate(self, candidate_uuid: str, changes: Mapping[str, str | bool]) -> bool:
        """Set the given columns of a learner; False when there is no such learner."""
        _check_columns(changes)
        if "candidate_uuid" in changes:
            raise TypeError("a candidate's UUID cannot change")
        with self._writing() as session:
            row = session.get(CandidateRow, candidate_uuid)
            if row is None:
                return False
            for name, value in changes.items():
                setattr(row, name, value)
            return True

    def enrolled_units(self, candidate_uuid: str) -> list[m.Unit]:
        """The learner's units, in the course's order (public for whoever inspects what LA
        holds of a learner, the tests of every workflow among them)."""
        stmt = (
            select(UnitRow)
            .join(CandidateUnitRow, CandidateUnitRow.unit_uuid == UnitRow.unit_uuid)
            .where(CandidateUnitRow.candidate_uuid == candidate_uuid)
            .order_by(UnitRow.position)
        )
        with self._reading() as session:
            return [_unit(r) for r in session.scalars(stmt)]

    def learner(self, candidate_uuid: str) -> tuple[m.Candidate, list[EnrolledUnit]] | None:
        """A learner and its units in the course's order, each with its outcomes in order, read
        with two queries (GetProgress's whole read); None if there is none."""
        with self._read_lock(), self._dbapi() as conn:
            cand = conn.execute(_RUN_CANDIDATE.sql, _RUN_CANDIDATE.params(uuid=candidate_uuid))
            found = cand.fetchone()
            if found is None:
                return None
            units = conn.execute(_RUN_HELD_UNITS.sql, _RUN_HELD_UNITS.params(uuid=candidate_uuid))
            rows = units.fetchall()
        held: dict[str, EnrolledUnit] = {}
        for uid, name, reference, mandatory, oid, oref, odescription in rows:
            if uid not in held:
                unit = m.Unit(
                    unit_uuid=uid, name=name, reference=reference, mandatory=bool(mandatory)
                )
                held[uid] = EnrolledUnit(unit, [])
            if oid is not None:
                held[uid].outcomes.append(Outcome(oid, oref, odescription))
        candidate = SimpleNamespace(**dict(zip(_CANDIDATE_NAMES, found, strict=True)))
        return _candidate(candidate, None), list(held.values())

    def add_candidate_units(self, candidate_uuid: str, unit_uuids: Iterable[str]) -> None:
        """Enrol the learner on more units; units already held are skipped."""
        with self._writing() as session:
            _add_units(session, candidate_uuid, unit_uuids)

    # -- welcome e-mails --------------------------------------------------------------------

    def record_welcome_email(self, candidate_uuid: str, email: str, sent_at: datetime) -> int:
        """Record a welcome e-mail; its link expires 24 hours after ``sent_at``."""
        row = WelcomeEmailRow(
            candidate_uuid=candidate_uuid,
            email=email,
            sent_at=sent_at.isoformat(),
            expires_at=(sent_at + WELCOME_EMAIL_LIFETIME).isoformat(),
        )
        with self._writing() as session:
            session.add(row)
            session.flush()
            return row.id

    def welcome_emails(self, candidate_uuid: str = "") -> list[WelcomeEmail]:
        stmt = select(WelcomeEmailRow).order_by(WelcomeEmailRow.id)
        if candidate_uuid:
            stmt = stmt.where(WelcomeEmailRow.candidate_uuid == candidate_uuid)
        with self._reading() as session:
            return [
                WelcomeEmail(
                    r.candidate_uuid,
                    r.email,
                    datetime.fromisoformat(r.sent_at),
                    datetime.fromisoformat(r.expires_at),
                )
                for r in session.scalars(stmt)
            ]

    # -- sessions ---------------------------------------------------------------------------

    def save_session(
        self, token_id: str, token_uuid: str, username: str, expires_at: datetime
    ) -> None:
        row = SessionRow(
            token_id=token_id,
            token_uuid=token_uuid,
            username=username,
            expires_at=expires_at.isoformat(),
        )
        with self._writing() as session:
            session.merge(row)

    def get_session(self, token_id: str) -> StoredSession | None:
        with self._read_lock(), self._dbapi() as conn:
            row = conn.execute(_RUN_SESSION.sql, _RUN_SESSION.params(token_id=token_id)).fetchone()
        if row is None:
            return None
        return StoredSession(row[0], row[1], datetime.fromisoformat(row[2]))

    def touch_session(self, token_id: str, expires_at: datetime) -> bool:
        """Move a session's expiry (the 30-minute sliding window, docs/contract.md §2)."""
        values = _RUN_TOUCH_SESSION.params(b_token_id=token_id, b_expires_at=expires_at.isoformat())
        with self._write_lock(), self._dbapi() as conn:
            touched = bool(conn.execute(_RUN_TOUCH_SESSION.sql, values).rowcount > 0)
            conn.commit()
        return touched

    def delete_session(self, token_id: str) -> None:
        with self._writing() as session:
            session.execute(delete(SessionRow).where(SessionRow.token_id == token_id))

    # -- statistics -------------------------------------------------------------------------

    def count_call(self, operation: str) -> None:
        with self._write_lock(), self._dbapi() as conn:
            conn.execute(_RUN_COUNT_CALL.sql, _RUN_COUNT_CALL.params(b_operation=operation))
            conn.commit()

    def stats(self) -> Stats:
        """Figures for tests and the sandbox's status page. ``duplicate_source_ids`` counts the
        extra candidates created by enrolling one source learner on one course more than once
        (rows beyond the first of each (source_id, course_uuid) pair; empty source ids are not
        counted); ``duplicate_pairs`` counts the pairs themselves."""
        with self._reading() as session:
            extra, pairs = _duplicates(session)
            calls = session.execute(select(CallCountRow.operation, CallCountRow.count))
            return Stats(
                candidates=_count(session, CandidateRow),
                duplicate_source_ids=extra,
                duplicate_pairs=pairs,
                calls=dict(calls.all()),
                welcome_emails=_count(session, WelcomeEmailRow),
            )


def _check_columns(fields: Iterable[str]) -> None:
    unknown = set(fields) - CANDIDATE_COLUMNS
    if unknown:
        raise TypeError(f"candidates have no column {sorted(unknown)}")


def _add_units(session: Session, candidate_uuid: str, unit_uuids: Iterable[str]) -> None:
    held = set(
        session.scalars(
            select(CandidateUnitRow.unit_uuid).where(
                CandidateUnitRow.candidate_uuid == candidate_uuid
            )
        )
    )
    for unit_uuid in dict.fromkeys(unit_uuids):  # keeps order, drops repeats
        if unit_uuid not in held:
            session.add(CandidateUnitRow(candidate_uuid=candidate_uuid, unit_uuid=unit_uuid))


def _duplicates(session: Session) -> tuple[int, int]:
    groups = (
        select(func.count().label("n"))
        .where(CandidateRow.source_id != "")
        .group_by(CandidateRow.source_id, CandidateRow.course_uuid)
        .having(func.count() > 1)
        .subquery()
    )
    row = session.execute(select(func.coalesce(func.sum(groups.c.n - 1), 0), func.count())).one()
    return int(row[0]), int(row[1])
