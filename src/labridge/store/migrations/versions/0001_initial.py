"""Reference data and sync metadata.

Revision ID: 0001
Revises:
Create Date: 2025-11-27

Revisions spell their tables out rather than importing :mod:`labridge.store.tables`, so that each
one keeps creating exactly the schema of its day however the tables module grows later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEN = 255

_CANDIDATE_FIELDS = (
    "source_id",
    "forename",
    "surname",
    "email",
    "uln",
    "company_uuid",
    "course_uuid",
    "course_qan",
    "start_date",
    "end_date",
    "status",
)


def _text(name: str, *, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(_LEN), primary_key=primary_key, nullable=False)


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _when(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tracking() -> list[sa.Column[Any]]:
    return [
        sa.Column("extras", sa.Text(), nullable=False),
        _when("first_seen_at"),
        _when("updated_at"),
        _when("removed_at", nullable=True),
    ]


def _reference(name: str, keys: Sequence[str], fields: Sequence[str], flags: Sequence[str]) -> None:
    op.create_table(
        name,
        *(_text(k) for k in keys),
        *(_text(f) for f in fields),
        *(_flag(f) for f in flags),
        *_tracking(),
        sa.PrimaryKeyConstraint(*keys, name=f"pk_{name}"),
    )


def upgrade() -> None:
    _reference("frameworks", ["course_uuid"], ["name", "qan", "level"], ["active"])
    _reference("units", ["course_uuid", "unit_uuid"], ["name", "reference"], ["mandatory"])
    _reference(
        "trainers",
        ["trainer_uuid"],
        ["forename", "surname", "email"],
        ["is_assessor", "is_verifier"],
    )
    _reference("companies", ["company_uuid"], ["name", "contact_email", "postcode"], [])
    _reference("nationalities", ["nationality_id"], ["name"], [])
    _reference("ethnicities", ["ethnicity_id"], ["name"], [])
    _reference("candidates", ["candidate_uuid"], _CANDIDATE_FIELDS, [])
    op.create_index(
        "ix_candidates_source_id_course_uuid", "candidates", ["source_id", "course_uuid"]
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _when("started_at"),
        _when("finished_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(_LEN), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )


def downgrade() -> None:
    tables = ("meta", "sync_runs", "candidates", "ethnicities", "nationalities", "companies")
    for name in (*tables, "trainers", "units", "frameworks"):
        op.drop_table(name)
