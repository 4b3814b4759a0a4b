"""Scenes (several characters in one conversation) and worlds (a name, a description, a lorebook).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

- `worlds`: a world's name, description and lorebook (`book`: the SillyTavern World Info JSON as it was
  imported, so that export gives it back unchanged; avatar/worlds/worldinfo.py reads it).
- `conversations.kind` ('chat' | 'scene') and `conversations.world_id` (a scene's world, if any; no foreign
  key: deleting a world leaves its scenes, without a world). A scene's `persona_id` is its first character.
- `scene_members`: who is in a scene, one row per stay: a character witnessed the messages after
  `joined_after` (NULL: from the start) up to `left_after` (NULL: still there). Memory follows it.
- `messages.speaker_id`: in a scene, the character who said a reply (NULL in a one-character chat: its
  persona). `messages.speaker_notes`: in a scene, the note shown to each speaker just before this
  message, as JSON {persona id: [memory ids]} (a one-character chat keeps using recalled_memory_ids).
- `memories.world_id` and scope 'world': a world's lore. SQLite cannot alter a CHECK constraint, so
  `memories` is rebuilt as in 0005 (same columns and keys: the vector and FTS5 rows stay valid), and the
  triggers are recreated with the world's owner token ('world:<id>', which no persona id can be); the
  delete trigger still removes a memory's lines (0009) with it.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD_SCOPE_CHECK = "(scope = 'profile' AND persona_id IS NULL) OR (scope = 'persona' AND persona_id IS NOT NULL)"
NEW_SCOPE_CHECK = (
    "(scope = 'profile' AND persona_id IS NULL AND world_id IS NULL) "
    "OR (scope = 'persona' AND persona_id IS NOT NULL AND world_id IS NULL) "
    "OR (scope = 'world' AND world_id IS NOT NULL AND persona_id IS NULL)"
)
OLD_OWNER_SQL = "CASE WHEN {row}.scope = 'profile' THEN 'oprofile0' ELSE 'o' || lower(hex({row}.persona_id)) || '0' END"
NEW_OWNER_SQL = (
    "CASE WHEN {row}.scope = 'profile' THEN 'oprofile0' "
    "WHEN {row}.scope = 'world' THEN 'o' || lower(hex('world:' || {row}.world_id)) || '0' "
    "ELSE 'o' || lower(hex({row}.persona_id)) || '0' END"
)
TRIGGERS = ("memories_after_insert", "memories_after_delete", "memories_after_update_text")
VECTOR_DELETES = (
    "DELETE FROM memory_embeddings WHERE key = old.key; DELETE FROM memory_bits WHERE key = old.key; "
    "DELETE FROM memory_lines WHERE key = old.key;"
)


def _rebuild_memories(old_check: str, new_check: str) -> None:
    """Recreate `memories` with another scope CHECK: same DDL otherwise, same rows, same indexes."""
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
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    new_sql = re.sub(
        r'^CREATE TABLE "?memories"?', "CREATE TABLE memories_new", table_sql.replace(old_check, new_check)
    )
    op.execute(new_sql)
    op.execute("INSERT INTO memories_new SELECT * FROM memories")
    op.execute("DROP TABLE memories")
    op.execute("ALTER TABLE memories_new RENAME TO memories")
    for sql in index_sql:
        op.execute(sql)


def _create_triggers(owner_sql: str) -> None:
    fts_insert = (
        f"INSERT INTO memories_fts(rowid, text, owner) VALUES (new.key, new.text, {owner_sql.format(row='new')});"
    )
    fts_delete = "DELETE FROM memories_fts WHERE rowid = old.key;"
    op.execute(f"CREATE TRIGGER memories_after_insert AFTER INSERT ON memories BEGIN {fts_insert} END")
    op.execute(f"CREATE TRIGGER memories_after_delete AFTER DELETE ON memories BEGIN {fts_delete} {VECTOR_DELETES} END")
    op.execute(
        f"CREATE TRIGGER memories_after_update_text AFTER UPDATE OF text ON memories BEGIN {fts_delete} {fts_insert} END"
    )


def upgrade() -> None:
    op.create_table(
        "worlds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("book", sa.Text(), nullable=False, server_default='{"entries": {}}'),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.add_column("conversations", sa.Column("kind", sa.String(16), nullable=False, server_default="chat"))
    op.add_column("conversations", sa.Column("world_id", sa.String(36), nullable=True))
    op.create_table(
        "scene_members",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("persona_id", sa.String(200), nullable=False),
        sa.Column("joined_after", sa.String(36), nullable=True),
        sa.Column("left_after", sa.String(36), nullable=True),
    )
    op.create_index("ix_scene_members_conversation_id", "scene_members", ["conversation_id"])
    op.create_index("ix_scene_members_persona_id", "scene_members", ["persona_id"])
    op.add_column("messages", sa.Column("speaker_id", sa.String(200), nullable=True))
    op.add_column("messages", sa.Column("speaker_notes", sa.Text(), nullable=True))

    op.add_column("memories", sa.Column("world_id", sa.String(36), nullable=True))
    _rebuild_memories(OLD_SCOPE_CHECK, NEW_SCOPE_CHECK)
    op.create_index("ix_memories_world_id", "memories", ["world_id"])
    _create_triggers(NEW_OWNER_SQL)


def downgrade() -> None:
    op.execute("DELETE FROM memories WHERE scope = 'world'")
    op.drop_index("ix_memories_world_id", "memories")
    _rebuild_memories(NEW_SCOPE_CHECK, OLD_SCOPE_CHECK)
    _create_triggers(OLD_OWNER_SQL)
    op.drop_column("memories", "world_id")
    op.drop_column("messages", "speaker_notes")
    op.drop_column("messages", "speaker_id")
    op.drop_index("ix_scene_members_persona_id", "scene_members")
    op.drop_index("ix_scene_members_conversation_id", "scene_members")
    op.drop_table("scene_members")
    op.drop_column("conversations", "world_id")
    op.drop_column("conversations", "kind")
    op.drop_table("worlds")
