"""consent nonce and cross-browser resume per participant, known admin addresses, rate-limit hits

Revision ID: 0009_integrity
Revises: 0008_trial_timing
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_integrity"
down_revision: str | Sequence[str] | None = "0008_trial_timing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_hits")),
    )
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limit_hits_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_rate_limit_hits_at"), ["at"], unique=False)
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_nonce", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("resume_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_participants_study_id_consent_nonce"), ["study_id", "consent_nonce"]
        )
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("known_addresses", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.drop_column("known_addresses")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_participants_study_id_consent_nonce"), type_="unique")
        batch_op.drop_column("resume_until")
        batch_op.drop_column("consent_nonce")
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_hits_at"))
        batch_op.drop_index(batch_op.f("ix_rate_limit_hits_address"))
    op.drop_table("rate_limit_hits")
