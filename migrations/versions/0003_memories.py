"""Long-term memory: the memories table, its vectors (sqlite-vec vec0) and its text index (FTS5).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Layout (see avatar/memory/models.py for the meaning of each column):

- `memories`: one row per memory, UUIDv7 `id`, plus an integer `key` that is the rowid of the
  memory in both virtual tables (vec0 and FTS5 need integer rowids; a TEXT primary key table's own
  rowid is not stable across VACUUM, so it gets its own column).
- `memory_vectors`: vec0, 384-d float32, cosine distance (vectors are L2-normalised, so cosine and
  L2 rank alike). `owner` ('*' = user-global profile, else the persona id) and `kind` are vec0
  metadata columns, so the KNN filters *before* taking the k nearest. The dimension is fixed at 384
  (bge-small-en-v1.5 and all-MiniLM-L6-v2 both produce 384); a model of another size needs a new
  migration that recreates this table and re-embeds.
  Scaling note: at ~1M memories brute-force float32 KNN costs ~1.5 GB of reads per query. The plan
  then is a sibling `vec0(embedding bit[384])` (or int8[384]) table with the same rowids for a coarse
  KNN of k*10 candidates, rescored against these float vectors; repository.knn() is the only reader.
- `memories_fts`: FTS5 over `memories.text`, external content (no second copy of the text), kept in
  sync by the triggers below, so any writer, including a bulk DELETE from another feature, keeps
  the index right. The delete trigger also removes the vector: deleting a memory row is enough.
  `memories_fts_vocab` (fts5vocab) exposes per-term document counts to the recall query planner.
- `memory_progress`: per conversation, the newest message already turned into memory, so a
  conversation is never chunked twice (and messages seen while memory was off stay unseen).
- `memory_meta`: name/value pairs; `embedding_model` records which model made the vectors.

Beware: an Alembic batch_alter_table on `memories` copies the table and drops these triggers; a
migration that does so must recreate them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EMBEDDING_DIM = 384  # fixed; see the docstring


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key", sa.Integer(), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("persona_id", sa.String(200), nullable=True),
        sa.Column("conversation_id", sa.String(36), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("card_type", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("source_message_ids", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("importance", sa.Float(), nullable=False, server_default="0.5"),
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_recalled_at", sa.DateTime(), nullable=True),
        sa.Column("recall_count", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("kind IN ('card', 'chunk')", name="ck_memories_kind"),
        sa.CheckConstraint(
            "(scope = 'profile' AND persona_id IS NULL) OR (scope = 'persona' AND persona_id IS NOT NULL)",
            name="ck_memories_scope",
        ),
        sa.CheckConstraint(
            "card_type IS NULL OR card_type IN ('fact', 'preference', 'event', 'relationship', 'self')",
            name="ck_memories_card_type",
        ),
    )
    op.create_index("ix_memories_persona_id", "memories", ["persona_id"])
    op.create_index("ix_memories_conversation_id", "memories", ["conversation_id"])
    op.create_index("ix_memories_scope_kind", "memories", ["scope", "kind"])
    # Recall reads the pinned memories on every turn; a partial index keeps that a tiny lookup.
    op.create_index("ix_memories_pinned", "memories", ["pinned"], sqlite_where=sa.text("pinned = 1"))

    op.execute(
        f"CREATE VIRTUAL TABLE memory_vectors USING vec0("
        f"embedding float[{EMBEDDING_DIM}] distance_metric=cosine, owner text, kind text)"
    )
    op.execute(
        "CREATE VIRTUAL TABLE memories_fts USING fts5("
        "text, content='memories', content_rowid='key', tokenize='porter unicode61 remove_diacritics 2')"
    )
    # Per-term document counts: recall leaves out terms in most memories (costly to rank, ~0 BM25 weight).
    op.execute("CREATE VIRTUAL TABLE memories_fts_vocab USING fts5vocab(memories_fts, row)")
    op.execute(
        "CREATE TRIGGER memories_after_insert AFTER INSERT ON memories BEGIN "
        "INSERT INTO memories_fts(rowid, text) VALUES (new.key, new.text); END"
    )
    op.execute(
        "CREATE TRIGGER memories_after_delete AFTER DELETE ON memories BEGIN "
        "INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.key, old.text); "
        "DELETE FROM memory_vectors WHERE rowid = old.key; END"
    )
    op.execute(
        "CREATE TRIGGER memories_after_update_text AFTER UPDATE OF text ON memories BEGIN "
        "INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.key, old.text); "
        "INSERT INTO memories_fts(rowid, text) VALUES (new.key, new.text); END"
    )

    op.create_table(
        "memory_progress",
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("last_message_id", sa.String(36), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "memory_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("memory_meta")
    op.drop_table("memory_progress")
    op.execute("DROP TRIGGER IF EXISTS memories_after_update_text")
    op.execute("DROP TRIGGER IF EXISTS memories_after_delete")
    op.execute("DROP TRIGGER IF EXISTS memories_after_insert")
    op.execute("DROP TABLE IF EXISTS memories_fts_vocab")
    op.execute("DROP TABLE IF EXISTS memories_fts")
    op.execute("DROP TABLE IF EXISTS memory_vectors")
    op.drop_table("memories")
