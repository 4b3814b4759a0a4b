"""Memory vectors for fast recall: binary-quantized KNN partitioned by owner, float vectors for re-scoring; 'lore' memories.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Why (measured with sqlite-vec 0.1.9 on 2 cores, 100k memories): a float[384] vec0 KNN reads
1.5 KB per memory (~30 ms at 100k, linear beyond), its `owner IN (...)` metadata filter made it
slower still, and reading back one vector by rowid from vec0 costs ~90 us. So:

- `memory_bits`: vec0 `bit[384]` (48 bytes a memory: the sign of each dimension), `owner` as a
  PARTITION KEY (recall only scans the asking persona's and the user-global partitions) and
  `kind` as metadata. A Hamming KNN here over-fetches candidates (repository.knn); note that vec0
  returns k rows per partition named in `owner IN (...)`, and that its top-k costs O(rows * k).
- `memory_embeddings`: a plain table of the exact float32 vectors (rowid = memories.key). The
  candidates are re-scored by exact cosine against these, in one primary-key lookup each.
  It is also what dedupe, time-frame ranking and re-embedding read.
- `memory_vectors` (float vec0, migration 0003) is dropped once copied: a third copy of every
  vector would only cost disk.
- `memories_fts` gets an `owner` column (one token per owner, see OWNER_TOKEN_SQL) so keyword
  recall filters by owner inside FTS5 instead of joining every match to `memories` (that join
  cost more than the BM25 itself), and becomes contentless-delete (nothing reads the text back
  from it; deletes no longer need the old text). The vocabulary table is recreated with it.
- `memories.kind` may now be 'lore': a Character Card lorebook entry stored as a pinned memory of
  its persona. SQLite cannot alter a CHECK constraint, so `memories` is rebuilt (same columns,
  same keys, so the FTS5 index stays valid) and its indexes and triggers are recreated.

The triggers now delete a memory's rows in both vector tables with the memory.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EMBEDDING_DIM = 384
OLD_KIND_CHECK = "kind IN ('card', 'chunk')"
NEW_KIND_CHECK = "kind IN ('card', 'chunk', 'lore')"

# A memory's owner as one FTS5 token: 'oprofile0' for user-global memories, else 'o' + hex(persona id)
# + '0' (persona ids hold '-' and '_', which the tokenizer splits on; ending in a digit, no Porter
# rule changes it). repository.owner_token() makes the same token in Python.
OWNER_TOKEN_SQL = (
    "CASE WHEN {row}.scope = 'profile' THEN 'oprofile0' ELSE 'o' || lower(hex({row}.persona_id)) || '0' END"
)
FTS_INSERT = (
    "INSERT INTO memories_fts(rowid, text, owner) VALUES (new.key, new.text, "
    + OWNER_TOKEN_SQL.format(row="new")
    + ");"
)
FTS_DELETE = "DELETE FROM memories_fts WHERE rowid = old.key;"
OLD_FTS_INSERT = "INSERT INTO memories_fts(rowid, text) VALUES (new.key, new.text);"
OLD_FTS_DELETE = "INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.key, old.text);"
TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"


def _rebuild_memories(old_check: str, new_check: str) -> None:
    """Recreate `memories` with another kind CHECK: same DDL otherwise, same rows, same indexes."""
    bind = op.get_bind()
    table_sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'memories'")
    ).scalar()
    if table_sql is None or old_check not in table_sql:
        raise RuntimeError(f"unexpected memories table, {old_check!r} not found: {table_sql!r}")
    index_sql = [
        row[0]
        for row in bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'memories' AND sql IS NOT NULL")
        )
    ]
    for trigger in ("memories_after_insert", "memories_after_delete", "memories_after_update_text"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    # After an ALTER TABLE RENAME, SQLite stores the name quoted: CREATE TABLE "memories".
    new_sql = re.sub(
        r'^CREATE TABLE "?memories"?', "CREATE TABLE memories_new", table_sql.replace(old_check, new_check)
    )
    op.execute(new_sql)
    op.execute("INSERT INTO memories_new SELECT * FROM memories")
    op.execute("DROP TABLE memories")
    op.execute("ALTER TABLE memories_new RENAME TO memories")
    for sql in index_sql:
        op.execute(sql)


def _create_triggers(fts_insert: str, fts_delete: str, vector_deletes: str) -> None:
    op.execute(f"CREATE TRIGGER memories_after_insert AFTER INSERT ON memories BEGIN {fts_insert} END")
    op.execute(f"CREATE TRIGGER memories_after_delete AFTER DELETE ON memories BEGIN {fts_delete} {vector_deletes} END")
    op.execute(
        f"CREATE TRIGGER memories_after_update_text AFTER UPDATE OF text ON memories BEGIN {fts_delete} {fts_insert} END"
    )


def _recreate_fts(definition: str, fill: str) -> None:
    op.execute("DROP TABLE IF EXISTS memories_fts_vocab")
    op.execute("DROP TABLE IF EXISTS memories_fts")
    op.execute(f"CREATE VIRTUAL TABLE memories_fts USING fts5({definition}, {TOKENIZE})")
    op.execute(fill)
    op.execute("CREATE VIRTUAL TABLE memories_fts_vocab USING fts5vocab(memories_fts, row)")


def upgrade() -> None:
    _rebuild_memories(OLD_KIND_CHECK, NEW_KIND_CHECK)
    op.execute("CREATE TABLE memory_embeddings (key INTEGER PRIMARY KEY, embedding BLOB NOT NULL)")
    op.execute(
        f"CREATE VIRTUAL TABLE memory_bits USING vec0("
        f"embedding bit[{EMBEDDING_DIM}], owner text partition key, kind text)"
    )
    op.execute("INSERT INTO memory_embeddings(key, embedding) SELECT rowid, embedding FROM memory_vectors")
    # No ORDER BY here: a sorter drops the SQLite subtype that tells vec0 the value is a bit vector.
    op.execute(
        "INSERT INTO memory_bits(rowid, embedding, owner, kind) "
        "SELECT rowid, vec_quantize_binary(embedding), owner, kind FROM memory_vectors"
    )
    op.execute("DROP TABLE memory_vectors")
    _recreate_fts(
        "text, owner, content='', contentless_delete=1",
        "INSERT INTO memories_fts(rowid, text, owner) "
        f"SELECT key, text, {OWNER_TOKEN_SQL.format(row='memories')} FROM memories",
    )
    _create_triggers(
        FTS_INSERT,
        FTS_DELETE,
        "DELETE FROM memory_embeddings WHERE key = old.key; DELETE FROM memory_bits WHERE rowid = old.key;",
    )


def downgrade() -> None:
    # Lore memories cannot exist before this revision; the card still holds them.
    op.execute("DELETE FROM memories WHERE kind = 'lore'")
    op.execute(
        f"CREATE VIRTUAL TABLE memory_vectors USING vec0("
        f"embedding float[{EMBEDDING_DIM}] distance_metric=cosine, owner text, kind text)"
    )
    op.execute(
        "INSERT INTO memory_vectors(rowid, embedding, owner, kind) "
        "SELECT e.key, e.embedding, CASE WHEN m.scope = 'profile' THEN '*' ELSE m.persona_id END, m.kind "
        "FROM memory_embeddings e JOIN memories m ON m.key = e.key"
    )
    op.execute("DROP TABLE memory_bits")
    op.execute("DROP TABLE memory_embeddings")
    _rebuild_memories(NEW_KIND_CHECK, OLD_KIND_CHECK)
    _recreate_fts(
        "text, content='memories', content_rowid='key'", "INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')"
    )
    _create_triggers(OLD_FTS_INSERT, OLD_FTS_DELETE, "DELETE FROM memory_vectors WHERE rowid = old.key;")
