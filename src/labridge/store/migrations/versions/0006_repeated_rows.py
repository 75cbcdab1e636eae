"""Rows that repeat a learner already given earlier in the same input, with their problems.

The journal holds one row per learner and course, so a second source row for the same learner
and course (DUPLICATE_IN_INPUT, or a learner id reused for someone else on that course) has no
journal row of its own: without this table its problem was lost once the first row enrolled,
and the repeat run reported it as skipped. ``labridge enrolments --problems`` lists them.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEN = 255


def upgrade() -> None:
    op.create_table(
        "repeated_rows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(_LEN), nullable=False),
        sa.Column("course", sa.String(_LEN), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_repeated_rows"),
    )
    op.create_index("ix_repeated_rows_source_id_course", "repeated_rows", ["source_id", "course"])


def downgrade() -> None:
    op.drop_index("ix_repeated_rows_source_id_course", table_name="repeated_rows")
    op.drop_table("repeated_rows")
