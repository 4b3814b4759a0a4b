"""The memory tables (SQLModel). The schema, with the vector and FTS5 tables, is owned by migrations 0003 and 0005."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from avatar.core.ids import new_id, utcnow

# Fixed by the vector tables (migrations 0005, 0006); an embedding model of another size needs a new migration.
EMBEDDING_DIM = 384
# The `owner` in memory_bits of user-global memories; persona ids cannot be "*" (see PERSONA_ID_PATTERN).
PROFILE_OWNER = "*"
# The `owner` of a world's memories is this prefix and the world's id (persona ids cannot hold ":").
WORLD_OWNER_PREFIX = "world:"


def world_owner(world_id: str) -> str:
    return WORLD_OWNER_PREFIX + world_id


class Memory(SQLModel, table=True):
    __tablename__ = "memories"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    # The key of this memory in memory_embeddings and memory_bits, and its rowid in memories_fts (FTS5).
    key: int = Field(unique=True)
    kind: str = Field(max_length=16)  # MemoryKind
    scope: str = Field(max_length=16)  # MemoryScope
    persona_id: str | None = Field(default=None, max_length=200, index=True)  # None for profile and world memories
    world_id: str | None = Field(default=None, max_length=36, index=True)  # a world's lore (scope "world")
    # Where it was learned; no foreign key: a memory may outlive its conversation.
    conversation_id: str | None = Field(default=None, max_length=36, index=True)
    text: str
    card_type: str | None = Field(default=None, max_length=16)  # CardType, cards only
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    source_message_ids: str = "[]"  # JSON list of message ids
    reason: str = ""  # why it was stored, shown in the Memory tab
    importance: float = 0.5  # 0..1
    pinned: bool = False
    last_recalled_at: datetime | None = None
    recall_count: int = 0
    # A chunk whose memory cards are still to be made (they wait for an idle moment of the model server).
    cards_pending: bool = False


class MemoryProgress(SQLModel, table=True):
    """Per conversation, the newest message already considered for memory."""

    __tablename__ = "memory_progress"

    conversation_id: str = Field(primary_key=True, max_length=36, foreign_key="conversations.id", ondelete="CASCADE")
    last_message_id: str = Field(max_length=36)
    updated_at: datetime = Field(default_factory=utcnow)


class MemoryMeta(SQLModel, table=True):
    __tablename__ = "memory_meta"

    name: str = Field(primary_key=True, max_length=64)
    value: str
