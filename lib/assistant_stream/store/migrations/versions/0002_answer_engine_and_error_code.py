"""Answers remember their engine and error code, so a replay from the database matches the live stream."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("engine", sa.String(32), nullable=True))
        batch.add_column(sa.Column("error_code", sa.String(64), nullable=True))
    # Before 0002 only the model told the engines apart: TaskProcessing answers were stored as "nextcloud".
    # The error code of an old failed answer is not known; it stays NULL (replayed as generation_failed).
    op.execute("UPDATE messages SET engine = CASE WHEN model = 'nextcloud' THEN 'taskprocessing' "
               "ELSE 'stream' END WHERE role = 'assistant'")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("error_code")
        batch.drop_column("engine")
