"""answer counters on the participant row, so a save needs no COUNT queries

Existing participants get their counts from the responses they already have.

Revision ID: 0005_answer_counters
Revises: 0004_admin_sessions
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_answer_counters"
down_revision: str | Sequence[str] | None = "0004_admin_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("n_answered", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("n_catch_failed", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE participants SET "
        "n_answered = (SELECT COUNT(*) FROM responses r WHERE r.participant_id = participants.id), "
        "n_catch_failed = (SELECT COUNT(*) FROM responses r WHERE r.participant_id = participants.id "
        "AND r.catch AND NOT r.correct)"
    )


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("n_catch_failed")
        batch_op.drop_column("n_answered")
