"""The conversation tables (SQLModel). The schema itself is owned by the Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from avatar.core.ids import new_id, utcnow


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    persona_id: str = Field(index=True, max_length=200)
    title: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    # Off: this conversation neither recalls memories nor adds to them (the Chat tab's switch).
    memory_enabled: bool = True
    kind: str = Field(default="chat", max_length=16)  # "chat" (one character) | "scene" (avatar/scenes)
    world_id: str | None = Field(default=None, max_length=36)  # a scene's world; no foreign key: it may go


class Message(SQLModel, table=True):
    __tablename__ = "messages"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    conversation_id: str = Field(foreign_key="conversations.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=16)
    content: str
    status: str = Field(default="complete", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    model: str | None = Field(default=None, max_length=200)
    # JSON: the memories whose note was sent just before this (user) message, in that order.
    recalled_memory_ids: str | None = None
    # The character's mood line sent just before this (user) message, when it had changed (see chat/notes.py).
    state_note: str | None = None
    # JSON: the model server's figures for this reply (llm.stats.GenerationStats), numbers only.
    generation: str | None = None
    # The reply's expression label (avatar/expressions), set once the reply is saved; None for the user's.
    emotion: str | None = Field(default=None, max_length=32)
    # In a scene: the character who said this reply (None in a one-character chat: its persona).
    speaker_id: str | None = Field(default=None, max_length=200)
    # In a scene: JSON {persona id: [memory ids]}, the note each speaker was shown just before this message.
    speaker_notes: str | None = None
