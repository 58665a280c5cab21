"""Admin security: server-side admin sessions, the login-failure log for throttling, password reset time

Revision ID: 0004_admin_sessions
Revises: 0003_unique_entry
Create Date: 2026-11-26 10:02:11.412337
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_admin_sessions"
down_revision: str | Sequence[str] | None = "0003_unique_entry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_login_failures")),
    )
    with op.batch_alter_table("admin_login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_login_failures_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_login_failures_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_login_failures_username"), ["username"], unique=False)

    op.create_table(
        "admin_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["admin_users.id"],
            name=op.f("fk_admin_sessions_user_id_admin_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_admin_sessions_token_hash")),
    )
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_sessions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.drop_column("password_changed_at")

    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_sessions_user_id"))

    op.drop_table("admin_sessions")
    with op.batch_alter_table("admin_login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_login_failures_username"))
        batch_op.drop_index(batch_op.f("ix_admin_login_failures_at"))
        batch_op.drop_index(batch_op.f("ix_admin_login_failures_address"))

    op.drop_table("admin_login_failures")
