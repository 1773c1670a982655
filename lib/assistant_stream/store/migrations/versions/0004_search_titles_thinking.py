"""Search over titles and message text with the database's own full-text index; titles the user gave
are kept; how long a model thought before answering."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# SQLite: FTS5 tables over the existing columns (external content: no second copy of the text), kept up
# to date by triggers. unicode61 with remove_diacritics 2: "cafe" finds "café".
SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE sessions_fts USING fts5(title, content='sessions', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content); "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER sessions_fts_insert AFTER INSERT ON sessions BEGIN "
    "INSERT INTO sessions_fts(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER sessions_fts_delete AFTER DELETE ON sessions BEGIN "
    "INSERT INTO sessions_fts(sessions_fts, rowid, title) VALUES ('delete', old.id, old.title); END",
    "CREATE TRIGGER sessions_fts_update AFTER UPDATE OF title ON sessions BEGIN "
    "INSERT INTO sessions_fts(sessions_fts, rowid, title) VALUES ('delete', old.id, old.title); "
    "INSERT INTO sessions_fts(rowid, title) VALUES (new.id, new.title); END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
    "INSERT INTO sessions_fts(sessions_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    *(f"DROP TRIGGER IF EXISTS {table}_fts_{change}"
      for table in ("messages", "sessions") for change in ("insert", "delete", "update")),
    "DROP TABLE IF EXISTS messages_fts",
    "DROP TABLE IF EXISTS sessions_fts",
]
# PostgreSQL: GIN indexes on the 'simple' configuration (no stemming: users write in any language);
# the queries use the same expressions, so the planner uses them.
POSTGRES_UP = [
    "CREATE INDEX ix_messages_fts ON messages USING gin (to_tsvector('simple', coalesce(content, '')))",
    "CREATE INDEX ix_sessions_fts ON sessions USING gin (to_tsvector('simple', coalesce(title, '')))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_messages_fts", "DROP INDEX IF EXISTS ix_sessions_fts"]


def upgrade() -> None:
    # Plain ADD COLUMN, never batch mode (see 0003: batch mode may copy the table on SQLite).
    op.add_column("sessions", sa.Column("title_manual", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("messages", sa.Column("thinking_ms", sa.Integer, nullable=True))
    op.add_column("messages", sa.Column("retry_after", sa.Integer, nullable=True))
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UP if sqlite else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_column("messages", "retry_after")
    op.drop_column("messages", "thinking_ms")
    op.drop_column("sessions", "title_manual")
