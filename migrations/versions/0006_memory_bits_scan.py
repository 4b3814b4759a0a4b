"""Memory sign bits in a plain table scanned in one pass, instead of a vec0 KNN.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Why (measured with sqlite-vec 0.1.9 on 2 shared cores, bench/bench_memory.py's 1M store, one
persona's view = 280k memories): the Hamming top-N of a vec0 bit[384] table costs O(rows * N)
(18 ms for N=64, 32 ms for 128, 66 ms for 256, 150 ms for 512), so 0005 could only re-score 64-128
candidates per owner, and sign bits ranked the exact top 8 outside those often (recall@8 0.55 at
1M). `ORDER BY vec_distance_hamming(...) LIMIT N` over a plain table costs the same ~30 ms for any
N up to thousands (SQLite keeps only the best N while it scans), so knn() now re-scores sqrt(memories)
candidates exactly (1000 at 1M) in about the same time.

- `memory_bits` becomes a WITHOUT ROWID table clustered by (owner, kind, key): one persona's recall
  reads only its own and the user-global rows, in order, ~70 bytes each; a kind-filtered search
  (card dedupe) reads only that kind's. The bits are the same 48-byte vec_quantize_binary() of the
  float vector; a unique index on `key` serves deletes.
- The delete trigger deletes by `key` (the vec0 table's `rowid` is gone).
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EMBEDDING_DIM = 384
OWNER_SQL = "CASE WHEN m.scope = 'profile' THEN '*' ELSE m.persona_id END"
FTS_DELETE = "DELETE FROM memories_fts WHERE rowid = old.key;"
EMBEDDING_DELETE = "DELETE FROM memory_embeddings WHERE key = old.key;"


def _delete_trigger(bits_delete: str) -> None:
    """The trigger that deletes a memory's FTS5 entry and both its vector rows with it."""
    op.execute("DROP TRIGGER IF EXISTS memories_after_delete")
    op.execute(
        "CREATE TRIGGER memories_after_delete AFTER DELETE ON memories "
        f"BEGIN {FTS_DELETE} {EMBEDDING_DELETE} {bits_delete} END"
    )


def upgrade() -> None:
    op.execute("DROP TABLE memory_bits")
    op.execute(
        "CREATE TABLE memory_bits (owner TEXT NOT NULL, kind TEXT NOT NULL, key INTEGER NOT NULL, "
        "bits BLOB NOT NULL, PRIMARY KEY (owner, kind, key)) WITHOUT ROWID"
    )
    # Quantized again from the exact vectors (the source of truth), in primary-key order: a compact b-tree.
    op.execute(
        "INSERT INTO memory_bits(owner, kind, key, bits) "
        f"SELECT {OWNER_SQL}, m.kind, e.key, vec_quantize_binary(e.embedding) "
        "FROM memory_embeddings e JOIN memories m ON m.key = e.key ORDER BY 1, 2, 3"
    )
    op.execute("CREATE UNIQUE INDEX memory_bits_key ON memory_bits(key)")
    _delete_trigger("DELETE FROM memory_bits WHERE key = old.key;")


def downgrade() -> None:
    op.execute("DROP TABLE memory_bits")
    op.execute(
        f"CREATE VIRTUAL TABLE memory_bits USING vec0("
        f"embedding bit[{EMBEDDING_DIM}], owner text partition key, kind text)"
    )
    # No ORDER BY: a sorter drops the SQLite subtype that tells vec0 the value is a bit vector.
    op.execute(
        "INSERT INTO memory_bits(rowid, embedding, owner, kind) "
        f"SELECT e.key, vec_quantize_binary(e.embedding), {OWNER_SQL}, m.kind "
        "FROM memory_embeddings e JOIN memories m ON m.key = e.key"
    )
    _delete_trigger("DELETE FROM memory_bits WHERE rowid = old.key;")
