"""one participant per (study, recruiter, external id)

Databases from earlier versions may already hold duplicates (simultaneous entries raced). They are
kept, not deleted: every duplicate but the earliest gets its external id suffixed with "#dup<row id>",
so the constraint can be created and the rows stay visible in exports and reviews.

Revision ID: 0003_unique_entry
Revises: 0002_mturk
Create Date: 2026-11-26 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_unique_entry"
down_revision: str | Sequence[str] | None = "0002_mturk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rename_duplicates() -> None:
    conn = op.get_bind()
    participants = sa.table(
        "participants",
        sa.column("id", sa.Integer),
        sa.column("study_id", sa.Integer),
        sa.column("recruiter", sa.String),
        sa.column("external_id", sa.String),
    )
    rows = conn.execute(
        sa.select(
            participants.c.id, participants.c.study_id, participants.c.recruiter, participants.c.external_id
        )
        .where(participants.c.external_id.is_not(None))
        .order_by(participants.c.id)
    ).all()
    seen: set[tuple[int, str, str]] = set()
    for row_id, study_id, recruiter, external_id in rows:
        key = (study_id, recruiter, external_id)
        if key not in seen:
            seen.add(key)
            continue
        conn.execute(
            participants.update()
            .where(participants.c.id == row_id)
            .values(external_id=f"{external_id}#dup{row_id}"[:128])
        )


def upgrade() -> None:
    _rename_duplicates()
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_participants_study_id_recruiter_external_id"),
            ["study_id", "recruiter", "external_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_participants_study_id_recruiter_external_id"), type_="unique")
