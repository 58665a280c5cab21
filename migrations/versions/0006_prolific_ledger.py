"""the payment ledger serves Prolific too: a platform column and the bulk bonus payment id

Revision ID: 0006_prolific_ledger
Revises: 0005_answer_counters
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_prolific_ledger"
down_revision: str | Sequence[str] | None = "0005_answer_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mturk_ledger", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("platform", sa.String(length=16), server_default="mturk", nullable=False)
        )
        batch_op.add_column(sa.Column("batch_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mturk_ledger", schema=None) as batch_op:
        batch_op.drop_column("batch_id")
        batch_op.drop_column("platform")
