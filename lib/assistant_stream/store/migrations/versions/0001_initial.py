"""Initial schema: sessions and messages."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Spelled out rather than imported from models.py: a migration must keep describing the schema
    # as it was at this revision, whatever models.py becomes later.
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("title", sa.String(500), nullable=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sessions_user_id_timestamp", "sessions", ["user_id", "timestamp"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False, server_default=""),
        sa.Column("reasoning", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="done"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("finish_reason", sa.String(64), nullable=True),
        sa.Column("reply_to", sa.Integer, nullable=True),
        sa.Column("model", sa.String(256), nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("total_tokens", sa.Integer, nullable=True),
        sa.Column("tokens_per_second", sa.Float, nullable=True),
        sa.Column("ocp_task_id", sa.BigInteger, nullable=True),
        sa.Column("sources", sa.Text, nullable=False, server_default="[]"),
        sa.Column("attachments", sa.Text, nullable=False, server_default="[]"),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_messages_session_id_id", "messages", ["session_id", "id"])
    op.create_index("ix_messages_status", "messages", ["status"])
    op.create_index("ix_messages_session_id_reply_to", "messages", ["session_id", "reply_to"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("sessions")
