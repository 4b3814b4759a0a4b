"""Conversation data as the rest of the app sees it."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, field_validator

from avatar.llm.stats import GenerationStats


class Role(str, Enum):
    user = "user"
    assistant = "assistant"


class MessageStatus(str, Enum):
    complete = "complete"
    partial = "partial"  # stopped by the user (Stop) before the model finished
    interrupted = "interrupted"  # the user talked over a spoken reply; what they heard is saved
    error = "error"  # the model failed mid-reply; what arrived is kept


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    conversation_id: str
    role: Role
    content: str
    status: MessageStatus
    created_at: datetime
    model: str | None = None
    recalled_memory_ids: list[str] = []
    state_note: str | None = None
    generation: GenerationStats | None = None

    @field_validator("recalled_memory_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value or []

    @field_validator("generation", mode="before")
    @classmethod
    def _generation(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    emotion: str | None = None
    speaker_id: str | None = None  # in a scene: who said this reply (None: the conversation's persona)
    speaker_notes: dict[str, list[str]] = {}  # in a scene: the memories each speaker was shown before it

    @field_validator("speaker_notes", mode="before")
    @classmethod
    def _notes(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value or {}


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    persona_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    memory_enabled: bool = True
    kind: str = "chat"  # "scene": several characters (avatar/scenes)
    world_id: str | None = None

    @property
    def is_scene(self) -> bool:
        return self.kind == "scene"
