"""Per-conversation memory switch: a conversation with memory off neither recalls nor stores memories.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

A plain ADD COLUMN, not batch_alter_table: a batch copy would DROP the conversations table, and
with foreign keys on that cascades into messages and memory_progress.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("memory_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    op.drop_column("conversations", "memory_enabled")
