"""Per message: the memories shown to the model before it, and the model server's figures for a reply;
per memory chunk: whether its memory cards are still to be made.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

- `recalled_memory_ids` (a user message): the JSON list of memories whose note was sent just before
  this message. The next turns send the same note at the same place, so the model server's cache of
  the conversation stays valid; a turn only adds memories the kept window does not already show.
- `generation` (a reply): the JSON of what the model server reported for it (prompt tokens evaluated,
  time to first token, tokens per second...), shown under the reply in the Chat tab. Numbers only.

- `memories.cards_pending`: card extraction needs the chat model, and on a server with one slot it would
  replace the conversation's cached prompt; so chunks are stored at once and their cards are made when
  the conversation is idle, or at the next start if the app stopped first. Existing chunks: done.

Plain ADD COLUMNs (see 0004: a batch copy would drop the table and cascade).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("recalled_memory_ids", sa.Text(), nullable=True))
    op.add_column("messages", sa.Column("generation", sa.Text(), nullable=True))
    op.add_column("memories", sa.Column("cards_pending", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_memories_cards_pending", "memories", ["cards_pending", "conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_memories_cards_pending", "memories")
    op.drop_column("memories", "cards_pending")
    op.drop_column("messages", "generation")
    op.drop_column("messages", "recalled_memory_ids")
