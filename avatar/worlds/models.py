"""The worlds table (SQLModel). The schema itself is owned by the Alembic migrations (0009)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from avatar.core.ids import new_id, utcnow


class World(SQLModel, table=True):
    __tablename__ = "worlds"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=120)
    description: str = ""
    # The lorebook as SillyTavern's World Info JSON, kept as imported so that export gives it back unchanged.
    book: str = '{"entries": {}}'
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
