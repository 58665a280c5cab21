"""per-trial frame counts, the trial page's display measurement; started studies keep calibration "card"

Revision ID: 0008_trial_timing
Revises: 0007_screen_calibration
Create Date: 2026-12-05 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_trial_timing"
down_revision: str | Sequence[str] | None = "0007_screen_calibration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display", sa.JSON(), nullable=True))
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frames_requested", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("frames_shown", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("frames_dropped", sa.Integer(), nullable=True))
    # The calibration default became card+blindspot. A study that people have already taken keeps the
    # design it ran with (calibration is fixed once people take part): the old default is written into
    # its settings explicitly.
    studies = sa.table("studies", sa.column("id", sa.Integer), sa.column("config", sa.JSON))
    participants = sa.table("participants", sa.column("study_id", sa.Integer))
    conn = op.get_bind()
    started = {row[0] for row in conn.execute(sa.select(participants.c.study_id).distinct())}
    for study_id, config in conn.execute(sa.select(studies.c.id, studies.c.config)).all():
        if study_id not in started:
            continue
        kept = {"calibration": "card", **(config or {})}
        if kept != (config or {}):
            conn.execute(studies.update().where(studies.c.id == study_id).values(config=kept))


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("frames_dropped")
        batch_op.drop_column("frames_shown")
        batch_op.drop_column("frames_requested")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("display")
