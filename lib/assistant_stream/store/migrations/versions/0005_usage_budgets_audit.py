"""Usage per user / group, model and day; the estimate flag on answers; the admin audit log."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _usage(name: str, owner: str) -> None:
    op.create_table(
        name,
        sa.Column(owner, sa.String(256), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("model", sa.String(256), primary_key=True),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("answers", sa.Integer, nullable=False, server_default="0"),
        sa.Column("estimated", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index(f"ix_{name}_day", name, ["day"])


def upgrade() -> None:
    _usage("usage", "user_id")
    _usage("group_usage", "group_id")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "settings_seen",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
    )
    # A plain ADD COLUMN (never batch mode: on SQLite it would copy messages, see 0003).
    op.add_column("messages", sa.Column("usage_estimated", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("messages", "usage_estimated")
    for table in ("settings_seen", "audit_log", "group_usage", "usage"):
        op.drop_table(table)
