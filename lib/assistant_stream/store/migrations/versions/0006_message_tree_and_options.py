"""Messages form a tree (versions), conversations have options (model, system prompt...), users have presets.

Existing conversations become one branch each, exactly the list 1.0 showed: every message's parent is the message
before it (by id) in its session, and that branch is the active one. Nothing is dropped or reordered, including
answers that 1.0 regenerated (the old one deleted, the new one later in the list) and what was left around a
deleted message.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never batch mode: on SQLite batch mode may copy a table, which drops AUTOINCREMENT (ids
    # would be reused) and, with foreign keys on, cascades the drop of sessions to every message (see 0003).
    for column in (sa.Column("parent_id", sa.Integer, nullable=True),
                   sa.Column("active_child_id", sa.Integer, nullable=True),
                   sa.Column("connection", sa.String(64), nullable=True)):
        op.add_column("messages", column)
    op.create_index("ix_messages_session_id_parent_id", "messages", ["session_id", "parent_id"])
    for column in (sa.Column("active_root_id", sa.Integer, nullable=True),
                   sa.Column("connection", sa.String(64), nullable=True),
                   sa.Column("model", sa.String(256), nullable=True),
                   sa.Column("system_prompt", sa.Text, nullable=True),
                   sa.Column("temperature", sa.Float, nullable=True),
                   sa.Column("max_tokens", sa.Integer, nullable=True)):
        op.add_column("sessions", column)
    op.create_table(
        "presets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("system_prompt", sa.Text, nullable=True),
        sa.Column("temperature", sa.Float, nullable=True),
        sa.Column("max_tokens", sa.Integer, nullable=True),
        sa.Column("connection", sa.String(64), nullable=True),
        sa.Column("model", sa.String(256), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_presets_user_id", "presets", ["user_id"])
    # One branch per conversation, in id order (correlated subqueries: the same SQL on SQLite and PostgreSQL,
    # each served by ix_messages_session_id_id).
    op.execute("UPDATE messages SET parent_id = (SELECT MAX(p.id) FROM messages p "
               "WHERE p.session_id = messages.session_id AND p.id < messages.id)")
    op.execute("UPDATE messages SET active_child_id = (SELECT MIN(c.id) FROM messages c "
               "WHERE c.session_id = messages.session_id AND c.id > messages.id)")
    op.execute("UPDATE sessions SET active_root_id = (SELECT MIN(m.id) FROM messages m "
               "WHERE m.session_id = sessions.id)")
    # Streamed answers of 1.0 came from the one provider there was, which is now the connection "default".
    op.execute("UPDATE messages SET connection = 'default' WHERE role = 'assistant' AND engine = 'stream'")


def downgrade() -> None:
    op.drop_table("presets")
    for column in ("max_tokens", "temperature", "system_prompt", "model", "connection", "active_root_id"):
        op.drop_column("sessions", column)  # SQLite >= 3.35
    op.drop_index("ix_messages_session_id_parent_id", "messages")
    for column in ("connection", "active_child_id", "parent_id"):
        op.drop_column("messages", column)
