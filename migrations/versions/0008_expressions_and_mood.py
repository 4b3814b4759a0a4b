"""Expressions: each reply's emotion label, and each conversation's mood and affinity.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

- `messages.emotion`: one of SillyTavern's 28 expression labels, set after the reply is saved (NULL for
  user messages, greetings and replies from before this revision). A plain ADD COLUMN (see 0004).
- `messages.state_note`: the mood line sent just before this user message, when the mood had changed since
  the line the kept window last showed; later turns send it in place, like the memory notes (see 0007).
- `conversation_moods`: the character's state in one conversation (avatar/expressions/mood.py): mood as a
  point on the valence/arousal plane, affinity toward the user (0-100), the label that moved it last.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("emotion", sa.String(length=32), nullable=True))
    op.add_column("messages", sa.Column("state_note", sa.Text(), nullable=True))
    op.create_table(
        "conversation_moods",
        sa.Column(
            "conversation_id",
            sa.String(length=36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("valence", sa.Float(), nullable=False),
        sa.Column("arousal", sa.Float(), nullable=False),
        sa.Column("affinity", sa.Float(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("exchanges", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversation_moods")
    op.drop_column("messages", "state_note")
    op.drop_column("messages", "emotion")
