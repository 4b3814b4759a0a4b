"""Memory lines: each line of a multi-line memory (a chunk's messages) with a vector of its own.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Why: recall scores a chunk by its best-matching message as well as whole, and returns the matching
messages rather than the whole excerpt, so a prompt's budget holds more separate moments
(bench/bench_memory_eval.py). The line vectors are the ones the write path already computes (it
averages them into the memory's vector); storing them costs no extra embedding.

- `memory_lines`: per memory of two or more lines, one row per line: `key` (memories.key), `line`
  (0-based among the text's non-empty lines), `message_id` (the source message that line is, for a
  chunk whose lines match its sources one to one; NULL otherwise) and `vector`: 384 int8, the unit
  vector scaled so its largest component is 127 (1/4 of a float vector; cosine to within ~1e-3).
  Clustered by (key, line): recall reads the lines of a few hundred candidates by key. The index on
  message_id finds the line of a message (a card's words lead to the moment it came from).
- Single-line memories (cards, most lore) have no rows: their memory vector is their line vector.
- `ix_memories_created_at`: recall finds the memories dated in a time the query names ("in March") by
  created_at; without an index that read every memory (35 ms at 100k).
- The delete trigger removes a memory's lines with it. Memories stored before this revision get their
  lines in the background (MemoryService.index_lines); until then each counts as one line.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FTS_DELETE = "DELETE FROM memories_fts WHERE rowid = old.key;"
VECTOR_DELETES = "DELETE FROM memory_embeddings WHERE key = old.key; DELETE FROM memory_bits WHERE key = old.key;"
LINES_DELETE = "DELETE FROM memory_lines WHERE key = old.key;"


def _delete_trigger(extra: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS memories_after_delete")
    op.execute(
        f"CREATE TRIGGER memories_after_delete AFTER DELETE ON memories BEGIN {FTS_DELETE} {VECTOR_DELETES} {extra} END"
    )


def upgrade() -> None:
    op.execute(
        "CREATE TABLE memory_lines (key INTEGER NOT NULL, line INTEGER NOT NULL, message_id TEXT, "
        "vector BLOB NOT NULL, PRIMARY KEY (key, line)) WITHOUT ROWID"
    )
    op.execute("CREATE INDEX memory_lines_message ON memory_lines(message_id) WHERE message_id IS NOT NULL")
    op.create_index("ix_memories_created_at", "memories", ["created_at"])
    _delete_trigger(LINES_DELETE)


def downgrade() -> None:
    _delete_trigger("")
    op.drop_index("ix_memories_created_at", "memories")
    op.execute("DROP TABLE memory_lines")
