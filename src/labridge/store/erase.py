"""Erasing a learner's personal data from every table that holds it (docs/data-protection.md).

A learner is named by the provider's own learner id (SourceSystemLearnerUUID, the journal's key)
or by an LA CandidateUUID the store knows, which is resolved to that learner's id. Their rows go
from the mirror of LA's candidates, the enrolment events, LA's duplicates and the progress tables;
their journal rows stay, so that exactly once still holds, but keyed by a hash and with every
personal field blanked (what was pushed, the origin, LA's messages). One anonymous audit row in
``erasures`` says when and what went; the hash is an HMAC-SHA-256 of the learner id keyed with a
random salt kept in the store's meta, so it matches only inside this store.

Enrol (:meth:`Forgotten.on`) reports a forgotten learner "forgotten: erased on <date>, not
re-enrolled" instead of sending them again, and sync leaves them out of the mirror.

Rows deleted from a table may linger in the database file's free pages: SQLite connections run
with ``secure_delete`` (store/engine.py) and :func:`vacuum` rewrites the file after an erasure;
on PostgreSQL it runs ``VACUUM`` on the erased tables (``VACUUM FULL`` rewrites them whole).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, delete, false, func, insert, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from . import tables
from .meta import get_meta, set_meta

log = logging.getLogger(__name__)

#: The store's meta key holding the salt of learner hashes (64 hex digits).
SALT_KEY = "erasure_salt"
#: A forgotten learner's journal rows are keyed by this prefix and their hash.
FORGOTTEN_PREFIX = "forgotten:"
#: The tables holding a learner's data, in the order reports list them.
TABLES = (
    "candidates",
    "enrolments",
    "enrolment_events",
    "la_duplicates",
    "progress_learners",
    "progress_history",
    "repeated_rows",
)
OUTCOMES = ("erased", "would_erase", "already_forgotten", "not_found")
REASONS = ("forget", "gone", "retention")

_BY_NAME: dict[str, Table] = {name: tables.metadata.tables[name] for name in TABLES}
#: Tables with both a learner id and a candidate id, searched to resolve a given id.
_KEYED = ("candidates", "enrolments", "enrolment_events", "la_duplicates", "progress_learners")


@dataclass(frozen=True)
class Learner:
    """A learner as the store knows them: their key (the learner id, or the CandidateUUID of
    an LA candidate that carries none) and every CandidateUUID held for them."""

    key: str
    candidate_uuids: frozenset[str]


@dataclass(frozen=True)
class Erasure:
    """What happened to one learner: shown by the id as given, never by name."""

    learner: str
    outcome: str
    tables: dict[str, int] = field(default_factory=dict)
    #: For ``already_forgotten``: when they were erased.
    forgotten_on: datetime | None = None

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "learner": self.learner,
            "outcome": self.outcome,
            "tables": dict(self.tables),
            "forgotten_on": self.forgotten_on.date().isoformat() if self.forgotten_on else None,
        }


@dataclass
class ErasureReport:
    dry_run: bool
    learners: list[Erasure] = field(default_factory=list)
    #: Whether the database was vacuumed afterwards (SQLite file rewritten, or PG VACUUM).
    vacuumed: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for e in self.learners if e.outcome == outcome)

    @property
    def totals(self) -> dict[str, int]:
        return {name: sum(e.tables.get(name, 0) for e in self.learners) for name in TABLES}

    def summary(self) -> str:
        """One line for a log or the cycle report: counts only, no learner ids."""
        done = self.count("would_erase" if self.dry_run else "erased")
        rows = ", ".join(f"{n} {name}" for name, n in self.totals.items() if n) or "no rows"
        verb = "would erase" if self.dry_run else "erased"
        return f"{done} learner{'s' if done != 1 else ''} {verb} ({rows})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "learners": [e.as_dict() for e in self.learners],
            "totals": self.totals,
            "counts": {o: self.count(o) for o in OUTCOMES},
            "vacuumed": self.vacuumed,
        }


# -- the salt and the forgotten ------------------------------------------------------------------


def salt(session: Session, *, create: bool) -> bytes | None:
    """The store's salt of learner hashes; made (random, 32 bytes) on first need."""
    value = get_meta(session, SALT_KEY)
    if value is None and create:
        value = secrets.token_hex(32)
        set_meta(session, SALT_KEY, value)
    return bytes.fromhex(value) if value else None


def learner_hash(key: bytes, learner_id: str) -> str:
    """HMAC-SHA-256 of the learner id under the store's salt: 64 hex digits."""
    return hmac.new(key, learner_id.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Forgotten:
    """The learners this store erased, by hash, each with the date of their first erasure."""

    key: bytes | None = None
    since: Mapping[str, datetime] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> Forgotten:
        key = salt(session, create=False)
        if key is None:
            return cls()
        t = tables.erasures
        since: dict[str, datetime] = {}
        for hashed, at in session.execute(select(t.c.learner_hash, t.c.erased_at).order_by(t.c.id)):
            since.setdefault(hashed, at)
        return cls(key, since)

    def on(self, learner_id: str) -> datetime | None:
        """When the learner with this id (or CandidateUUID, for one LA holds with no id) was
        erased, or ``None`` if never."""
        if self.key is None or not self.since or not learner_id:
            return None
        return self.since.get(learner_hash(self.key, learner_id))

    def keep(self, records: Iterable[Any]) -> list[Any]:
        """``records`` (LA's candidates) less those of forgotten learners."""
        return [r for r in records if self.on(r.source_id or r.candidate_uuid) is None]


def reason(erased_on: datetime) -> str:
    """What enrol says of a forgotten learner instead of enrolling them again."""
    return f"forgotten: erased on {erased_on.date().isoformat()}, not re-enrolled"


# -- who ------------------------------------------------------------------------------------------


def resolve(session: Session, given: str) -> Learner | None:
    """The learner ``given`` names: a learner id found in any table, else a CandidateUUID the
    store holds (resolved to its learner id when LA gave one). ``None`` when nothing is held."""
    if not given or given.startswith(FORGOTTEN_PREFIX):
        return None
    if any(_first(session, _BY_NAME[n].c.source_id, _BY_NAME[n].c.source_id == given)
           for n in _KEYED):  # fmt: skip
        key, uuids = given, set()
    else:
        owners = [
            _first(session, _BY_NAME[n].c.source_id, _BY_NAME[n].c.candidate_uuid == given)
            for n in _KEYED
        ]
        history = tables.progress_history.c.candidate_uuid
        if _first(session, history, history == given) is not None:
            owners.append("")  # progress of a candidate the store keeps nothing else of
        found = [o for o in owners if o is not None]
        if not found:
            return None
        named = [o for o in found if o and not o.startswith(FORGOTTEN_PREFIX)]
        key, uuids = (named[0] if named else given), {given}
    for name in _KEYED:
        t = _BY_NAME[name]
        stmt = select(t.c.candidate_uuid).where(t.c.source_id == key)
        uuids |= {u for u in session.scalars(stmt) if u}
    return Learner(key, frozenset(uuids))


def _first(session: Session, column: Any, where: ColumnElement[bool]) -> str | None:
    value = session.execute(select(column).where(where).limit(1)).scalar()
    return None if value is None else str(value)


def gone_before(session: Session, cutoff: datetime) -> list[str]:
    """The learners LA no longer lists (every candidate of theirs marked removed by sync)
    since before ``cutoff``: their keys, sorted."""
    c = tables.candidates
    latest: dict[str, datetime | None] = {}
    for source_id, uuid, removed_at in session.execute(
        select(c.c.source_id, c.c.candidate_uuid, c.c.removed_at)
    ):
        key = source_id or uuid
        if key in latest and latest[key] is None:
            continue
        before = latest.get(key)
        latest[key] = None if removed_at is None else max(removed_at, before or removed_at)
    return sorted(k for k, at in latest.items() if at is not None and at < cutoff)


# -- what and how ---------------------------------------------------------------------------------


def _where(name: str, learner: Learner) -> ColumnElement[bool]:
    t = _BY_NAME[name]
    uuids = sorted(learner.candidate_uuids)
    if name == "progress_history":
        return t.c.candidate_uuid.in_(uuids) if uuids else false()
    if name in ("enrolments", "repeated_rows"):  # keyed by the learner id alone
        return t.c.source_id == learner.key
    by_uuid = [t.c.candidate_uuid.in_(uuids)] if uuids else []
    return or_(t.c.source_id == learner.key, *by_uuid)


def counts(session: Session, learner: Learner) -> dict[str, int]:
    """How many rows of each table hold the learner's data."""
    found: dict[str, int] = {}
    for name in TABLES:
        stmt = select(func.count()).select_from(_BY_NAME[name]).where(_where(name, learner))
        found[name] = int(session.execute(stmt).scalar_one())
    return found


def _erase(session: Session, learner: Learner, hashed: str, now: datetime) -> None:
    for name in TABLES:
        t, where = _BY_NAME[name], _where(name, learner)
        if name != "enrolments":
            session.execute(delete(t).where(where))
            continue
        # Exactly once: the row, its state and its CandidateUUID stay; nothing personal does.
        blank = {"source_id": FORGOTTEN_PREFIX + hashed, "origin": "", "problems": "[]",
                 "pushed": None, "update_sent": None, "claimed_by": None, "lease_until": None,
                 "updated_at": now}  # fmt: skip
        session.execute(sql_update(t).where(where).values(**blank))


def forget(
    session: Session,
    learner_ids: Sequence[str],
    now: datetime,
    *,
    why: str = "forget",
    dry_run: bool = False,
) -> ErasureReport:
    """Erase each learner's data (or, with ``dry_run``, only count it) and keep an anonymous
    audit row per learner erased. Run it inside ``store.begin()``: all or nothing."""
    if why not in REASONS:
        raise ValueError(f"an erasure's reason is one of {REASONS}, not {why!r}")
    tables.aware(now)
    key = salt(session, create=not dry_run)
    forgotten = Forgotten.load(session)
    report = ErasureReport(dry_run)
    for given in dict.fromkeys(learner_ids):
        learner = resolve(session, given)
        if learner is None:
            since = forgotten.on(given)
            outcome = "already_forgotten" if since else "not_found"
            report.learners.append(Erasure(given, outcome, forgotten_on=since))
            continue
        found = counts(session, learner)
        if not dry_run:
            assert key is not None
            hashed = learner_hash(key, learner.key)
            _erase(session, learner, hashed, now)
            session.execute(
                insert(tables.erasures).values(
                    learner_hash=hashed, reason=why, erased=json.dumps(found), erased_at=now
                )
            )
        report.learners.append(Erasure(given, "would_erase" if dry_run else "erased", found))
    return report


def vacuum(engine: Engine, names: Collection[str] = TABLES) -> None:
    """Rewrite what the erased rows leave behind in the database's files. SQLite: ``VACUUM``
    the file, then checkpoint the WAL and truncate it, so that no old page survives in either.
    PostgreSQL: ``VACUUM`` the tables (dead rows' space is reclaimed; ``VACUUM FULL`` by a DBA
    rewrites the files, docs/data-protection.md)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = cursor.fetchone()
            cursor.close()
        finally:
            raw.close()
        if busy and busy[0]:
            log.warning("another connection held the store's WAL: run `labridge forget` again "
                        "when no other labridge runs, to truncate it")  # fmt: skip
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM " + ", ".join(sorted(names)))
