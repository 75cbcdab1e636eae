"""The store's tables, as SQLAlchemy Core metadata.

This module describes the schema as the newest migration leaves it; the schema itself changes only
through the Alembic revisions in ``migrations/versions``, never by editing a table in place. A
test compares the two, so a column added here without a revision fails the suite.

Only portable types are used so that SQLite and PostgreSQL both work. Reference tables name their
columns after the fields of the records in :mod:`labridge.models`, which lets
:mod:`labridge.store.reference_sets` move values between the two without a mapping table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

#: Deterministic constraint and index names, so later migrations can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Length of every short text column: LA's UUIDs, names, e-mail addresses, codes.
TEXT_LEN = 255

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def aware(now: datetime) -> datetime:
    """``now`` itself, checked to be timezone-aware: the store's writers take UTC times only."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime (UTC)")
    return now


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite keeps no offset, so values are normalised to UTC on the way in and tagged UTC on the way
    out; PostgreSQL's ``timestamptz`` round-trips them as they are.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store takes timezone-aware datetimes only (use UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(name: str, *, primary_key: bool = False) -> Column[str]:
    return Column(name, String(TEXT_LEN), primary_key=primary_key, nullable=False)


def _flag(name: str) -> Column[bool]:
    return Column(name, Boolean, nullable=False)


def _tracking() -> list[Column[Any]]:
    """Columns every reference table carries besides its record's fields."""
    return [
        # JSON of the record's extras: members LA sent that the contract does not know.
        Column("extras", Text, nullable=False),
        Column("first_seen_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        # NULL while LA lists the row; set when it vanished, cleared when it comes back.
        Column("removed_at", UTCDateTime, nullable=True),
    ]


frameworks = Table(
    "frameworks",
    metadata,
    _text("course_uuid", primary_key=True),
    _text("name"),
    _text("qan"),
    _text("level"),
    _flag("active"),
    *_tracking(),
)

# A unit is keyed by its course as well as its own UUID: LA lists units under each framework, and
# a unit shared by two frameworks must belong to both (docs/contract.md §3.5: units must belong to
# the course they are enrolled on).
units = Table(
    "units",
    metadata,
    _text("course_uuid", primary_key=True),
    _text("unit_uuid", primary_key=True),
    _text("name"),
    _text("reference"),
    _flag("mandatory"),
    *_tracking(),
)

trainers = Table(
    "trainers",
    metadata,
    _text("trainer_uuid", primary_key=True),
    _text("forename"),
    _text("surname"),
    _text("email"),
    _flag("is_assessor"),
    _flag("is_verifier"),
    *_tracking(),
)

companies = Table(
    "companies",
    metadata,
    _text("company_uuid", primary_key=True),
    _text("name"),
    _text("contact_email"),
    _text("postcode"),
    *_tracking(),
)

nationalities = Table(
    "nationalities",
    metadata,
    _text("nationality_id", primary_key=True),
    _text("name"),
    *_tracking(),
)

ethnicities = Table(
    "ethnicities",
    metadata,
    _text("ethnicity_id", primary_key=True),
    _text("name"),
    *_tracking(),
)

candidates = Table(
    "candidates",
    metadata,
    _text("candidate_uuid", primary_key=True),
    _text("source_id"),
    _text("forename"),
    _text("surname"),
    _text("email"),
    _text("uln"),
    _text("company_uuid"),
    _text("course_uuid"),
    _text("course_qan"),
    _text("start_date"),
    _text("end_date"),
    _text("status"),
    *_tracking(),
    # Reconciliation looks learners up by the caller's own id (docs/reliability.md, "The journal").
    Index(None, "source_id", "course_uuid"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    # "running" until finished, then "ok" or "failed".
    Column("status", String(16), nullable=False),
    # JSON: counts per set, as SetCounts.as_dict() gives them.
    Column("summary", Text, nullable=True),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(TEXT_LEN), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- Enrolment journal (docs/reliability.md, "The journal") ---------------------------------------
# One row per learner and course: the latest outcome, and what labridge last pushed to LA for that
# learner (so that a later update sends only what changed). Written *before* every GroupEnrolment
# call (state "pending") and again after it; a "pending" row found later means the call's fate is
# unknown and must be reconciled with LA before anything is resent.
enrolments = Table(
    "enrolments",
    metadata,
    # The learner's id in the source (SourceSystemLearnerUUID); for a row with no id, its origin.
    _text("source_id", primary_key=True),
    # The resolved CourseUUID, or the source's course text when it did not resolve.
    _text("course", primary_key=True),
    # queued | pending | uncertain | enrolled | refused | invalid | skipped (journal.STATES)
    Column("state", String(16), nullable=False),
    Column("candidate_uuid", String(TEXT_LEN), nullable=True),
    # Where the record came from ("learners.csv line 14").
    Column("origin", Text, nullable=False),
    # JSON list of {"field", "code", "message"}: LA's MessageList or labridge's own findings.
    Column("problems", Text, nullable=False),
    # JSON of the members last sent to LA (wire names), or NULL when nothing was ever sent.
    Column("pushed", Text, nullable=True),
    # How many times GroupEnrolment was sent for this learner and course.
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The claim (design: docs/reliability.md): the run (uuid4) that alone may send for this
    # learner until ``lease_until``; NULL when nobody holds it.
    Column("claimed_by", String(36), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    # When a send's outcome became unknown (state "uncertain"): LA is asked after a settle window.
    Column("uncertain_since", UTCDateTime, nullable=True),
    # JSON of an UpdateEnrolment whose outcome is unknown: the flat members sent and the
    # ``pushed`` it would make, settled by the next update run against LA's values.
    Column("update_sent", Text, nullable=True),
)

# Every state change of the journal, appended: the audit trail of what was tried and when.
enrolment_events = Table(
    "enrolment_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _text("source_id"),
    _text("course"),
    Column("state", String(16), nullable=False),
    Column("candidate_uuid", String(TEXT_LEN), nullable=True),
    Column("problems", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "source_id", "course"),
)

# Source rows that repeat a learner and course given earlier in the same input (migration 0006):
# the journal holds one row per learner and course, so their problems are kept here, replaced
# for each learner and course by every enrol run that reads them (``store.repeats``).
repeated_rows = Table(
    "repeated_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _text("source_id"),
    _text("course"),
    Column("origin", Text, nullable=False),
    # JSON list of {"field", "code", "message"}, as the journal's problems.
    Column("problems", Text, nullable=False),
    Column("found_at", UTCDateTime, nullable=False),
    Index(None, "source_id", "course"),
)

# Candidates LA holds twice for one learner and course (one SourceSystemLearnerUUID on one course,
# several CandidateUUIDs), as found by the check after an enrol run: the list someone merges in LA.
la_duplicates = Table(
    "la_duplicates",
    metadata,
    _text("candidate_uuid", primary_key=True),
    _text("source_id"),
    _text("course_uuid"),
    Column("found_at", UTCDateTime, nullable=False),
    Index(None, "source_id", "course_uuid"),
)

# -- Progress (docs/contract.md §3.3; store/progress_history.py) ---------------------------------
# The latest progress labridge knows per candidate, and how its last pull went: failed learners
# are retried on the next pull, and the report reads start/end dates and status from here.
progress_learners = Table(
    "progress_learners",
    metadata,
    _text("candidate_uuid", primary_key=True),
    Column("source_id", String(TEXT_LEN), nullable=False),
    Column("course_uuid", String(TEXT_LEN), nullable=False),
    Column("start_date", String(10), nullable=False),
    Column("end_date", String(10), nullable=False),
    Column("status", String(32), nullable=False),
    Column("overall", Float, nullable=False),
    Column("last_activity_date", String(10), nullable=False),
    # When the last successful pull happened, and the last failure (NULL after a success).
    Column("pulled_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
)

# One row each time something about a learner, a unit or an outcome changed: the history the
# progress report draws over time. ``level`` is "learner" (unit_uuid and outcome_uuid ""),
# "unit" (outcome_uuid "") or "outcome". A pull that finds nothing new writes no row.
progress_history = Table(
    "progress_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _text("candidate_uuid"),
    Column("level", String(8), nullable=False),
    Column("unit_uuid", String(TEXT_LEN), nullable=False),
    Column("outcome_uuid", String(TEXT_LEN), nullable=False),
    Column("name", Text, nullable=False),
    Column("reference", String(TEXT_LEN), nullable=False),
    Column("percentage", Float, nullable=False),
    Column("completed", Boolean, nullable=False),
    Column("completed_date", String(10), nullable=False),
    Column("evidence_count", Integer, nullable=True),
    Column("pulled_at", UTCDateTime, nullable=False),
    Index(None, "candidate_uuid", "level", "unit_uuid", "outcome_uuid"),
)

# -- Erasure (docs/data-protection.md) -------------------------------------------------------------
# One anonymous row per learner whose personal data ``labridge forget`` (or the retention step of
# ``labridge run``) erased: the learner's id hashed with the store's own salt (meta
# "erasure_salt"), why, what went (JSON {table: rows}) and when. Enrol and sync read it so that a
# forgotten learner is never enrolled again nor mirrored again (exactly once still holds).
erasures = Table(
    "erasures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_hash", String(64), nullable=False),
    # "forget" (by id), "gone" (--gone-from-la-before) or "retention" (labridge run).
    Column("reason", String(16), nullable=False),
    Column("erased", Text, nullable=False),
    Column("erased_at", UTCDateTime, nullable=False),
    Index(None, "learner_hash"),
)
