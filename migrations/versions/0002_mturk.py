"""MTurk recruiter tables: the HITs created per study and the payment ledger

Revision ID: 0002_mturk
Revises: 0001_initial
Create Date: 2026-11-24 14:12:48.584874
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_mturk"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mturk_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("hit_id", sa.String(length=64), nullable=False),
        sa.Column("hit_type_id", sa.String(length=64), nullable=True),
        sa.Column("request_token", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("endpoint_url", sa.String(length=200), nullable=False),
        sa.Column("reward", sa.String(length=16), nullable=False),
        sa.Column("max_assignments", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_mturk_hits_study_id_studies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mturk_hits")),
        sa.UniqueConstraint("hit_id", name=op.f("uq_mturk_hits_hit_id")),
    )
    with op.batch_alter_table("mturk_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mturk_hits_study_id"), ["study_id"], unique=False)

    op.create_table(
        "mturk_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=True),
        sa.Column("assignment_id", sa.String(length=64), nullable=True),
        sa.Column("hit_id", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("fee", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("request_token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_mturk_ledger_participant_id_participants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_mturk_ledger_study_id_studies"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mturk_ledger")),
        sa.UniqueConstraint("action", "request_token", name=op.f("uq_mturk_ledger_action_request_token")),
    )
    with op.batch_alter_table("mturk_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mturk_ledger_participant_id"), ["participant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mturk_ledger_study_id"), ["study_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mturk_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mturk_ledger_study_id"))
        batch_op.drop_index(batch_op.f("ix_mturk_ledger_participant_id"))

    op.drop_table("mturk_ledger")
    with op.batch_alter_table("mturk_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mturk_hits_study_id"))

    op.drop_table("mturk_hits")
