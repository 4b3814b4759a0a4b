"""The scene_members table (SQLModel). The schema itself is owned by the Alembic migrations (0009)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class SceneMember(SQLModel, table=True):
    """One stay of a character in a scene: it witnessed the messages after `joined_after` (None: from the
    start) up to and including `left_after` (None: it is still there). Message ids are time-ordered."""

    __tablename__ = "scene_members"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversations.id", ondelete="CASCADE", index=True, max_length=36)
    persona_id: str = Field(index=True, max_length=200)
    joined_after: str | None = Field(default=None, max_length=36)
    left_after: str | None = Field(default=None, max_length=36)
