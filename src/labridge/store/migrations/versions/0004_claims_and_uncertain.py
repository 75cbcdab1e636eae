"""Exactly once in the real world: claims on journal rows, uncertain sends, LA's duplicates.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEN = 255


def upgrade() -> None:
    with op.batch_alter_table("enrolments") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(36), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("uncertain_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("update_sent", sa.Text(), nullable=True))
    op.create_table(
        "la_duplicates",
        sa.Column("candidate_uuid", sa.String(_LEN), nullable=False),
        sa.Column("source_id", sa.String(_LEN), nullable=False),
        sa.Column("course_uuid", sa.String(_LEN), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("candidate_uuid", name="pk_la_duplicates"),
    )
    op.create_index(
        "ix_la_duplicates_source_id_course_uuid", "la_duplicates", ["source_id", "course_uuid"]
    )


def downgrade() -> None:
    op.drop_index("ix_la_duplicates_source_id_course_uuid", table_name="la_duplicates")
    op.drop_table("la_duplicates")
    with op.batch_alter_table("enrolments") as batch:
        batch.drop_column("update_sent")
        batch.drop_column("uncertain_since")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
