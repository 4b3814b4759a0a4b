"""Memory data as the rest of the app sees it."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MemoryPolicy = Literal["off", "strict", "permissive"]


class MemoryKind(str, Enum):
    card = "card"  # a distilled statement ("The user has a dog named Biscuit.")
    chunk = "chunk"  # a raw excerpt of 3-6 consecutive messages
    lore = "lore"  # an entry of the persona's Character Card lorebook (service.sync_lore)


class MemoryScope(str, Enum):
    profile = "profile"  # about the user, recalled by every persona
    persona = "persona"  # episodic, recalled only by the persona it belongs to
    world = "world"  # a world's lore, recalled by the characters of a scene set in that world


class CardType(str, Enum):
    fact = "fact"
    preference = "preference"
    event = "event"
    relationship = "relationship"
    self = "self"  # something the persona said about itself, kept for consistency


class MemoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: MemoryKind
    scope: MemoryScope
    persona_id: str | None
    conversation_id: str | None
    text: str
    world_id: str | None = None
    card_type: CardType | None
    created_at: datetime
    updated_at: datetime
    source_message_ids: list[str]
    reason: str
    importance: float
    pinned: bool
    last_recalled_at: datetime | None
    recall_count: int

    @field_validator("source_message_ids", mode="before")
    @classmethod
    def _decode_ids(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


class SourceMessage(BaseModel):
    id: str
    conversation_id: str
    role: str
    content: str
    created_at: datetime
    speaker_id: str | None = None  # in a scene: who said it


class RecalledMemory(BaseModel):
    memory: MemoryOut
    score: float  # fused and boosted; only comparable within one recall
    similarity: float | None = None  # cosine similarity to the query, when the vector search found it
    vector_rank: int | None = None  # 1-based
    keyword_rank: int | None = None  # 1-based, FTS5 BM25
    time_rank: int | None = None  # 1-based, among memories dated in the time the query names ("last week")
    # The lines of the memory's text that matched (0-based; empty: all of it), and their text ("…" between
    # lines that are not next to each other; "" when all of it).
    lines: list[int] = Field(default_factory=list)
    excerpt: str = ""
    source_ids: list[str] = Field(default_factory=list)  # the messages those lines are
    sources: list[SourceMessage] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """What was recalled: the matching lines, or the whole memory."""
        return self.excerpt or self.memory.text


class Witness(BaseModel):
    """In a scene: a character that was there from after message `joined_after` (None: the start) up to
    `left_after` (None: still there), and what it remembers of it (its name and memory policy)."""

    persona_id: str
    name: str
    policy: MemoryPolicy
    joined_after: str | None = None
    left_after: str | None = None

    def saw(self, message_id: str) -> bool:
        after_join = self.joined_after is None or message_id > self.joined_after
        return after_join and (self.left_after is None or message_id <= self.left_after)


class WriteReport(BaseModel):
    """What one memory write did (logged; tests read it)."""

    conversation_id: str
    chunks_added: int = 0
    cards_added: int = 0
    cards_updated: int = 0
    cards_skipped: int = 0  # rejected by the filter, or distillation gave nothing usable
    messages_seen: int = 0
    redactions: int = 0
