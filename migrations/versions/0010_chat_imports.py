"""Chat imports: which transcript (by a fingerprint of its messages) became which conversation, and whether
its memories were all written.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

Why: `import-chat` run again on the same file imported a second copy, and an import killed midway left its
memory half written with nothing to finish it. The row is written in the same transaction as the
conversation and its messages; `completed_at` is set once every chunk is stored. A rerun (or any later
`import-chat`) finds an incomplete row and finishes that import from the memory watermark; a complete one
is reported as already imported. Deleting the conversation deletes the row (a later import is new again).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_imports",
        sa.Column("persona_id", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column(
            "conversation_id", sa.String(36), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False, server_default=""),  # the file, as given
        # The speakers' names the memory text uses (the file's), so an import finished later writes alike.
        sa.Column("user_name", sa.String(200), nullable=False, server_default="User"),
        sa.Column("character_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_chat_imports_conversation_id", "chat_imports", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("chat_imports")
