"""Table definitions (SQLAlchemy Core) that the queries use; migrations/ alone creates them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

ROLES = ("human", "assistant", "system")
STATUSES = ("generating", "done", "error", "cancelled", "interrupted")
FINAL_STATUSES = ("done", "error", "cancelled", "interrupted")

metadata = MetaData()

# sqlite_autoincrement: ids are never reused after a delete. An assistant message points at its
# question by id (reply_to, no FK) and generations are keyed by message id, so a reused id would
# silently attach an old answer or event log to a new message.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(256), nullable=False),
    Column("title", String(500), nullable=True),
    # Unix seconds; BigInteger because a 32-bit column overflows in 2038.
    Column("timestamp", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # "Ask my documents": answers come from Nextcloud's context_chat (migration 0003).
    Column("context_chat", Boolean, nullable=False, server_default="0"),
    # The user named it: a generated title never replaces it (migration 0004).
    Column("title_manual", Boolean, nullable=False, server_default="0"),
    # Migration 0006. The first message of the branch shown (messages.active_child_id leads on from there).
    Column("active_root_id", Integer, nullable=True),
    # The conversation's options; NULL: the admin's default (core/presets.py checks them).
    Column("connection", String(64), nullable=True),
    Column("model", String(256), nullable=True),
    Column("system_prompt", Text, nullable=True),
    Column("temperature", Float, nullable=True),
    Column("max_tokens", Integer, nullable=True),
    Index("ix_sessions_user_id_timestamp", "user_id", "timestamp"),
    sqlite_autoincrement=True,
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False, server_default=""),
    Column("reasoning", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default="done"),
    Column("error", Text, nullable=True),
    Column("finish_reason", String(64), nullable=True),
    # No FK on purpose: deleting the question must not delete or break its answer.
    Column("reply_to", Integer, nullable=True),
    Column("model", String(256), nullable=True),
    # How the answer was made ("stream" or "taskprocessing") and the code it failed with (migration 0002):
    # a replay from the database must say exactly what the live stream said.
    Column("engine", String(32), nullable=True),
    Column("error_code", String(64), nullable=True),
    # How long the model reasoned before its first word, and how long a rate limit asked to wait (0004).
    Column("thinking_ms", Integer, nullable=True),
    Column("retry_after", Integer, nullable=True),
    # Migration 0006: messages form a tree. parent_id is the message before this one on its branch (NULL: the
    # first), active_child_id the child the shown branch continues with. No FKs: store/tree.py keeps both
    # consistent when a message is deleted, and a dangling id only ends a walk early.
    Column("parent_id", Integer, nullable=True),
    Column("active_child_id", Integer, nullable=True),
    Column("connection", String(64), nullable=True),  # the connection whose model wrote this answer
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("total_tokens", Integer, nullable=True),
    Column("tokens_per_second", Float, nullable=True),
    # The token counts are an estimate (core/estimate.py): the provider reported no usage (migration 0005).
    Column("usage_estimated", Boolean, nullable=False, server_default="0"),
    Column("ocp_task_id", BigInteger, nullable=True),
    Column("sources", Text, nullable=False, server_default="[]"),
    Column("attachments", Text, nullable=False, server_default="[]"),
    Column("timestamp", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_messages_session_id_id", "session_id", "id"),
    Index("ix_messages_status", "status"),
    Index("ix_messages_session_id_reply_to", "session_id", "reply_to"),
    Index("ix_messages_session_id_parent_id", "session_id", "parent_id"),
    sqlite_autoincrement=True,
)

# Files attached to a human message (migration 0003): the text extracted from a document, or an image's
# bytes for vision models. Rows exist from the moment a file is attached; message_id is set when sent.
attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(256), nullable=False),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    Column("source", String(16), nullable=False),  # "files" (read from Nextcloud) or "upload"
    Column("file_id", BigInteger, nullable=True),  # Nextcloud's file id, for the link to Files
    Column("path", Text, nullable=True),
    Column("name", String(255), nullable=False),
    Column("mime", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # "text" or "image"
    Column("size", BigInteger, nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Column("data", LargeBinary, nullable=True),
    Column("chars", Integer, nullable=False, server_default="0"),
    Column("truncated", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_attachments_message_id", "message_id"),
    Index("ix_attachments_user_id_created_at", "user_id", "created_at"),
    sqlite_autoincrement=True,
)

# Token usage per user, model and day (migration 0005), and per group the user was in when it was used. Written
# in the transaction that saves the answer's end; budgets sum a period's rows, the admin page plots them.
_USAGE_COLUMNS = (
    ("prompt_tokens", BigInteger), ("completion_tokens", BigInteger),
    ("answers", Integer),  # answers and titles counted
    ("estimated", Integer),  # ... of which the provider reported no usage: their tokens are estimates
)


def _usage_table(name: str, owner: str) -> Table:
    return Table(
        name, metadata,
        Column(owner, String(256), primary_key=True),
        Column("day", String(10), primary_key=True),  # YYYY-MM-DD in budget_timezone
        Column("model", String(256), primary_key=True),
        *(Column(col, kind, nullable=False, server_default="0") for col, kind in _USAGE_COLUMNS),
        Index(f"ix_{name}_day", "day"),
    )


usage = _usage_table("usage", "user_id")
group_usage = _usage_table("group_usage", "group_id")
USAGE_SUMS = tuple(col for col, _kind in _USAGE_COLUMNS)

# Every change an admin made to settings or budgets: who, what, when; secrets only as "changed" (0005).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),  # the admin's user id, or "occ / Nextcloud settings"
    Column("action", String(64), nullable=False),
    Column("key", String(128), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Index("ix_audit_log_at", "at"),
    sqlite_autoincrement=True,
)

# The settings as the audit last saw them (a fingerprint per key, never a secret's value), so that a change made
# outside the app (occ, Nextcloud's form) is logged once, by whichever process reads it first (0005).
settings_seen = Table(
    "settings_seen",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("value", Text, nullable=True),
)

# What a message's ``attachments`` JSON (its chips) and the attach routes show of an attachment.
ATTACHMENT_FIELDS = ("id", "name", "kind", "mime", "size", "source", "file_id", "path", "chars", "truncated")
# A user's own presets (migration 0006); the admin's shared ones live in the app config.
presets = Table(
    "presets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(256), nullable=False),
    Column("name", String(100), nullable=False),
    Column("system_prompt", Text, nullable=True),
    Column("temperature", Float, nullable=True),
    Column("max_tokens", Integer, nullable=True),
    Column("connection", String(64), nullable=True),
    Column("model", String(256), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_presets_user_id", "user_id"),
    sqlite_autoincrement=True,
)

SESSION_FIELDS = ("id", "user_id", "title", "timestamp", "updated_at", "context_chat", "title_manual", "connection",
                  "model")
OPTION_FIELDS = ("connection", "model", "system_prompt", "temperature", "max_tokens")
PRESET_FIELDS = ("id", "name", *OPTION_FIELDS)
MESSAGE_FIELDS = (
    "id", "session_id", "role", "content", "timestamp", "ocp_task_id", "sources", "attachments",
    "reasoning", "status", "error", "finish_reason", "reply_to", "model", "prompt_tokens",
    "completion_tokens", "total_tokens", "tokens_per_second", "updated_at", "engine", "error_code",
    "thinking_ms", "retry_after", "usage_estimated", "parent_id", "connection",
)
