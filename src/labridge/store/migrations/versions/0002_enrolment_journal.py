"""Enrolment journal: the latest outcome per learner and course, and its event log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEN = 255


def _when(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "enrolments",
        sa.Column("source_id", sa.String(_LEN), nullable=False),
        sa.Column("course", sa.String(_LEN), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("candidate_uuid", sa.String(_LEN), nullable=True),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("pushed", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("source_id", "course", name="pk_enrolments"),
    )
    op.create_table(
        "enrolment_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(_LEN), nullable=False),
        sa.Column("course", sa.String(_LEN), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("candidate_uuid", sa.String(_LEN), nullable=True),
        sa.Column("problems", sa.Text(), nullable=False),
        _when("at"),
        sa.PrimaryKeyConstraint("id", name="pk_enrolment_events"),
    )
    op.create_index(
        "ix_enrolment_events_source_id_course", "enrolment_events", ["source_id", "course"]
    )


def downgrade() -> None:
    op.drop_index("ix_enrolment_events_source_id_course", table_name="enrolment_events")
    op.drop_table("enrolment_events")
    op.drop_table("enrolments")
