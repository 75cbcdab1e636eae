"""Progress: the latest state per learner and the history of changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEN = 255


def _when(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "progress_learners",
        sa.Column("candidate_uuid", sa.String(_LEN), nullable=False),
        sa.Column("source_id", sa.String(_LEN), nullable=False),
        sa.Column("course_uuid", sa.String(_LEN), nullable=False),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("end_date", sa.String(10), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("overall", sa.Float(), nullable=False),
        sa.Column("last_activity_date", sa.String(10), nullable=False),
        _when("pulled_at", nullable=True),
        _when("failed_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("candidate_uuid", name="pk_progress_learners"),
    )
    op.create_table(
        "progress_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("candidate_uuid", sa.String(_LEN), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("unit_uuid", sa.String(_LEN), nullable=False),
        sa.Column("outcome_uuid", sa.String(_LEN), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(_LEN), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("completed_date", sa.String(10), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=True),
        _when("pulled_at"),
        sa.PrimaryKeyConstraint("id", name="pk_progress_history"),
    )
    op.create_index(
        "ix_progress_history_candidate_uuid_level_unit_uuid_outcome_uuid",
        "progress_history",
        ["candidate_uuid", "level", "unit_uuid", "outcome_uuid"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_progress_history_candidate_uuid_level_unit_uuid_outcome_uuid",
        table_name="progress_history",
    )
    op.drop_table("progress_history")
    op.drop_table("progress_learners")
