"""Scene data as the rest of the app sees it."""

from __future__ import annotations

from pydantic import BaseModel


class Stay(BaseModel):
    """A character's time in a scene: the messages after `joined_after` up to `left_after` (None: open;
    message ids are time-ordered). memory.schemas.Witness is the same with what memory needs."""

    persona_id: str
    joined_after: str | None = None
    left_after: str | None = None


class SceneOut(BaseModel):
    conversation_id: str
    title: str
    world_id: str | None
    members: list[str]  # who is in the scene now, in the order they came
    stays: list[Stay]  # every stay, past ones too (memory: who witnessed what)
    memory_enabled: bool = True
