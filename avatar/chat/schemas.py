"""What one turn reports as it goes."""

from __future__ import annotations

from pydantic import BaseModel

from avatar.conversations.schemas import MessageStatus
from avatar.llm.stats import GenerationStats


class TurnUpdate(BaseModel):
    conversation_id: str
    reply: str = ""  # the reply so far
    done: bool = False
    status: MessageStatus | None = None  # how the saved reply ended; None if nothing was saved
    reply_message_id: str | None = None
    user_message_id: str | None = None
    error: str | None = None  # a message for the user when the model failed
    generation: GenerationStats | None = None  # the last update: what the model server reported for the reply
    emotion: str | None = None  # the saved reply's expression label (the last update), None if unknown
    speaker_id: str | None = None  # in a scene: the character saying this reply
