"""screen calibration and fullscreen exits per participant, measured on-screen time per trial

Revision ID: 0007_screen_calibration
Revises: 0006_prolific_ledger
Create Date: 2026-11-26 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_screen_calibration"
down_revision: str | Sequence[str] | None = "0006_prolific_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calibration", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("fullscreen_exits", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shown_ms", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("shown_ms")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("fullscreen_exits")
        batch_op.drop_column("calibration")
