"""The enrolment journal: what labridge tried for each learner and course, and what came of it.

A learner's row is written *before* GroupEnrolment is sent (state ``pending``) and again when the
answer is known, each in its own committed transaction, so that a crash at any point leaves a
trace that the next run reconciles with LA before sending anything again (docs/reliability.md,
"The journal"). Every change is also appended to ``enrolment_events``.

``labridge update`` writes here too (:func:`record_update`): after LA accepted an UpdateEnrolment
it replaces ``pushed`` with what LA now holds from labridge and logs an ``updated`` event; a
refused update leaves the row alone and logs an ``update_refused`` event with LA's MessageList.

Several runs may work on one store at once (cron overlapping a person, several machines on one
PostgreSQL store). Only the run holding a learner's *claim* sends for that learner: a lease (run
id, expiry) on the row, taken by :func:`claim` with one conditional UPDATE, released with the
outcome. An enrol run claims and journals a chunk of learners at once (:func:`claim_many`,
:func:`record_many`, :func:`release_many`): the same statements, one per chunk rather than one
per learner, in the transactions docs/reliability.md ("The batched journal") describes. States
(docs/reliability.md):

- ``queued``: claimed, nothing sent yet (safe to send);
- ``pending``: GroupEnrolment is about to go out or is in flight;
- ``uncertain``: a send whose outcome is unknown (timeout, dropped connection, an unreadable
  answer, or a ``pending`` row whose run died); LA is asked after a settle window, never resent
  blindly;
- ``enrolled``, ``refused``, ``invalid``, ``skipped``: settled.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    RowMapping,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..errors import Problem
from . import tables

Key = tuple[str, str]

STATES = ("queued", "pending", "uncertain", "enrolled", "refused", "invalid", "skipped")


@dataclass(frozen=True)
class Entry:
    source_id: str
    course: str
    state: str
    candidate_uuid: str | None
    origin: str
    problems: tuple[Problem, ...]
    pushed: dict[str, Any] | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None = None
    lease_until: datetime | None = None
    uncertain_since: datetime | None = None
    #: An UpdateEnrolment whose outcome is unknown: {"send": flat members, "pushed": ...}.
    update_sent: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_id, self.course)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "course": self.course,
            "state": self.state,
            "candidate_uuid": self.candidate_uuid,
            "origin": self.origin,
            "problems": [p.as_dict() for p in self.problems],
            "attempts": self.attempts,
            "updated_at": self.updated_at.isoformat(),
            "uncertain_since": self.uncertain_since.isoformat() if self.uncertain_since else None,
            "update_uncertain": self.update_sent is not None,
        }


def _problems_json(problems: Sequence[Problem]) -> str:
    return json.dumps([p.as_dict() for p in problems])


def _entry(row: RowMapping) -> Entry:
    return Entry(
        source_id=row["source_id"],
        course=row["course"],
        state=row["state"],
        candidate_uuid=row["candidate_uuid"],
        origin=row["origin"],
        problems=tuple(Problem(**p) for p in json.loads(row["problems"])),
        pushed=json.loads(row["pushed"]) if row["pushed"] else None,
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        claimed_by=row["claimed_by"],
        lease_until=row["lease_until"],
        uncertain_since=row["uncertain_since"],
        update_sent=json.loads(row["update_sent"]) if row["update_sent"] else None,
    )


def get(session: Session, source_id: str, course: str) -> Entry | None:
    t = tables.enrolments
    stmt = select(t).where(t.c.source_id == source_id, t.c.course == course)
    row = session.execute(stmt).mappings().first()
    return _entry(row) if row else None


def load_all(session: Session) -> dict[tuple[str, str], Entry]:
    """Every entry by (source_id, course): one query, for runs over thousands of learners."""
    rows = session.execute(select(tables.enrolments)).mappings()
    return {(r["source_id"], r["course"]): _entry(r) for r in rows}


def entries(session: Session) -> list[Entry]:
    t = tables.enrolments
    rows = session.execute(select(t).order_by(t.c.source_id, t.c.course)).mappings()
    return [_entry(r) for r in rows]


def record(
    session: Session,
    source_id: str,
    course: str,
    state: str,
    now: datetime,
    *,
    origin: str = "",
    candidate_uuid: str | None = None,
    problems: Sequence[Problem] = (),
    pushed: Mapping[str, Any] | None = None,
    sent: bool = False,
    unless: Collection[str] = (),
    release: bool = False,
) -> bool:
    """Set the learner's latest state (creating the row if needed) and log the change.
    ``sent`` counts one more GroupEnrolment attempt; ``pushed`` replaces what was last sent;
    ``candidate_uuid`` and ``origin`` are kept when not given; ``release`` gives up the claim
    (the outcome is written). ``uncertain`` records when the outcome became unknown. Nothing is
    written when the row is in one of the states ``unless`` names; returns whether it was."""
    if state not in STATES:
        raise ValueError(f"journal state must be one of {STATES}, not {state!r}")
    values: dict[str, Any] = {
        "state": state,
        "problems": _problems_json(problems),
        "updated_at": now,
        "uncertain_since": now if state == "uncertain" else None,
    }
    if candidate_uuid is not None:
        values["candidate_uuid"] = candidate_uuid
    if origin:
        values["origin"] = origin
    if pushed is not None:
        values["pushed"] = json.dumps(dict(pushed), sort_keys=True)
    if release:
        values |= {"claimed_by": None, "lease_until": None}
    created = _ensure_row(session, source_id, course, state, now, origin)
    existing = get(session, source_id, course)
    assert existing is not None
    if not created and existing.state in unless:
        return False
    if sent:
        values["attempts"] = existing.attempts + 1
    t = tables.enrolments
    where = (t.c.source_id == source_id, t.c.course == course)
    session.execute(update(t).where(*where).values(**values))
    _event(session, source_id, course, state, candidate_uuid, problems, now)
    return True


def _ensure_row(
    session: Session, source_id: str, course: str, state: str, now: datetime, origin: str
) -> bool:
    """Insert the learner's row unless it exists (another run may insert it at the same moment:
    the conflict is not an error). Returns whether this call created it."""
    values = {"source_id": source_id, "course": course, "state": state, "origin": origin,
              "problems": "[]", "attempts": 0, "created_at": now, "updated_at": now}  # fmt: skip
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(tables.enrolments).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(tables.enrolments).on_conflict_do_nothing()
    else:  # other databases: labridge's write lock (Store.begin) serialises the check
        if get(session, source_id, course) is not None:
            return False
        stmt = insert(tables.enrolments)
    # RETURNING, not rowcount: psycopg counts a conflict skipped by DO NOTHING as a row.
    returning = stmt.values(**values).returning(tables.enrolments.c.source_id)
    return session.execute(returning).first() is not None


def claim(
    session: Session,
    source_id: str,
    course: str,
    run_id: str,
    now: datetime,
    lease: timedelta,
    *,
    origin: str = "",
) -> Entry | None:
    """Take the learner's claim for ``run_id`` until ``now + lease`` (creating the row,
    ``queued``, if there is none): one conditional UPDATE, atomic on either database. Returns
    the row as it is now (another run may have settled it meanwhile), or ``None`` when another
    live run holds the claim."""
    _ensure_row(session, source_id, course, "queued", now, origin)
    t = tables.enrolments
    free = or_(t.c.claimed_by.is_(None), t.c.lease_until < now, t.c.claimed_by == run_id)
    stmt = (
        update(t)
        .where(t.c.source_id == source_id, t.c.course == course, free)
        .values(claimed_by=run_id, lease_until=now + lease)
    )
    if not session.execute(stmt).rowcount:  # type: ignore[attr-defined]
        return None
    return get(session, source_id, course)


def take_over(
    session: Session,
    source_id: str,
    course: str,
    dead_run: str,
    run_id: str,
    now: datetime,
    lease: timedelta,
) -> Entry | None:
    """Take the claim of a run that died (its presence lock is free), if it still holds it:
    conditional on that run's id, so two runs taking over at once cannot both win."""
    t = tables.enrolments
    where = (t.c.source_id == source_id, t.c.course == course, t.c.claimed_by == dead_run)
    stmt = update(t).where(*where).values(claimed_by=run_id, lease_until=now + lease)
    if not session.execute(stmt).rowcount:  # type: ignore[attr-defined]
        return None
    return get(session, source_id, course)


def release(session: Session, source_id: str, course: str, run_id: str) -> None:
    """Give up ``run_id``'s claim on the learner, if it still holds it."""
    t = tables.enrolments
    where = (t.c.source_id == source_id, t.c.course == course, t.c.claimed_by == run_id)
    session.execute(update(t).where(*where).values(claimed_by=None, lease_until=None))


@dataclass(frozen=True)
class Write:
    """One learner's new state for :func:`record_many`, as :func:`record` takes it: ``at`` is
    when it was decided (``uncertain`` rows keep it as the moment their outcome became
    unknown)."""

    source_id: str
    course: str
    state: str
    at: datetime
    origin: str = ""
    candidate_uuid: str | None = None
    problems: tuple[Problem, ...] = ()
    pushed: Mapping[str, Any] | None = None
    sent: bool = False

    @property
    def key(self) -> Key:
        return (self.source_id, self.course)


def _keyed(keys: Collection[Key]) -> Any:
    t = tables.enrolments
    return tuple_(t.c.source_id, t.c.course).in_(list(keys))


def _ensure_rows(
    session: Session, rows: Sequence[tuple[str, str, str, str]], now: datetime
) -> None:
    """:func:`_ensure_row` for many (source_id, course, state, origin) at once: one statement."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        for source_id, course, state, origin in rows:
            _ensure_row(session, source_id, course, state, now, origin)
        return
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = [{"source_id": source_id, "course": course, "state": state, "origin": origin,
               "problems": "[]", "attempts": 0, "created_at": now, "updated_at": now}
              for source_id, course, state, origin in rows]  # fmt: skip
    session.execute(dialect_insert(tables.enrolments).on_conflict_do_nothing(), values)


def _claim_statement() -> Any:
    """The one conditional UPDATE of :func:`claim_many`: built once."""
    t = tables.enrolments
    now = bindparam("now", type_=tables.UTCDateTime())
    free = or_(t.c.claimed_by.is_(None), t.c.lease_until < now, t.c.claimed_by == bindparam("run"))
    keyed = tuple_(t.c.source_id, t.c.course).in_(bindparam("keys", expanding=True))
    until = bindparam("until", type_=tables.UTCDateTime())
    return update(t).where(keyed, free).values(claimed_by=bindparam("run"), lease_until=until)


_CLAIM = _claim_statement().returning(*tables.enrolments.c)


def claim_many(
    session: Session,
    learners: Sequence[tuple[str, str, str]],
    run_id: str,
    now: datetime,
    lease: timedelta,
) -> tuple[dict[Key, Entry], dict[Key, Entry]]:
    """:func:`claim` for many learners (source_id, course, origin) at once: their rows made
    (``queued``) where missing, then one conditional UPDATE over them all, as atomic as
    :func:`claim`'s. Returns the rows this run now holds and, apart, the rows another run holds
    (their holder's id in ``claimed_by``)."""
    if not learners:
        return {}, {}
    if not session.get_bind().dialect.update_returning:
        each = {(s, c): claim(session, s, c, run_id, now, lease, origin=o) for s, c, o in learners}
        others = {k: get(session, *k) for k, e in each.items() if e is None}
        return (
            {k: e for k, e in each.items() if e is not None},
            {k: e for k, e in others.items() if e is not None},
        )
    _ensure_rows(session, [(s, c, "queued", o) for s, c, o in learners], now)
    keys = {(s, c) for s, c, _ in learners}
    params = {"keys": list(keys), "now": now, "run": run_id, "until": now + lease}
    won = {e.key: e for e in map(_entry, session.execute(_CLAIM, params).mappings())}
    rest = keys - won.keys()
    if not rest:
        return won, {}
    rows = session.execute(select(tables.enrolments).where(_keyed(rest))).mappings()
    return won, {e.key: e for e in map(_entry, rows)}


def _record_statement() -> Any:
    """The one UPDATE of :func:`record_many`, run for every write: built once."""
    t = tables.enrolments
    keep = func.coalesce  # a value not given keeps the row's own, as record() does
    when = tables.UTCDateTime()
    # A learner done gives up the claim with the write, if this run still holds it.
    released = and_(bindparam("v_release", type_=Boolean()), t.c.claimed_by == bindparam("run"))
    return (
        update(t)
        .where(t.c.source_id == bindparam("k_source_id"), t.c.course == bindparam("k_course"))
        .values(
            state=bindparam("v_state"),
            problems=bindparam("v_problems"),
            updated_at=bindparam("v_at", type_=when),
            uncertain_since=bindparam("v_uncertain_since", type_=when),
            candidate_uuid=keep(bindparam("v_candidate_uuid", type_=String()), t.c.candidate_uuid),
            origin=keep(func.nullif(bindparam("v_origin", type_=String()), ""), t.c.origin),
            pushed=keep(bindparam("v_pushed", type_=String()), t.c.pushed),
            attempts=t.c.attempts + bindparam("v_sent", type_=Integer()),
            claimed_by=case((released, None), else_=t.c.claimed_by),
            lease_until=case((released, None), else_=t.c.lease_until),
        )
    )


_RECORD = _record_statement()


def record_many(
    session: Session,
    writes: Sequence[Write],
    *,
    existing: bool = False,
    run_id: str = "",
    release: Collection[Key] = (),
) -> None:
    """:func:`record` for many learners at once (without ``unless``): their rows made where
    missing (``existing``: every row is there already, claimed), each one's change, and its
    event, one statement each for all, in order (a learner written twice ends in its last
    state). ``run_id`` gives up its claims on the learners ``release`` names, with their write,
    or alone when they have none."""
    released = set(release)
    if writes:
        _record_all(session, writes, existing, run_id, released)
    release_many(session, released - {w.key for w in writes}, run_id)


def _record_all(
    session: Session, writes: Sequence[Write], existing: bool, run_id: str, release: set[Key]
) -> None:
    for write in writes:
        if write.state not in STATES:
            raise ValueError(f"journal state must be one of {STATES}, not {write.state!r}")
    if not existing:
        _ensure_rows(session, [(w.source_id, w.course, w.state, w.origin) for w in writes],
                     min(w.at for w in writes))  # fmt: skip
    changes = [
        {
            "k_source_id": w.source_id,
            "k_course": w.course,
            "v_state": w.state,
            "v_problems": _problems_json(w.problems) if w.problems else "[]",
            "v_at": w.at,
            "v_uncertain_since": w.at if w.state == "uncertain" else None,
            "v_candidate_uuid": w.candidate_uuid,
            "v_origin": w.origin,
            "v_pushed": None if w.pushed is None else json.dumps(dict(w.pushed), sort_keys=True),
            "v_sent": int(w.sent),
            "v_release": w.key in release,
            "run": run_id,
        }
        for w in writes
    ]
    session.execute(_RECORD, changes)
    session.execute(
        _EVENT,
        [{"source_id": c["k_source_id"], "course": c["k_course"], "state": c["v_state"],
          "candidate_uuid": w.candidate_uuid, "problems": c["v_problems"], "at": w.at}
         for c, w in zip(changes, writes, strict=True)],
    )  # fmt: skip


_EVENT = insert(tables.enrolment_events)


def unsend_many(session: Session, entries: Sequence[Entry], now: datetime) -> None:
    """Undo the ``pending`` of learners whose GroupEnrolment was certainly never started (a run
    that stopped between journalling a chunk and sending all of it): ``queued``, with the
    attempt count and what was last sent as they were before (``entries``: the rows as claimed).
    """
    t = tables.enrolments
    for entry in entries:
        pushed = None if entry.pushed is None else json.dumps(entry.pushed, sort_keys=True)
        values = {"state": "queued", "problems": "[]", "updated_at": now, "uncertain_since": None,
                  "pushed": pushed, "attempts": entry.attempts}  # fmt: skip
        where = (t.c.source_id == entry.source_id, t.c.course == entry.course)
        session.execute(update(t).where(*where, t.c.state == "pending").values(**values))
        _event(session, entry.source_id, entry.course, "queued", None, (), now)


def release_many(session: Session, keys: Collection[Key], run_id: str) -> None:
    """:func:`release` for many learners at once: one statement."""
    if not keys:
        return
    t = tables.enrolments
    stmt = update(t).where(_keyed(keys), t.c.claimed_by == run_id)
    session.execute(stmt.values(claimed_by=None, lease_until=None))


def release_all(session: Session, run_id: str) -> None:
    """Give up every claim ``run_id`` still holds (at the end of its run)."""
    t = tables.enrolments
    stmt = update(t).where(t.c.claimed_by == run_id).values(claimed_by=None, lease_until=None)
    session.execute(stmt)


def mark_update_uncertain(
    session: Session,
    source_id: str,
    course: str,
    candidate_uuid: str,
    sent: Mapping[str, Any],
    now: datetime,
    *,
    origin: str = "",
) -> None:
    """Keep an UpdateEnrolment whose outcome is unknown, for the next update run to settle. A
    learner labridge found in LA but never journalled gets its row (``enrolled``)."""
    _ensure_row(session, source_id, course, "enrolled", now, origin)
    t = tables.enrolments
    where = (t.c.source_id == source_id, t.c.course == course)
    values = {"update_sent": json.dumps(dict(sent), sort_keys=True), "updated_at": now,
              "candidate_uuid": candidate_uuid}  # fmt: skip
    session.execute(update(t).where(*where).values(**values))
    _event(session, source_id, course, "update_uncertain", candidate_uuid, (), now)


def clear_update_uncertain(session: Session, source_id: str, course: str) -> None:
    t = tables.enrolments
    where = (t.c.source_id == source_id, t.c.course == course)
    session.execute(update(t).where(*where).values(update_sent=None))


def _event(
    session: Session,
    source_id: str,
    course: str,
    state: str,
    candidate_uuid: str | None,
    problems: Sequence[Problem],
    now: datetime,
) -> None:
    session.execute(
        insert(tables.enrolment_events).values(
            source_id=source_id,
            course=course,
            state=state,
            candidate_uuid=candidate_uuid,
            problems=_problems_json(problems),
            at=now,
        )
    )


def events(session: Session, source_id: str, course: str) -> list[tuple[str, datetime]]:
    """The states a learner went through, oldest first."""
    t = tables.enrolment_events
    stmt = (
        select(t.c.state, t.c.at)
        .where(t.c.source_id == source_id, t.c.course == course)
        .order_by(t.c.id)
    )
    return [(r.state, r.at) for r in session.execute(stmt)]


def record_update(
    session: Session,
    source_id: str,
    course: str,
    candidate_uuid: str,
    pushed: Mapping[str, Any],
    now: datetime,
    *,
    origin: str = "",
) -> None:
    """Record an UpdateEnrolment LA accepted: ``pushed`` replaces what was last sent. A learner
    labridge found in LA but never journalled gets its row (``enrolled``), as enrol would."""
    values: dict[str, Any] = {
        "state": "enrolled",
        "candidate_uuid": candidate_uuid,
        "problems": "[]",
        "pushed": json.dumps(dict(pushed), sort_keys=True),
        "updated_at": now,
    }
    if origin:
        values["origin"] = origin
    values["update_sent"] = None  # an uncertain update is settled by this one
    t = tables.enrolments
    _ensure_row(session, source_id, course, "enrolled", now, origin)
    where = (t.c.source_id == source_id, t.c.course == course)
    session.execute(update(t).where(*where).values(**values))
    _event(session, source_id, course, "updated", candidate_uuid, (), now)


def record_update_refused(
    session: Session,
    source_id: str,
    course: str,
    candidate_uuid: str,
    problems: Sequence[Problem],
    now: datetime,
) -> None:
    """Log an UpdateEnrolment LA refused; the learner's row (still enrolled) is left alone."""
    _event(session, source_id, course, "update_refused", candidate_uuid, problems, now)


def counts(session: Session) -> dict[str, int]:
    """How many learners are in each state, for ``labridge status``."""
    t = tables.enrolments
    rows = session.execute(select(t.c.state, func.count()).group_by(t.c.state))
    found = {state: int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}


def found_in_la(session: Session) -> int:
    """How many ``enrolled`` learners labridge never sent (LA held them already when labridge
    first met them: an enrol run skipped them, or update found them), so that ``status`` can say
    how its enrolled count and an enrol run's "enrolled, skipped" figures add up."""
    t = tables.enrolments
    stmt = select(func.count()).where(t.c.state == "enrolled", t.c.attempts == 0)
    return int(session.execute(stmt).scalar_one())


def refused_updates(session: Session) -> dict[Key, tuple[Problem, ...]]:
    """LA's MessageList of each learner whose latest UpdateEnrolment LA refused and no later one
    was accepted: the to-do list shows them (the journal row itself stays ``enrolled``)."""
    t = tables.enrolment_events
    stmt = (
        select(t.c.source_id, t.c.course, t.c.state, t.c.problems)
        .where(t.c.state.in_(("updated", "update_refused")))
        .order_by(t.c.id)
    )
    latest = {(r.source_id, r.course): r for r in session.execute(stmt)}
    return {
        key: tuple(Problem(**p) for p in json.loads(r.problems))
        for key, r in latest.items()
        if r.state == "update_refused"
    }
