"""Files attached to messages (their extracted text, or an image's bytes), and the per-conversation
"Ask my documents" switch."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        # NULL until the message it was attached for is sent.
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("file_id", sa.BigInteger, nullable=True),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mime", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("data", sa.LargeBinary, nullable=True),
        sa.Column("chars", sa.Integer, nullable=False, server_default="0"),
        sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_attachments_message_id", "attachments", ["message_id"])
    op.create_index("ix_attachments_user_id_created_at", "attachments", ["user_id", "created_at"])
    # A plain ADD COLUMN, never batch mode: on SQLite batch mode may copy the table, which drops
    # AUTOINCREMENT (ids would be reused) and, with foreign keys on, cascades the drop to every message.
    op.add_column("sessions", sa.Column("context_chat", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("sessions", "context_chat")  # SQLite >= 3.35
    op.drop_table("attachments")
